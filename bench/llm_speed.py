"""How fast ChatGLM2-6B answers here: time to first token, decode speed, peak memory.

The model is a full-size ChatGLM2-6B-shaped GlmForCausalLM with random weights (speed does not
depend on the values, and no 12 GB checkpoint is needed), built through the same config mapping
and generation loop the app uses. On CUDA it runs in float16 and, when bitsandbytes is installed,
in 8-bit and 4-bit too.

    python bench/llm_speed.py                       # CUDA, 1K/4K/8K prompts -> bench/results/llm_speed.json
    python bench/llm_speed.py --quant none 8bit 4bit
    python bench/llm_speed.py --tiny                # tiny config on CPU: checks this code path anywhere
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.llm.chatglm2.checkpoint import glm_config, parameter_counts
from rag.llm.chatglm2.generate import generate_ids
from rag.llm.chatglm2.quantize import quantize_ready_layers

RESULTS = Path(__file__).resolve().parent / "results"
CHATGLM2_6B = {
    "model_type": "chatglm",
    "hidden_size": 4096,
    "ffn_hidden_size": 13696,
    "num_layers": 28,
    "num_attention_heads": 32,
    "kv_channels": 128,
    "multi_query_attention": True,
    "multi_query_group_num": 2,
    "padded_vocab_size": 65024,
    "seq_length": 32768,
    "layernorm_epsilon": 1e-5,
    "add_qkv_bias": True,
    "eos_token_id": 2,
    "pad_token_id": 0,
}
TINY = CHATGLM2_6B | {
    "hidden_size": 64,
    "ffn_hidden_size": 96,
    "num_layers": 2,
    "num_attention_heads": 4,
    "kv_channels": 16,
    "padded_vocab_size": 640,
    "seq_length": 2048,
}


def random_model(config: dict[str, Any], device: str, dtype: Any, quantization: str = "none", seed: int = 0) -> Any:
    """A GlmForCausalLM of ChatGLM2's shape with random weights, built without a float32 copy.

    Quantized: each decoder layer's Linear weights are made on the CPU in float16 and handed to
    the same layer-by-layer bitsandbytes swap the loader uses, so the GPU never holds them in fp16.
    """
    import torch
    from transformers import GlmForCausalLM
    from transformers.models.glm.modeling_glm import GlmRotaryEmbedding

    torch.manual_seed(seed)
    glm = glm_config(config)
    with torch.device("meta"):
        model = GlmForCausalLM(glm).to(dtype)
    done: set[str] = set()
    for name, param in list(model.named_parameters()):
        on_cpu = quantization != "none" and name.startswith("model.layers.") and "proj" in name
        tensor = torch.empty(param.shape, dtype=dtype, device="cpu" if on_cpu else device)
        if name.endswith("norm.weight"):
            tensor.fill_(1.0)
        else:
            tensor.normal_(0.0, 0.02)
        module_name, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(module_name), leaf, torch.nn.Parameter(tensor, requires_grad=False))
        if on_cpu and name.endswith("down_proj.weight"):  # the layer's last Linear: quantize the layer
            quantize_ready_layers(model, quantization, device, done)
    model.model.rotary_emb = GlmRotaryEmbedding(config=glm).to(device)
    return model.eval()


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_gb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # Linux reports KiB


def measure(model: Any, device: str, prompt_tokens: int, decode_tokens: int, vocab: int) -> dict[str, Any]:
    """Time to first token and steady decode speed for one random prompt of ``prompt_tokens``."""
    import torch

    ids = torch.randint(3, vocab, (prompt_tokens,), generator=torch.Generator().manual_seed(prompt_tokens)).tolist()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    _sync(device)
    start = time.perf_counter()
    first_at = None
    count = 0
    for _ in generate_ids(model, ids, max_new_tokens=decode_tokens, temperature=0, eos_id=None):
        _sync(device)
        count += 1
        if first_at is None:
            first_at = time.perf_counter()
    end = time.perf_counter()
    assert first_at is not None
    return {
        "prompt_tokens": prompt_tokens,
        "ttft_s": round(first_at - start, 4),
        "decode_tokens": count - 1,
        "decode_tokens_per_s": round((count - 1) / (end - first_at), 2) if count > 1 else None,
        "peak_memory_gb": round(_peak_gb(device), 3),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """All measurements for the parsed command line, as the JSON document written to disk."""
    import torch
    import transformers

    config = TINY if args.tiny else json.loads(Path(args.config).read_text()) if args.config else CHATGLM2_6B
    device = args.device or ("cpu" if args.tiny else "cuda")
    dtype = getattr(torch, args.dtype or ("float32" if device == "cpu" else "float16"))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU visible to torch; use --tiny (CPU) to check the code path")
    linear, other = parameter_counts(config)
    report: dict[str, Any] = {
        "note": "random weights, greedy decoding, batch 1; speed and memory only",
        "device": torch.cuda.get_device_name(device) if device.startswith("cuda") else platform.processor() or "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "dtype": str(dtype).removeprefix("torch."),
        "parameters": linear + other,
        "config": config,
        "runs": [],
    }
    for quantization in args.quant:
        if quantization != "none" and importlib.util.find_spec("bitsandbytes") is None:
            report["runs"].append({"quantization": quantization, "skipped": "bitsandbytes is not installed"})
            print(json.dumps(report["runs"][-1]), flush=True)
            continue
        model = random_model(config, device, dtype, quantization)
        for _ in range(2):  # warm-up: kernels, allocator, first-call setup
            measure(model, device, 16, 4, config["padded_vocab_size"])
        for length in args.lengths:
            row: dict[str, Any] = {"quantization": quantization}
            if length >= config["seq_length"]:
                row |= {"prompt_tokens": length, "skipped": f"beyond seq_length {config['seq_length']}"}
            else:
                try:
                    row |= measure(model, device, length, args.decode_tokens, config["padded_vocab_size"])
                except torch.cuda.OutOfMemoryError:
                    row |= {"prompt_tokens": length, "error": "CUDA out of memory"}
            report["runs"].append(row)
            print(json.dumps(row), flush=True)
        del model
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return report


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the benchmark and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny config on CPU (checks the code path)")
    parser.add_argument("--config", help="a ChatGLM2 config.json to use instead of ChatGLM2-6B's shape")
    parser.add_argument("--device", help="cuda, cuda:N or cpu (default: cuda; cpu with --tiny)")
    parser.add_argument("--dtype", choices=["float16", "bfloat16", "float32"])
    parser.add_argument("--lengths", type=int, nargs="+", help="prompt lengths in tokens (default 1024 4096 8192)")
    parser.add_argument("--decode-tokens", type=int, default=128, help="tokens generated per prompt")
    parser.add_argument("--quant", nargs="+", default=["none"], choices=["none", "8bit", "4bit"])
    parser.add_argument(
        "--out",
        type=Path,
        help="report path (default bench/results/llm_speed.json; bench/results/tmp/llm_speed_tiny.json with --tiny)",
    )
    args = parser.parse_args(argv)
    args.lengths = args.lengths or ([64, 256, 512] if args.tiny else [1024, 4096, 8192])
    out = args.out or (RESULTS / "tmp" / "llm_speed_tiny.json" if args.tiny else RESULTS / "llm_speed.json")
    report = run(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
