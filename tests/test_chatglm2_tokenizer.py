"""ChatGLM2's token ids and prompt format, on the real tokenizer.model and on a tiny one."""

from __future__ import annotations

from pathlib import Path

import pytest
from chatglm2_checkpoint import shared_tokenizer_model
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from rag.llm.chatglm2 import ChatGLM2Tokenizer, build_prompt, chatglm2_prompt_ids, split_messages
from rag.prompts import INSTRUCTION, build_messages

REAL_MODEL = Path(__file__).resolve().parents[2] / "shared" / "models" / "chatglm2-6b" / "tokenizer.model"
PUBLISHED = [64790, 64792, 790, 30951, 517, 30910, 30939, 30996, 13, 13, 54761, 31211, 39701, 13, 13, 55437, 31211]


@pytest.fixture(scope="module")
def real() -> ChatGLM2Tokenizer:
    return ChatGLM2Tokenizer(REAL_MODEL)


@pytest.fixture(scope="module")
def tiny() -> ChatGLM2Tokenizer:
    return ChatGLM2Tokenizer(shared_tokenizer_model())


def test_real_tokenizer_gives_the_published_ids(real: ChatGLM2Tokenizer) -> None:
    assert real.build_chat_ids("你好") == PUBLISHED
    assert real.special_ids == {"[MASK]": 64789, "[gMASK]": 64790, "[sMASK]": 64791, "sop": 64792, "eop": 64793}
    assert real.vocab_size == 64794 and real.eos_id == 2
    assert real.decode(PUBLISHED) == "[Round 1]\n\n问：你好\n\n答："


def test_history_rounds_are_numbered_and_encoded_as_one_text(real: ChatGLM2Tokenizer) -> None:
    history = [("你好", "你好👋！我是人工智能助手 ChatGLM2-6B。"), ("What is 2+2?", "4")]
    prompt = build_prompt("谢谢", history)
    assert prompt == (
        "[Round 1]\n\n问：你好\n\n答：你好👋！我是人工智能助手 ChatGLM2-6B。\n\n"
        "[Round 2]\n\n问：What is 2+2?\n\n答：4\n\n"
        "[Round 3]\n\n问：谢谢\n\n答："
    )
    assert real.build_chat_ids("谢谢", history) == [64790, 64792, *real.encode(prompt)]
    assert real.count(prompt) == len(real.build_chat_ids("谢谢", history)) - 2


def test_tiny_tokenizer_follows_the_same_layout(tiny: ChatGLM2Tokenizer) -> None:
    size = tiny.sp_size
    assert (tiny.gmask_id, tiny.sop_id, tiny.vocab_size) == (size + 1, size + 3, size + 5)
    ids = tiny.build_chat_ids("你好")
    assert ids[:2] == [size + 1, size + 3]
    newline = tiny.sp.piece_to_id("<0x0A>")
    assert ids.count(newline) == 4  # "\n" is spelled with byte fallback, as in the real model
    assert tiny.decode(ids) == "[Round 1]\n\n问：你好\n\n答："


@pytest.mark.parametrize("text", ["Hello world 123", "量子计算机 😀 ünïcödé", "  two  spaces\tand\ttabs\n"])
def test_encode_decode_round_trips_and_count_matches(
    tiny: ChatGLM2Tokenizer, real: ChatGLM2Tokenizer, text: str
) -> None:
    for tokenizer in (tiny, real):
        ids = tokenizer.encode(text)
        assert tokenizer.decode(ids) == text
        assert tokenizer.count(text) == len(ids)
        assert all(0 <= i < tokenizer.sp_size for i in ids)


def test_decode_drops_special_and_padding_ids(real: ChatGLM2Tokenizer) -> None:
    ids = real.encode("答案")
    assert real.decode([64790, 64792, *ids, 2, 64793, 65000]) == "答案"


def test_system_text_goes_before_the_last_question(real: ChatGLM2Tokenizer) -> None:
    messages = build_messages([], [("q1", "a1")], "最后的问题")
    query, history = split_messages(messages)
    assert history == [("q1", "a1")]
    assert query.startswith(INSTRUCTION + "\n\n") and query.endswith("最后的问题")
    assert chatglm2_prompt_ids(real, messages) == real.build_chat_ids(query, history)


def test_messages_without_system_and_bad_shapes() -> None:
    assert split_messages([HumanMessage("hi")]) == ("hi", [])
    with pytest.raises(ValueError, match="end with the user's question"):
        split_messages([SystemMessage("s"), HumanMessage("q"), AIMessage("a")])
    # Consecutive messages of one role are one turn (LangChain's standard tests send them so).
    assert split_messages([HumanMessage("q"), HumanMessage("q2")]) == ("q\n\nq2", [])
    assert split_messages([AIMessage("a"), HumanMessage("q"), HumanMessage("q2")]) == ("q\n\nq2", [("", "a")])
