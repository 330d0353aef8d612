"""Read ChatGLM2's weight shards one at a time and place them into a GlmForCausalLM built on meta.

Memory stays near one copy of the weights: the model starts with no storage (meta device), each
shard is read (memory-mapped where the format allows), renamed, split, cast and handed to
``place``, then dropped before the next one. No pickle code runs: torch.load(weights_only=True).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.llm.base import LLMUnavailable

_LAYER = re.compile(r"^transformer\.encoder\.layers\.(\d+)\.(.+)$")
_LAYER_NAMES = {
    "input_layernorm.weight": "input_layernorm.weight",
    "post_attention_layernorm.weight": "post_attention_layernorm.weight",
    "self_attention.dense.weight": "self_attn.o_proj.weight",
    "mlp.dense_h_to_4h.weight": "mlp.gate_up_proj.weight",
    "mlp.dense_4h_to_h.weight": "mlp.down_proj.weight",
}
_GLOBAL_NAMES = {
    "transformer.embedding.word_embeddings.weight": "model.embed_tokens.weight",
    "transformer.encoder.final_layernorm.weight": "model.norm.weight",
    "transformer.output_layer.weight": "lm_head.weight",
}
# Rebuilt from the config by GlmRotaryEmbedding; stored in the checkpoint only as a cache.
_DERIVED = {"transformer.rotary_pos_emb.inv_freq"}

Place = Callable[[str, Any], None]


def shard_paths(directory: Path) -> list[Path]:
    """The weight files in load order, checked to exist (an index's missing shards are named)."""
    for index_name in ("pytorch_model.bin.index.json", "model.safetensors.index.json"):
        index = directory / index_name
        if index.is_file():
            try:
                weight_map: dict[str, str] = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (ValueError, KeyError) as exc:
                raise LLMUnavailable(f"{index} is not a valid shard index ({exc})") from exc
            names = sorted(set(weight_map.values()))
            missing = [n for n in names if not (directory / n).is_file()]
            if missing:
                raise LLMUnavailable(
                    f"{directory} is missing weight shard(s) {', '.join(missing)} listed in {index_name}; "
                    "the download is incomplete"
                )
            return [directory / n for n in names]
    for single in ("model.safetensors", "pytorch_model.bin"):
        if (directory / single).is_file():
            return [directory / single]
    raise LLMUnavailable(f"{directory} has no weights (pytorch_model*.bin or model*.safetensors)")


def read_shard(path: Path) -> dict[str, Any]:
    """All tensors of one shard on the CPU; a truncated or corrupt file raises LLMUnavailable naming it."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)  # pre-zip format
    except Exception as exc:
        raise LLMUnavailable(
            f"weight shard {path.name} in {path.parent} cannot be read ({type(exc).__name__}: {exc}); "
            "it is truncated or corrupt: download it again"
        ) from exc


def map_tensor(name: str, tensor: Any, config: dict[str, Any]) -> list[tuple[str, Any]]:
    """GlmForCausalLM parameter name(s) and tensor(s) for one ChatGLM2 tensor ([] for derived caches).

    query_key_value is split into q/k/v by rows [heads*head_dim | groups*head_dim | groups*head_dim].
    """
    if name in _GLOBAL_NAMES:
        return [(_GLOBAL_NAMES[name], tensor)]
    if name in _DERIVED:
        return []
    match = _LAYER.match(name)
    if match:
        prefix, rest = f"model.layers.{match.group(1)}.", match.group(2)
        if rest in _LAYER_NAMES:
            return [(prefix + _LAYER_NAMES[rest], tensor)]
        if rest.startswith("self_attention.query_key_value."):
            kind = rest.rsplit(".", 1)[1]
            head_dim = config["kv_channels"]
            q = config["num_attention_heads"] * head_dim
            kv = config["multi_query_group_num"] * head_dim
            if tensor.shape[0] != q + 2 * kv:
                raise ValueError(f"{name} has {tensor.shape[0]} rows, expected {q + 2 * kv}")
            parts = tensor.split([q, kv, kv], dim=0)
            return [(f"{prefix}self_attn.{p}_proj.{kind}", t) for p, t in zip("qkv", parts, strict=True)]
    raise KeyError(name)


def load_into(
    model: Any,
    shards: list[Path],
    config: dict[str, Any],
    dtype: Any,
    place: Place,
    after_shard: Callable[[], None] | None = None,
) -> None:
    """Read every shard, map its tensors and call ``place(parameter_name, tensor)`` for each.

    ``after_shard`` runs once each shard is placed (quantization uses it to work layer by layer).

    Shapes are checked against the model's parameters; tensors the model does not know, and model
    parameters no shard provided, raise LLMUnavailable naming them.
    """
    expected = {name: tuple(p.shape) for name, p in model.named_parameters()}
    seen: set[str] = set()
    for shard in shards:
        state = read_shard(shard)
        for name in list(state):
            tensor = state.pop(name)
            try:
                pieces = map_tensor(name, tensor, config)
            except (KeyError, ValueError) as exc:
                raise LLMUnavailable(
                    f"weight shard {shard.name} holds {name}, which ChatGLM2-6B does not have ({exc}); "
                    "is this a ChatGLM2 checkpoint?"
                ) from exc
            for target, piece in pieces:
                if target not in expected or tuple(piece.shape) != expected[target]:
                    raise LLMUnavailable(
                        f"weight shard {shard.name}: {name} has shape {tuple(piece.shape)}, but config.json "
                        f"implies {expected.get(target)}; the shard and config.json do not belong together"
                    )
                place(target, piece.to(dtype) if piece.is_floating_point() else piece)
                seen.add(target)
        del state
        if after_shard is not None:
            after_shard()
    missing = sorted(set(expected) - seen)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise LLMUnavailable(
            f"the checkpoint in {shards[0].parent} lacks {shown}; a shard is incomplete or from another download"
        )


def set_parameter(model: Any, name: str, tensor: Any) -> None:
    """Replace the (meta) parameter ``name`` of ``model`` by ``tensor``, frozen for inference."""
    import torch

    module_name, _, leaf = name.rpartition(".")
    module = model.get_submodule(module_name)
    setattr(module, leaf, torch.nn.Parameter(tensor, requires_grad=False))
