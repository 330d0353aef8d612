"""Every way a ChatGLM2 path can be wrong ends in an LLMUnavailable that says what to do."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest
import torch
from chatglm2_checkpoint import make_tiny_chatglm2

from rag.llm.base import LLMUnavailable
from rag.llm.chatglm2 import estimate_memory, inspect_checkpoint, load_chatglm2
from rag.llm.chatglm2.loader import check_memory

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "models" / "chatglm2-6b"
SHARD1, SHARD2 = "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"
CHATGLM_V1 = {
    "_name_or_path": "THUDM/chatglm-6b",
    "architectures": ["ChatGLMModel"],
    "bos_token_id": 130004,
    "eos_token_id": 130005,
    "mask_token_id": 130000,
    "gmask_token_id": 130001,
    "pad_token_id": 3,
    "hidden_size": 4096,
    "inner_hidden_size": 16384,
    "layernorm_epsilon": 1e-05,
    "max_sequence_length": 2048,
    "model_type": "chatglm",
    "num_attention_heads": 32,
    "num_layers": 28,
    "position_encoding_2d": True,
    "quantization_bit": 0,
    "pre_seq_len": None,
    "prefix_projection": False,
    "torch_dtype": "float16",
    "use_cache": True,
    "vocab_size": 130528,
}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return make_tiny_chatglm2(tmp_path / "chatglm2")


def _edit_config(directory: Path, **changes: Any) -> None:
    path = directory / "config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | changes), encoding="utf-8")


def test_nonexistent_path(tmp_path: Path) -> None:
    with pytest.raises(LLMUnavailable, match=r"does not exist"):
        load_chatglm2(tmp_path / "no-such-model")


def test_hf_id_missing_from_the_cache_is_not_downloaded(tmp_path: Path) -> None:
    with pytest.raises(LLMUnavailable, match=r"local Hugging Face cache") as caught:
        load_chatglm2("THUDM/chatglm2-6b", hub_cache=tmp_path / "hub")
    assert "huggingface-cli download THUDM/chatglm2-6b" in str(caught.value)


def test_hf_id_resolves_to_the_cached_snapshot(tiny: Path, tmp_path: Path) -> None:
    repo = tmp_path / "hub" / "models--THUDM--chatglm2-6b"
    shutil.copytree(tiny, repo / "snapshots" / "0123abcd")
    (repo / "snapshots" / "old").mkdir()  # an incomplete snapshot that refs/main does not name
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    model, tokenizer = load_chatglm2("THUDM/chatglm2-6b", device="cpu", hub_cache=tmp_path / "hub")
    assert model.chatglm2_info.directory == repo / "snapshots" / "0123abcd"
    assert tokenizer.eos_id == 2


def test_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(LLMUnavailable, match=r"no config.json"):
        load_chatglm2(tmp_path)


def test_missing_shard_is_named(tiny: Path) -> None:
    (tiny / SHARD2).unlink()
    with pytest.raises(LLMUnavailable, match=rf"missing weight shard.*{SHARD2}"):
        load_chatglm2(tiny, device="cpu")


def test_truncated_shard_is_named(tiny: Path) -> None:
    data = (tiny / SHARD1).read_bytes()
    (tiny / SHARD1).write_bytes(data[: len(data) // 2])
    with pytest.raises(LLMUnavailable, match=rf"{SHARD1}.*truncated or corrupt"):
        load_chatglm2(tiny, device="cpu")


def test_shard_lacking_a_tensor_is_reported(tiny: Path) -> None:
    state = torch.load(tiny / SHARD2, weights_only=True)
    del state["transformer.output_layer.weight"]
    torch.save(state, tiny / SHARD2)
    with pytest.raises(LLMUnavailable, match=r"lacks lm_head.weight"):
        load_chatglm2(tiny, device="cpu")


def test_config_that_does_not_match_the_weights(tiny: Path) -> None:
    _edit_config(tiny, ffn_hidden_size=128)
    with pytest.raises(LLMUnavailable, match=r"do not belong together"):
        load_chatglm2(tiny, device="cpu")


def test_chatglm_v1_config_is_recognised(tiny: Path) -> None:
    (tiny / "config.json").write_text(json.dumps(CHATGLM_V1), encoding="utf-8")
    with pytest.raises(LLMUnavailable, match=r"looks like ChatGLM-6B \(the first version") as caught:
        load_chatglm2(tiny)
    assert "ChatGLM2-6B and chatglm2-6b-32k are supported" in str(caught.value)


def test_chatglm3_by_name(tiny: Path) -> None:
    _edit_config(tiny, _name_or_path="THUDM/chatglm3-6b")
    with pytest.raises(LLMUnavailable, match=r"looks like ChatGLM3-6B.*chatglm2-6b-32k are supported"):
        load_chatglm2(tiny)


@pytest.mark.parametrize(
    ("file", "text"),
    [
        (
            "tokenizer_config.json",
            json.dumps(
                {"added_tokens_decoder": {"64795": {"content": "<|system|>"}, "64796": {"content": "<|user|>"}}}
            ),
        ),
        ("tokenization_chatglm.py", 'role_special_tokens = ["<|system|>", "<|user|>", "<|assistant|>"]\n'),
    ],
)
def test_chatglm3_by_its_role_tokens(tiny: Path, file: str, text: str) -> None:
    _edit_config(tiny, _name_or_path="my-finetune")
    (tiny / file).write_text(text, encoding="utf-8")
    with pytest.raises(LLMUnavailable, match=rf"looks like ChatGLM3-6B .its {file}"):
        load_chatglm2(tiny)


def test_glm4_and_other_models(tiny: Path) -> None:
    _edit_config(tiny, padded_vocab_size=151552, _name_or_path="")
    with pytest.raises(LLMUnavailable, match=r"looks like GLM-4-9B"):
        inspect_checkpoint(tiny)
    (tiny / "config.json").write_text(json.dumps({"model_type": "llama"}), encoding="utf-8")
    with pytest.raises(LLMUnavailable, match=r"'llama' model, not ChatGLM2"):
        inspect_checkpoint(tiny)


def test_int4_checkpoint_is_refused_with_the_alternative(tiny: Path) -> None:
    _edit_config(tiny, quantization_bit=4)
    with pytest.raises(LLMUnavailable, match=r"packed int4.*chatglm2_quantization"):
        load_chatglm2(tiny)


def test_tokenizer_larger_than_the_model_vocabulary(tiny: Path) -> None:
    _edit_config(tiny, padded_vocab_size=64)
    with pytest.raises(LLMUnavailable, match=r"tokenizer belongs to another model"):
        load_chatglm2(tiny, device="cpu")


def test_unavailable_devices_and_quantization(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(LLMUnavailable, match=r"sees no CUDA GPU"):
        load_chatglm2(tiny, device="cuda")
    with pytest.raises(LLMUnavailable, match=r"not one of cuda"):
        load_chatglm2(tiny, device="tpu")
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # as if not installed
    with pytest.raises(LLMUnavailable, match=r"needs the bitsandbytes package"):
        load_chatglm2(tiny, device="cuda", quantization="8bit")
    monkeypatch.setitem(sys.modules, "bitsandbytes", SimpleNamespace())  # installed, but no GPU here
    with pytest.raises(LLMUnavailable, match=r"4bit quantization runs on CUDA only"):
        load_chatglm2(tiny, device="cpu", quantization="4bit")


def test_memory_check_refuses_with_the_numbers_at_the_edge(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need = estimate_memory(json.loads((tiny / "config.json").read_text()), torch.float32)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=need.total - 1))
    with pytest.raises(LLMUnavailable, match=r"not enough memory") as caught:
        load_chatglm2(tiny, device="cpu", dtype="float32")
    message = str(caught.value)
    assert f"needs about {need.total / 1e9:.1f} GB" in message and "float32 on cpu" in message
    assert f"{(need.total - 1) / 1e9:.1f} GB of RAM is available" in message
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=need.total))
    model, _ = load_chatglm2(tiny, device="cpu", dtype="float32")
    assert model.dtype == torch.float32


def test_full_size_bfloat16_needs_more_than_a_small_machine_has(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=8 * 10**9))
    with pytest.raises(LLMUnavailable, match=r"needs about 1[34]\.\d GB \(12\.5 GB of weights") as caught:
        check_memory(inspect_checkpoint(REAL_DIR), "cpu", torch.bfloat16, "none")
    assert "8.0 GB of RAM is available" in str(caught.value) and "CUDA GPU" in str(caught.value)


def test_the_real_folder_without_weights_names_the_first_missing_shards() -> None:
    with pytest.raises(LLMUnavailable, match=r"pytorch_model-00001-of-00007.bin, pytorch_model-00002-of-00007.bin"):
        load_chatglm2(REAL_DIR, device="cpu")
