"""The loaded GlmForCausalLM computes what ChatGLM2 computes.

The reference below is written in plain torch from ChatGLM2's architecture, reading the
checkpoint's original tensors: RMSNorm, a fused query_key_value with bias split
[heads*d | groups*d | groups*d], multi-query attention where head h reads group h // (heads/groups),
rotary on the first half of each head with interleaved pairs (2i, 2i+1), a causal mask, SwiGLU
(silu of the first half times the second), and an untied output layer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from chatglm2_checkpoint import make_tiny_chatglm2, read_original_state

from rag.llm.chatglm2 import estimate_memory, glm_config, inspect_checkpoint, load_chatglm2
from rag.llm.chatglm2.checkpoint import parameter_counts
from rag.llm.chatglm2.weights import map_tensor

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "models" / "chatglm2-6b"
TEXT = "[Round 1]\n\n问：量子计算机在接近绝对零度的环境中运行吗？Answer in English.\n\n答："


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def _rotary(x: torch.Tensor, angles: torch.Tensor, interleaved: bool) -> torch.Tensor:
    """x: [T, heads, d]; angles: [T, rot/2]. Rotates the first ``rot`` channels of each head."""
    rot = angles.shape[-1] * 2
    part, rest = x[..., :rot], x[..., rot:]
    cos, sin = angles.cos()[:, None, :], angles.sin()[:, None, :]
    if interleaved:
        x0, x1 = part[..., 0::2], part[..., 1::2]
        turned = torch.stack([x0 * cos - x1 * sin, x1 * cos + x0 * sin], dim=-1).flatten(-2)
    else:  # the GPT-NeoX "rotate half" layout, which ChatGLM2 does not use
        x0, x1 = part[..., : rot // 2], part[..., rot // 2 :]
        turned = torch.cat([x0 * cos - x1 * sin, x1 * cos + x0 * sin], dim=-1)
    return torch.cat([turned, rest], dim=-1)


def reference_logits(
    state: dict[str, Any],
    config: dict[str, Any],
    ids: list[int],
    *,
    interleaved: bool = True,
    block_groups: bool = True,
    ratio_scales_base: bool = False,
) -> torch.Tensor:
    """Logits [T, vocab] of ChatGLM2 for ``ids``, from the original tensors, in float32."""
    heads, groups, d = config["num_attention_heads"], config["multi_query_group_num"], config["kv_channels"]
    eps, ratio = config["layernorm_epsilon"], float(config.get("rope_ratio", 1))
    n = len(ids)
    rot = d // 2
    base = 10000.0 * (ratio if ratio_scales_base else 1.0)
    positions = torch.arange(n, dtype=torch.float32) / (1.0 if ratio_scales_base else ratio)
    angles = torch.outer(positions, 1.0 / base ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot))
    group_of_head = [h // (heads // groups) if block_groups else h % groups for h in range(heads)]
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    x = state["transformer.embedding.word_embeddings.weight"][ids]
    for layer in range(config["num_layers"]):
        p = f"transformer.encoder.layers.{layer}."
        h = _rms(x, state[p + "input_layernorm.weight"], eps)
        qkv = h @ state[p + "self_attention.query_key_value.weight"].T
        qkv = qkv + state[p + "self_attention.query_key_value.bias"]
        q, k, v = qkv.split([heads * d, groups * d, groups * d], dim=-1)
        q = _rotary(q.view(n, heads, d), angles, interleaved)
        k = _rotary(k.view(n, groups, d), angles, interleaved)[:, group_of_head]
        v = v.view(n, groups, d)[:, group_of_head]
        scores = torch.einsum("qhd,khd->hqk", q, k) / d**0.5
        weights = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        attended = torch.einsum("hqk,khd->qhd", weights, v).reshape(n, heads * d)
        x = x + attended @ state[p + "self_attention.dense.weight"].T
        h = _rms(x, state[p + "post_attention_layernorm.weight"], eps)
        gate, up = (h @ state[p + "mlp.dense_h_to_4h.weight"].T).chunk(2, dim=-1)
        x = x + (torch.nn.functional.silu(gate) * up) @ state[p + "mlp.dense_4h_to_h.weight"].T
    x = _rms(x, state["transformer.encoder.final_layernorm.weight"], eps)
    return x @ state["transformer.output_layer.weight"].T


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any, dict[str, Any]]:
    directory = make_tiny_chatglm2(tmp_path_factory.mktemp("tiny") / "chatglm2")
    model, tokenizer = load_chatglm2(directory, device="cpu", dtype=torch.float32)
    return directory, model, tokenizer, read_original_state(directory)


def _config(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "config.json").read_text(encoding="utf-8"))


def test_logits_match_the_plain_torch_reference(tiny: tuple) -> None:
    directory, model, tokenizer, state = tiny
    ids = tokenizer.build_chat_ids("量子计算机在接近绝对零度的环境中运行吗？", [("hi", "Hello!")])
    assert len(ids) > 30
    with torch.no_grad():
        ours = model(input_ids=torch.tensor([ids])).logits[0]
    expected = reference_logits(state, _config(directory), ids)
    diff = (ours - expected).abs().max().item()
    print(f"tiny ChatGLM2 logits max-abs-diff vs reference: {diff:.2e}")
    assert expected.abs().max() > 1.0  # the comparison is not between two near-zero tensors
    assert diff < 1e-4
    # The reference is sensitive to exactly the layout choices the mapping has to get right.
    for wrong in ({"interleaved": False}, {"block_groups": False}):
        assert (reference_logits(state, _config(directory), ids, **wrong) - expected).abs().max() > 1e-2


def test_kv_cached_decoding_matches_the_reference_rows(tiny: tuple) -> None:
    directory, model, tokenizer, state = tiny
    ids = tokenizer.encode(TEXT)
    expected = reference_logits(state, _config(directory), ids)
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids[:-3]]), use_cache=True)
        steps = []
        for token in ids[-3:]:
            out = model(input_ids=torch.tensor([[token]]), past_key_values=out.past_key_values, use_cache=True)
            steps.append(out.logits[0, -1])
    assert (torch.stack(steps) - expected[-3:]).abs().max() < 1e-4


def test_32k_rope_ratio_interpolates_positions(tmp_path: Path) -> None:
    directory = make_tiny_chatglm2(tmp_path / "chatglm2-32k", rope_ratio=16, seq_length=2048)
    assert inspect_checkpoint(directory).name == "ChatGLM2-6B-32K"
    model, tokenizer = load_chatglm2(directory, device="cpu", dtype="float32")
    state, config = read_original_state(directory), _config(directory)
    ids = tokenizer.encode(TEXT * 2)
    with torch.no_grad():
        ours = model(input_ids=torch.tensor([ids])).logits[0]
    expected = reference_logits(state, config, ids)
    assert (ours - expected).abs().max() < 1e-4
    assert (reference_logits(state, config, ids, ratio_scales_base=True) - expected).abs().max() > 1e-2


def test_default_cpu_load_is_bfloat16_with_every_tensor_materialised(tiny: tuple) -> None:
    directory, reference_model, tokenizer, _ = tiny
    model, _ = load_chatglm2(directory, device="cpu")
    assert type(model).__name__ == "GlmForCausalLM"
    assert model.dtype == torch.bfloat16 and str(model.device) == "cpu"
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()  # untied
    ids = tokenizer.encode(TEXT)
    with torch.no_grad():
        low = model(input_ids=torch.tensor([ids])).logits[0].float()
        full = reference_model(input_ids=torch.tensor([ids])).logits[0]
    assert (low - full).abs().max() < 0.25 and (low.argmax(-1) == full.argmax(-1)).float().mean() > 0.9


def test_single_safetensors_file_loads_the_same_weights(tiny: tuple, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    directory, reference_model, tokenizer, _ = tiny
    copy = tmp_path / "st"
    copy.mkdir()
    for name in ("config.json", "tokenizer.model"):
        (copy / name).write_bytes((directory / name).read_bytes())
    state = {k: v.half().contiguous() for k, v in read_original_state(directory).items()}
    save_file(state, str(copy / "model.safetensors"))
    model, _ = load_chatglm2(copy, device="cpu", dtype="float32")
    ids = torch.tensor([tokenizer.encode(TEXT)])
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, reference_model(input_ids=ids).logits)


def test_the_real_checkpoint_index_maps_onto_glm_exactly() -> None:
    info = inspect_checkpoint(REAL_DIR)
    assert info.name == "ChatGLM2-6B" and info.seq_length == 32768
    config = info.config
    with torch.device("meta"):
        from transformers import GlmForCausalLM

        model = GlmForCausalLM(glm_config(config))
    expected = {name: tuple(p.shape) for name, p in model.named_parameters()}
    index = json.loads((REAL_DIR / "pytorch_model.bin.index.json").read_text(encoding="utf-8"))
    rows = (config["num_attention_heads"] + 2 * config["multi_query_group_num"]) * config["kv_channels"]
    mapped: dict[str, tuple[int, ...]] = {}
    for name in index["weight_map"]:
        shape = (rows, config["hidden_size"]) if name.endswith("query_key_value.weight") else (rows,)
        for target, piece in map_tensor(name, torch.empty(shape, device="meta"), config):
            mapped[target] = tuple(piece.shape)
    assert set(mapped) == set(expected)
    assert mapped["model.layers.27.self_attn.q_proj.weight"] == expected["model.layers.27.self_attn.q_proj.weight"]
    assert expected["model.layers.0.self_attn.k_proj.weight"] == (256, 4096)
    linear, other = parameter_counts(config)
    inv_freq_bytes = 32 * 2
    assert 2 * (linear + other) + inv_freq_bytes == index["metadata"]["total_size"]
    assert round(estimate_memory(config, torch.float32).weights / 1e9) == 25
    assert round(estimate_memory(config, torch.bfloat16).weights / 1e9, 1) == 12.5
