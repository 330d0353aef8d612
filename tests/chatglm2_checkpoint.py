"""A tiny random ChatGLM2 checkpoint in ChatGLM2's own on-disk format, built at test time.

config.json has the real config's keys with tiny sizes; the weights carry the original tensor
names and shapes (float16, like the real checkpoint), split over two shards with a
pytorch_model.bin.index.json, and layer 1's query_key_value weight and bias land in different
shards, as tensors of one layer do in the real 7-shard checkpoint. tokenizer.model is a small
SentencePiece BPE model trained here with the real one's options (byte fallback, no
normalisation, digits split).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

SPECIALS = 5


def tiny_corpus() -> list[str]:
    """A few hundred lines of mixed Chinese and English text, deterministic."""
    zh = [
        "知识库问答助手只根据资料回答问题",
        "量子计算机在接近绝对零度的环境中运行",
        "稀释制冷机把芯片冷却到约十毫开尔文",
        "请用中文回答并标注来源",
        "你好，今天天气很好",
        "资料中没有找到相关内容",
        "模型的上下文窗口有限",
        "向量检索与关键词检索融合排序",
        "文档被切分成段落再编码",
    ]
    en = [
        "The dilution refrigerator cools the chip to about ten millikelvin.",
        "Hello world, this is a tiny corpus.",
        "Answer only from the numbered sources and cite them.",
        "Round one question and answer",
        "Keyword search misses paraphrases; dense search misses rare names.",
        "Tokens are counted exactly.",
    ]
    lines = []
    for i in range(360):
        lines.append(f"{zh[i % len(zh)]}，{en[(i * 7) % len(en)]} {i}")
        lines.append(f"[Round {i % 9 + 1}] 问：{zh[(i * 5) % len(zh)]} 答：{en[i % len(en)]}")
    return lines


def train_tokenizer(path: Path, vocab_size: int = 600) -> Path:
    """Train a small SentencePiece model like ChatGLM2's and write it to ``path``."""
    import sentencepiece

    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(tiny_corpus()),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        split_digits=True,
        character_coverage=0.9995,
        minloglevel=2,
        num_threads=1,
    )
    path.write_bytes(buffer.getvalue())
    return path


