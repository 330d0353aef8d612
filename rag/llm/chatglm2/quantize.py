"""8-bit and 4-bit weights through bitsandbytes, applied layer by layer while shards load.

Each decoder-layer Linear is swapped for a bitsandbytes one as soon as all its tensors have
arrived (a layer may span two shards), so the GPU never holds the float16 model. The embedding,
the norms and lm_head stay in float16, as transformers' own bitsandbytes integration does.
"""

from __future__ import annotations

from typing import Any

from rag.llm.base import LLMUnavailable

QUANTIZATIONS = ("none", "8bit", "4bit")


def require_bitsandbytes(quantization: str) -> Any:
    """The bitsandbytes module, or LLMUnavailable naming the package to install."""
    if quantization not in QUANTIZATIONS:
        raise LLMUnavailable(f"unknown quantization {quantization!r}; use one of {', '.join(QUANTIZATIONS)}")
    try:
        import bitsandbytes
    except ImportError as exc:
        raise LLMUnavailable(
            f"{quantization} quantization needs the bitsandbytes package (and a CUDA GPU): "
            "pip install bitsandbytes, or set chatglm2_quantization = 'none'"
        ) from exc
    return bitsandbytes


def _quantized_linear(linear: Any, quantization: str, device: Any) -> Any:
    """A bitsandbytes replacement for ``linear`` whose CPU float16 weights are quantized on ``device``."""
    import torch

    bnb = require_bitsandbytes(quantization)
    weight = linear.weight.data.to(device="cpu", dtype=torch.float16)
    has_bias = linear.bias is not None
    with torch.device("meta"):
        if quantization == "8bit":
            new = bnb.nn.Linear8bitLt(
                linear.in_features, linear.out_features, bias=has_bias, has_fp16_weights=False, threshold=6.0
            )
        else:
            new = bnb.nn.Linear4bit(
                linear.in_features,
                linear.out_features,
                bias=has_bias,
                compute_dtype=torch.float16,
                quant_type="nf4",
            )
    if quantization == "8bit":
        new.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False)
    else:
        new.weight = bnb.nn.Params4bit(weight, requires_grad=False, quant_type="nf4")
    if has_bias:
        new.bias = torch.nn.Parameter(linear.bias.data.to(dtype=torch.float16), requires_grad=False)
    return new.to(device)  # moving a CPU Int8Params/Params4bit to CUDA is what quantizes it


def quantize_ready_layers(model: Any, quantization: str, device: Any, done: set[str]) -> None:
    """Quantize every decoder-layer Linear whose weights (and bias) are all loaded; record them in ``done``."""
    import torch

    for name, module in list(model.named_modules()):
        if name in done or not name.startswith("model.layers.") or type(module) is not torch.nn.Linear:
            continue
        tensors = [module.weight] + ([module.bias] if module.bias is not None else [])
        if any(t.is_meta for t in tensors):
            continue
        parent_name, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(parent_name), leaf, _quantized_linear(module, quantization, device))
        done.add(name)
