"""bench/llm_speed.py runs its whole code path on the CPU with --tiny."""

from __future__ import annotations

import json
from pathlib import Path

from bench.llm_speed import TINY, main, random_model


def test_tiny_benchmark_writes_a_report(tmp_path: Path) -> None:
    out = tmp_path / "llm_speed.json"
    argv = ["--tiny", "--lengths", "32", "4096", "--decode-tokens", "3", "--quant", "none", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["dtype"] == "float32" and report["config"] == TINY
    measured, skipped = report["runs"]
    assert measured["prompt_tokens"] == 32 and measured["decode_tokens"] == 2
    assert measured["ttft_s"] > 0 and measured["decode_tokens_per_s"] > 0 and measured["peak_memory_gb"] > 0
    assert skipped == {"quantization": "none", "prompt_tokens": 4096, "skipped": "beyond seq_length 2048"}


def test_random_model_has_chatglm2_shapes_and_no_meta_tensors() -> None:
    import torch

    model = random_model(TINY, "cpu", torch.float32)
    assert model.model.layers[0].self_attn.k_proj.weight.shape == (2 * 16, 64)
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