def tiny_config(sp_size: int, **overrides: Any) -> dict[str, Any]:
    """A ChatGLM2 config.json with the real keys and tiny sizes (2 query groups of 2 heads)."""
    config: dict[str, Any] = {
        "_name_or_path": "THUDM/chatglm2-6b",
        "model_type": "chatglm",
        "architectures": ["ChatGLMModel"],
        "auto_map": {
            "AutoConfig": "configuration_chatglm.ChatGLMConfig",
            "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
        },
        "add_bias_linear": False,
        "add_qkv_bias": True,
        "apply_query_key_layer_scaling": True,
        "apply_residual_connection_post_layernorm": False,
        "attention_dropout": 0.0,
        "attention_softmax_in_fp32": True,
        "bias_dropout_fusion": True,
        "ffn_hidden_size": 96,
        "fp32_residual_connection": False,
        "hidden_dropout": 0.0,
        "hidden_size": 64,
        "kv_channels": 16,
        "layernorm_epsilon": 1e-05,
        "multi_query_attention": True,
        "multi_query_group_num": 2,
        "num_attention_heads": 4,
        "num_layers": 2,
        "original_rope": True,
        "padded_vocab_size": -(-(sp_size + SPECIALS) // 64) * 64,
        "post_layer_norm": True,
        "rmsnorm": True,
        "seq_length": 512,
        "use_cache": True,
        "torch_dtype": "float16",
        "transformers_version": "4.27.1",
        "tie_word_embeddings": False,
        "eos_token_id": 2,
        "pad_token_id": 0,
    }
    config.update(overrides)
    return config


def tiny_tensors(config: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """Random weights under ChatGLM2's tensor names and shapes, scaled so activations stay O(1)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    hidden, ffn, head_dim = config["hidden_size"], config["ffn_hidden_size"], config["kv_channels"]
    qkv = (config["num_attention_heads"] + 2 * config["multi_query_group_num"]) * head_dim

    def rand(*shape: int, scale: float) -> Any:
        return (torch.randn(*shape, generator=gen) * scale).to(torch.float16)

    def norm() -> Any:
        return (1 + torch.randn(hidden, generator=gen) * 0.1).to(torch.float16)

    rotary = head_dim // 2
    tensors = {"transformer.embedding.word_embeddings.weight": rand(config["padded_vocab_size"], hidden, scale=1.0)}
    for i in range(config["num_layers"]):
        p = f"transformer.encoder.layers.{i}."
        tensors |= {
            p + "input_layernorm.weight": norm(),
            p + "self_attention.query_key_value.weight": rand(qkv, hidden, scale=hidden**-0.5),
            p + "self_attention.query_key_value.bias": rand(qkv, scale=0.2),
            p + "self_attention.dense.weight": rand(hidden, config["num_attention_heads"] * head_dim, scale=0.1),
            p + "post_attention_layernorm.weight": norm(),
            p + "mlp.dense_h_to_4h.weight": rand(2 * ffn, hidden, scale=hidden**-0.5),
            p + "mlp.dense_4h_to_h.weight": rand(hidden, ffn, scale=0.1),
        }
    tensors["transformer.encoder.final_layernorm.weight"] = norm()
    tensors["transformer.output_layer.weight"] = rand(config["padded_vocab_size"], hidden, scale=hidden**-0.5)
    tensors["transformer.rotary_pos_emb.inv_freq"] = (1.0 / 10000 ** (torch.arange(0, rotary, 2).float() / rotary)).to(
        torch.float16
    )
    return tensors


def make_tiny_chatglm2(
    directory: Path, tokenizer_model: Path | None = None, seed: int = 0, **config_overrides: Any
) -> Path:
    """Write a tiny ChatGLM2 checkpoint (config, tokenizer.model, 2 shards + index) into ``directory``.

    ``tokenizer_model``: a SentencePiece model to copy; by default one trained here, once per process.
    """
    import sentencepiece
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    sp_path = directory / "tokenizer.model"
    sp_path.write_bytes((tokenizer_model or shared_tokenizer_model()).read_bytes())
    sp_size = sentencepiece.SentencePieceProcessor(model_file=str(sp_path)).vocab_size()
    config = tiny_config(sp_size, **config_overrides)
    (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    tensors = tiny_tensors(config, seed)
    names = list(tensors)
    split = names.index("transformer.encoder.layers.1.self_attention.query_key_value.bias")
    shards = {"pytorch_model-00001-of-00002.bin": names[:split], "pytorch_model-00002-of-00002.bin": names[split:]}
    weight_map = {}
    for file, keys in shards.items():
        torch.save({k: tensors[k] for k in keys}, directory / file)
        weight_map |= dict.fromkeys(keys, file)
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (directory / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return directory


_TRAINED: dict[str, Any] = {}


def shared_tokenizer_model() -> Path:
    """One tiny tokenizer.model per test process (training it takes about a second)."""
    import tempfile

    if "dir" not in _TRAINED:
        _TRAINED["dir"] = tempfile.TemporaryDirectory(prefix="tiny-chatglm2-sp-")
        train_tokenizer(Path(_TRAINED["dir"].name) / "tokenizer.model")
    return Path(_TRAINED["dir"].name) / "tokenizer.model"


def read_original_state(directory: Path) -> dict[str, Any]:
    """All tensors of a checkpoint written by make_tiny_chatglm2, under their original names, in float32."""
    import torch

    index = json.loads((directory / "pytorch_model.bin.index.json").read_text(encoding="utf-8"))
    state: dict[str, Any] = {}
    for file in sorted(set(index["weight_map"].values())):
        state |= torch.load(directory / file, map_location="cpu", weights_only=True)
    return {k: v.float() for k, v in state.items()}
