"""Token counters on the real ChatGLM2 tokenizer and on tiny tokenizers built at test time."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sentencepiece

from rag.tokens import (
    CharEstimate,
    HFTokenizerCounter,
    SentencePieceCounter,
    TokenCounter,
    counter_from_path,
)

CHATGLM2_DIR = Path(__file__).parents[2] / "shared" / "models" / "chatglm2-6b"
CHATGLM2_MODEL = CHATGLM2_DIR / "tokenizer.model"
CHINESE = "量子计算机在接近绝对零度的环境中运行，稀释制冷机把芯片冷却到约十毫开尔文。"
ENGLISH = "The dilution refrigerator cools the chip to about ten millikelvin."


@pytest.fixture
def tiny_sp_model(tmp_path: Path) -> Path:
    """A 30-piece SentencePiece model that is not ChatGLM2's."""
    buffer = io.BytesIO()
    corpus = ["hello world this is a tiny corpus"] * 50 + ["知识库问答助手"] * 20
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=buffer,
        vocab_size=40,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    path = tmp_path / "tokenizer.model"
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def tiny_hf_folder(tmp_path: Path) -> Path:
    """A word-level Hugging Face tokenizer saved to a folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    folder = tmp_path / "hf-tokenizer"
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]").save_pretrained(folder)
    return folder


def test_char_estimate_counts_characters_and_says_it_is_an_estimate() -> None:
    counter = counter_from_path(None)
    assert isinstance(counter, CharEstimate)
    assert isinstance(counter, TokenCounter)
    assert counter.exact is False
    assert counter.count("你好，world") == 8
    assert counter.count("") == 0


def test_chatglm2_tokenizer_model_is_counted_by_chatglm2s_tokenizer() -> None:
    from rag.llm.chatglm2 import ChatGLM2Tokenizer

    counter = counter_from_path(CHATGLM2_MODEL)
    assert isinstance(counter, SentencePieceCounter)
    assert counter.exact is True
    assert "ChatGLM2" in counter.name
    reference = ChatGLM2Tokenizer(CHATGLM2_MODEL)
    for text in (CHINESE, ENGLISH, "[Round 1]\n\n问：你好\n\n答："):
        assert counter.count(text) == reference.count(text)


def test_chatglm2_counts_match_sentencepiece_and_char_estimate_bounds_chinese() -> None:
    processor = sentencepiece.SentencePieceProcessor(model_file=str(CHATGLM2_MODEL))
    counter = counter_from_path(CHATGLM2_MODEL)
    assert counter.count(CHINESE) == len(processor.encode(CHINESE))
    assert counter.count(CHINESE) <= CharEstimate().count(CHINESE)
    assert counter.count(ENGLISH) < len(ENGLISH) / 2


def test_chatglm2_model_folder_uses_its_tokenizer_model() -> None:
    counter = counter_from_path(CHATGLM2_DIR)
    assert isinstance(counter, SentencePieceCounter)
    assert counter.count(CHINESE) == counter_from_path(CHATGLM2_MODEL).count(CHINESE)


def test_other_sentencepiece_models_are_counted_with_sentencepiece(tiny_sp_model: Path) -> None:
    processor = sentencepiece.SentencePieceProcessor(model_file=str(tiny_sp_model))
    for path in (tiny_sp_model, tiny_sp_model.parent):
        counter = counter_from_path(path)
        assert isinstance(counter, SentencePieceCounter)
        assert counter.name.startswith("SentencePiece")
        assert counter.count("hello world") == len(processor.encode("hello world")) > 2


def test_hugging_face_tokenizer_folder(tiny_hf_folder: Path) -> None:
    counter = counter_from_path(tiny_hf_folder)
    assert isinstance(counter, HFTokenizerCounter)
    assert counter.exact is True
    assert counter.count("hello world hello unknown") == 4


def test_paths_that_are_no_tokenizer_get_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        counter_from_path(tmp_path / "missing.model")
    with pytest.raises(ValueError, match=r"holds no tokenizer\.model"):
        counter_from_path(tmp_path)
    not_a_model = tmp_path / "notes.txt"
    not_a_model.write_text("just text", encoding="utf-8")
    with pytest.raises(ValueError, match="is not a SentencePiece tokenizer model"):
        counter_from_path(not_a_model)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "tokenizer_config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot load a Hugging Face tokenizer"):
        counter_from_path(broken)
