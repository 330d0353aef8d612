"""load_chatglm2: a ChatGLM2 checkpoint as a native transformers GlmForCausalLM, never remote code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.llm.base import LLMUnavailable
from rag.llm.chatglm2.checkpoint import CheckpointInfo, glm_config, inspect_checkpoint, parameter_counts
from rag.llm.chatglm2.quantize import quantize_ready_layers, require_bitsandbytes
from rag.llm.chatglm2.tokenizer import ChatGLM2Tokenizer
from rag.llm.chatglm2.weights import load_into, set_parameter, shard_paths

GB = 1e9
_DTYPES = {
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a loaded model needs: its weights plus room for activations and the KV cache."""

    weights: int
    working: int

    @property
    def total(self) -> int:
        """Weights plus working space."""
        return self.weights + self.working


def estimate_memory(config: dict[str, Any], dtype: Any, quantization: str = "none") -> MemoryEstimate:
    """Memory needed to run the model described by a ChatGLM2 ``config`` in ``dtype``."""
    linear, other = parameter_counts(config)
    size = dtype.itemsize
    per_linear = {"none": size, "8bit": 1.0, "4bit": 0.5625}[quantization]  # nf4 plus its block scales
    weights = int(linear * per_linear + other * (size if quantization == "none" else 2))
    return MemoryEstimate(weights=weights, working=weights // 10 + 256 * 2**20)


def pick_device(device: str | None) -> str:
    """``device`` checked against what torch can use; cuda, then mps, then cpu when None."""
    import torch

    if device is None:
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    kind = device.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise LLMUnavailable(f"chatglm2_device={device}, but this torch ({torch.__version__}) sees no CUDA GPU")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise LLMUnavailable(f"chatglm2_device={device}, but the Apple MPS backend is not available here")
    if kind not in ("cuda", "mps", "cpu"):
        raise LLMUnavailable(f"chatglm2_device={device!r} is not one of cuda, cuda:N, mps, cpu")
    return device


def pick_dtype(device: str, dtype: Any | None) -> Any:
    """float16 on GPUs (ChatGLM2's own dtype), bfloat16 on CPU (float32 would double the memory)."""
    import torch

    if dtype is None:
        return torch.bfloat16 if device == "cpu" else torch.float16
    if isinstance(dtype, str):
        if dtype.lower() not in _DTYPES:
            raise LLMUnavailable(f"unknown dtype {dtype!r}; use float16, bfloat16 or float32")
        return getattr(torch, _DTYPES[dtype.lower()])
    return dtype


def available_memory(device: str) -> int:
    """Free bytes where the weights will live: GPU memory for CUDA, system RAM otherwise."""
    import torch

    if device.startswith("cuda"):
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    import psutil

    return int(psutil.virtual_memory().available)


def check_memory(info: CheckpointInfo, device: str, dtype: Any, quantization: str) -> MemoryEstimate:
    """Refuse, with the numbers, when ``device`` has less free memory than the model needs."""
    need = estimate_memory(info.config, dtype, quantization)
    have = available_memory(device)
    if have >= need.total:
        return need
    where = "GPU memory" if device.startswith("cuda") else "RAM"
    mode = quantization if quantization != "none" else str(dtype).removeprefix("torch.")
    hint = (
        "Try chatglm2_quantization = '8bit' or '4bit'"
        if device.startswith("cuda")
        else "Use a CUDA GPU (chatglm2_device = 'cuda'; 4bit fits in about 6 GB)"
    )
    raise LLMUnavailable(
        f"not enough memory for {info.name} in {mode} on {device}: it needs about {need.total / GB:.1f} GB "
        f"({need.weights / GB:.1f} GB of weights + {need.working / GB:.1f} GB working space) but only "
        f"{have / GB:.1f} GB of {where} is available. {hint}, close other programs, "
        "or use the OpenAI-compatible backend."
    )


def load_chatglm2(
    path: str | Path,
    device: str | None = None,
    dtype: Any | None = None,
    quantization: str = "none",
    hub_cache: Path | None = None,
) -> tuple[Any, ChatGLM2Tokenizer]:
    """ChatGLM2 from local weights as ``(GlmForCausalLM in eval mode, ChatGLM2Tokenizer)``.

    ``path`` is a checkpoint folder or a Hugging Face id already in the local cache. ``device``:
    cuda[:N], mps or cpu (auto when None); ``dtype``: default float16 on GPU, bfloat16 on CPU;
    ``quantization``: none, 8bit or 4bit (bitsandbytes, CUDA only). Raises LLMUnavailable with a
    message for the user when the model cannot be loaded.
    """
    import torch
    from transformers import GlmForCausalLM
    from transformers.models.glm.modeling_glm import GlmRotaryEmbedding

    info = inspect_checkpoint(path, hub_cache)
    tokenizer = ChatGLM2Tokenizer(info.directory / "tokenizer.model")
    if tokenizer.vocab_size > info.config["padded_vocab_size"]:
        raise LLMUnavailable(
            f"tokenizer.model has {tokenizer.vocab_size} tokens with ChatGLM2's specials but the model only "
            f"{info.config['padded_vocab_size']}: the tokenizer belongs to another model"
        )
    if quantization != "none":
        require_bitsandbytes(quantization)
    device = pick_device(device)
    if quantization != "none" and not device.startswith("cuda"):
        raise LLMUnavailable(f"{quantization} quantization runs on CUDA only (chatglm2_device is {device})")
    dtype = torch.float16 if quantization != "none" else pick_dtype(device, dtype)
    shards = shard_paths(info.directory)
    check_memory(info, device, dtype, quantization)

    config = glm_config(info.config)
    config.dtype = dtype
    with torch.device("meta"):
        model = GlmForCausalLM(config)
    done: set[str] = set()

    def place(name: str, tensor: Any) -> None:
        quantize_later = (
            quantization != "none" and name.startswith("model.layers.") and name.endswith(("proj.weight", "proj.bias"))
        )
        set_parameter(model, name, tensor if quantize_later else tensor.to(device))

    after_shard = (lambda: quantize_ready_layers(model, quantization, device, done)) if quantization != "none" else None
    load_into(model, shards, info.config, dtype, place, after_shard)
    model.model.rotary_emb = GlmRotaryEmbedding(config=config).to(device)
    model.eval()
    model.chatglm2_info = info
    model.chatglm2_quantization = quantization
    return model, tokenizer
