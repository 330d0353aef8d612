"""Find a ChatGLM2 checkpoint, check that it is one, and describe it as a transformers GlmConfig.

Only ChatGLM2-6B and chatglm2-6b-32k are accepted. Their siblings share ``model_type: chatglm``
but not the architecture (ChatGLM-6B v1: 2D positions, GELU, LayerNorm) or the prompt format and
tokens (ChatGLM3: <|user|> roles), so they are refused with a message naming what they look like.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.llm.base import LLMUnavailable

SUPPORTED = "ChatGLM2-6B and chatglm2-6b-32k are supported"
CHATGLM2_VOCAB = 65024
_HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Read as text only, never imported: ChatGLM3's tokenization_chatglm.py lists its role tokens, ChatGLM2's does not.
_TOKENIZER_FILES = (
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.json",
    "tokenization_chatglm.py",
)
_CHATGLM3_TOKENS = ("<|user|>", "<|assistant|>", "<|system|>", "<|observation|>")


@dataclass(frozen=True)
class CheckpointInfo:
    """A checked ChatGLM2 folder and the facts read from its config.json."""

    directory: Path
    config: dict[str, Any]
    name: str

    @property
    def seq_length(self) -> int:
        """Context window the checkpoint declares (``seq_length``)."""
        return int(self.config.get("seq_length", 8192))


def hub_cache_dir() -> Path:
    """The local Hugging Face hub cache (honours HF_HUB_CACHE and HF_HOME via huggingface_hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def resolve_model_dir(path: str | Path, hub_cache: Path | None = None) -> Path:
    """A checkpoint folder from a folder path or a Hugging Face id already in the local cache.

    Nothing is downloaded. The cached snapshot named by ``refs/main`` wins, else the newest one.
    """
    given = Path(path).expanduser()
    if given.is_dir():
        return given
    text = str(path)
    if given.exists():
        raise LLMUnavailable(f"ChatGLM2 path {text} is a file; give the folder holding config.json and the weights")
    if not _HF_ID.match(text) or text.startswith((".", "~")):
        raise LLMUnavailable(f"ChatGLM2 path {text} does not exist")
    cache = hub_cache if hub_cache is not None else hub_cache_dir()
    repo = cache / f"models--{text.replace('/', '--')}"
    snapshots = repo / "snapshots"
    ref = repo / "refs" / "main"
    if ref.is_file() and (snapshots / ref.read_text().strip()).is_dir():
        return snapshots / ref.read_text().strip()
    candidates = sorted(
        (p for p in snapshots.glob("*") if (p / "config.json").is_file()), key=lambda p: p.stat().st_mtime
    )
    if candidates:
        return candidates[-1]
    raise LLMUnavailable(
        f"ChatGLM2 path {text} is neither a folder nor a model in the local Hugging Face cache ({cache}). "
        f"Nothing is downloaded at run time: fetch it once with `huggingface-cli download {text}` "
        "and point chatglm2_path at the folder or the id."
    )


def _looks_like(config: dict[str, Any], directory: Path) -> str | None:
    """Name of the ChatGLM relative this config belongs to, when it is not ChatGLM2."""
    name = str(config.get("_name_or_path", "")).lower()
    if (
        "inner_hidden_size" in config
        or "position_encoding_2d" in config
        or (config.get("model_type") == "chatglm" and "multi_query_attention" not in config)
    ):
        return "ChatGLM-6B (the first version: 2D positions, 130K-token vocabulary)"
    if "glm-4" in name or "glm4" in name or config.get("padded_vocab_size") == 151552:
        return "GLM-4-9B"
    if "chatglm3" in name:
        return "ChatGLM3-6B"
    for file in _TOKENIZER_FILES:
        text = (directory / file).read_text(errors="replace") if (directory / file).is_file() else ""
        if any(token in text for token in _CHATGLM3_TOKENS):
            return f"ChatGLM3-6B (its {file} declares the <|user|>/<|assistant|> role tokens)"
    return None


def inspect_checkpoint(path: str | Path, hub_cache: Path | None = None) -> CheckpointInfo:
    """Resolve ``path`` and check it holds a ChatGLM2 checkpoint we can load natively.

    Raises LLMUnavailable saying what is wrong: no folder, no config.json, another model, an
    unsupported variant (int4 packed weights, P-tuning prefix), or no tokenizer.model.
    """
    directory = resolve_model_dir(path, hub_cache)
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise LLMUnavailable(f"{directory} has no config.json: not a ChatGLM2 checkpoint folder")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise LLMUnavailable(f"{config_file} is not valid JSON ({exc})") from exc
    relative = _looks_like(config, directory)
    if relative:
        raise LLMUnavailable(f"{directory} looks like {relative}, not ChatGLM2. {SUPPORTED}.")
    if config.get("model_type") != "chatglm":
        raise LLMUnavailable(
            f"{directory} holds a {config.get('model_type', 'unknown')!r} model, not ChatGLM2. {SUPPORTED}."
        )
    unsupported = {
        "quantization_bit": "its weights are packed int4/int8 that only the remote code reads; "
        "use the float16 chatglm2-6b with chatglm2_quantization = '4bit' or '8bit' instead",
        "pre_seq_len": "it is a P-tuning v2 checkpoint (prefix encoder); merge or drop the prefix first",
    }
    for key, why in unsupported.items():
        if config.get(key):
            raise LLMUnavailable(f"{directory} cannot be loaded natively: {why}. {SUPPORTED}.")
    expected = {
        "rmsnorm": True,
        "add_bias_linear": False,
        "post_layer_norm": True,
        "apply_residual_connection_post_layernorm": False,
        "multi_query_attention": True,
    }
    wrong = {k: config.get(k) for k, v in expected.items() if config.get(k, v) != v}
    if wrong:
        raise LLMUnavailable(f"{directory} has a ChatGLM config with unsupported settings {wrong}. {SUPPORTED}.")
    if not (directory / "tokenizer.model").is_file():
        raise LLMUnavailable(f"{directory} has no tokenizer.model (ChatGLM2's SentencePiece model)")
    name = "ChatGLM2-6B-32K" if float(config.get("rope_ratio", 1) or 1) != 1 else "ChatGLM2-6B"
    return CheckpointInfo(directory=directory, config=config, name=name)


def glm_config(config: dict[str, Any]) -> Any:
    """The transformers GlmConfig equivalent to a ChatGLM2 config.json."""
    from transformers import GlmConfig

    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5}
    rope_ratio = float(config.get("rope_ratio", 1) or 1)
    if rope_ratio != 1:
        # chatglm2-6b-32k interpolates positions (position / rope_ratio); base-times-ratio is ChatGLM3's.
        rope.update(rope_type="linear", factor=rope_ratio)
    groups = config["multi_query_group_num"] if config.get("multi_query_attention") else config["num_attention_heads"]
    return GlmConfig(
        vocab_size=config["padded_vocab_size"],
        hidden_size=config["hidden_size"],
        intermediate_size=config["ffn_hidden_size"],
        num_hidden_layers=config["num_layers"],
        num_attention_heads=config["num_attention_heads"],
        num_key_value_heads=groups,
        head_dim=config["kv_channels"],
        hidden_act="silu",
        max_position_embeddings=config.get("seq_length", 8192),
        rms_norm_eps=config.get("layernorm_epsilon", 1e-5),
        attention_bias=bool(config.get("add_qkv_bias", True)),
        tie_word_embeddings=False,
        rope_parameters=rope,
        pad_token_id=config.get("pad_token_id", 0),
        eos_token_id=config.get("eos_token_id", 2),
        bos_token_id=None,
        use_cache=True,
    )


def parameter_counts(config: dict[str, Any]) -> tuple[int, int]:
    """(parameters inside the decoder layers' linear layers, all other parameters)."""
    hidden, ffn, layers = config["hidden_size"], config["ffn_hidden_size"], config["num_layers"]
    head_dim, heads = config["kv_channels"], config["num_attention_heads"]
    groups = config["multi_query_group_num"] if config.get("multi_query_attention") else heads
    qkv = (heads + 2 * groups) * head_dim
    linear = layers * (hidden * qkv + heads * head_dim * hidden + hidden * 2 * ffn + ffn * hidden)
    other = 2 * config["padded_vocab_size"] * hidden + layers * (qkv + 2 * hidden) + hidden
    return linear, other
