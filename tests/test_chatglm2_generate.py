"""Generation on the tiny checkpoint: KV cache, stopping, sampling, streaming, cancelling, LangChain, handle."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from chatglm2_checkpoint import make_tiny_chatglm2
from langchain_core.messages import AIMessageChunk

from rag.config import Settings
from rag.llm.base import LLMUnavailable
from rag.llm.chatglm2 import (
    ChatGLM2Chat,
    GenerationResult,
    chatglm2_handle,
    chatglm2_prompt_ids,
    generate_ids,
    load_chatglm2,
    sample_next,
    stream_text,
)
from rag.prompts import build_messages


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_chatglm2(tmp_path_factory.mktemp("gen") / "chatglm2", seq_length=2048)


@pytest.fixture(scope="module")
def loaded(tiny_dir: Path) -> tuple[Any, Any]:
    return load_chatglm2(tiny_dir, device="cpu", dtype="float32")


@pytest.fixture
def prompt(loaded: tuple[Any, Any]) -> list[int]:
    return loaded[1].build_chat_ids("量子计算机在什么温度下运行？", [("你好", "Hello!")])


@contextmanager
def fed_inputs(model: Any) -> Iterator[list[list[int]]]:
    """Record the input_ids of every forward call of ``model``."""
    calls: list[list[int]] = []
    hook = model.register_forward_pre_hook(
        lambda _m, _a, kwargs: calls.append(kwargs["input_ids"][0].tolist()), with_kwargs=True
    )
    try:
        yield calls
    finally:
        hook.remove()


def _greedy(model: Any, ids: list[int], n: int, **options: Any) -> tuple[list[int], GenerationResult]:
    result = GenerationResult()
    tokens = list(generate_ids(model, ids, max_new_tokens=n, temperature=0, eos_id=None, result=result, **options))
    return tokens, result


def test_cached_greedy_decoding_equals_recomputing_every_step(loaded: tuple, prompt: list[int]) -> None:
    model, _ = loaded
    with fed_inputs(model) as calls:
        tokens, result = _greedy(model, prompt, 12)
    assert len(tokens) == 12 and result.finish_reason == "length" and result.token_ids == tokens
    assert calls[0] == prompt and all(len(c) == 1 for c in calls[1:])  # one new token per step: a real cache
    sequence = list(prompt)
    with torch.no_grad():
        for token in tokens:
            assert int(model(input_ids=torch.tensor([sequence])).logits[0, -1].argmax()) == token
            sequence.append(token)


def test_generation_stops_at_the_eos_id_without_emitting_it(loaded: tuple, prompt: list[int]) -> None:
    model, _ = loaded
    tokens, _ = _greedy(model, prompt, 12)
    k = next(i for i in range(1, 12) if tokens[i] not in tokens[:i])
    result = GenerationResult()
    stopped = list(generate_ids(model, prompt, max_new_tokens=12, temperature=0, eos_id=tokens[k], result=result))
    assert stopped == tokens[:k] and result.finish_reason == "stop"


def test_eos_2_is_the_default_stop(tiny_dir: Path) -> None:
    model, tokenizer = load_chatglm2(tiny_dir, device="cpu", dtype="float32")
    ids = tokenizer.build_chat_ids("hi")
    with torch.no_grad():
        hidden = model.model(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]
        model.lm_head.weight[2] = 100 * hidden / hidden.pow(2).sum()  # eos now scores 100 after the prompt
    result = GenerationResult()
    assert list(stream_text(model, tokenizer, ids, temperature=0, result=result)) == []
    assert result.finish_reason == "stop" and tokenizer.eos_id == 2


def test_length_limits_and_the_context_window(loaded: tuple, prompt: list[int]) -> None:
    model, _ = loaded
    tokens, result = _greedy(model, prompt, 50, max_length=len(prompt) + 3)
    assert len(tokens) == 3 and result.finish_reason == "length"
    with pytest.raises(ValueError, match="context window"):
        list(generate_ids(model, prompt, max_length=len(prompt)))


def test_sampling_is_seeded_nucleus_and_never_picks_padding(loaded: tuple, prompt: list[int]) -> None:
    model, tokenizer = loaded
    first = list(generate_ids(model, prompt, max_new_tokens=8, seed=7, eos_id=None))
    assert list(generate_ids(model, prompt, max_new_tokens=8, seed=7, eos_id=None)) == first
    greedy, _ = _greedy(model, prompt, 8)
    assert list(generate_ids(model, prompt, max_new_tokens=8, top_p=1e-9, seed=1, eos_id=None)) == greedy
    hot = list(
        generate_ids(
            model,
            prompt,
            max_new_tokens=30,
            temperature=50,
            top_p=1.0,
            seed=3,
            eos_id=None,
            vocab_limit=tokenizer.vocab_size,
        )
    )
    assert max(hot) < tokenizer.vocab_size < model.config.vocab_size and len(set(hot)) > 20


def test_sample_next_keeps_the_smallest_head_reaching_top_p() -> None:
    logits = torch.tensor([0.5, 0.3, 0.2]).log()
    gen = torch.Generator().manual_seed(0)
    assert {sample_next(logits, 1.0, 0.6, gen) for _ in range(200)} == {0, 1}
    assert {sample_next(logits, 1.0, 0.5, gen) for _ in range(50)} == {0}
    assert {sample_next(logits, 1.0, 1.0, gen) for _ in range(300)} == {0, 1, 2}
    assert sample_next(torch.tensor([0.1, 3.0, float("nan")]), 0, 0.8) == 1


class ScriptedModel:
    """Stands in for the network only: emits a fixed token sequence, then eos."""

    device = torch.device("cpu")

    def __init__(self, script: list[int], vocab: int) -> None:
        self.script, self.vocab = script, vocab

    def __call__(self, input_ids: Any, past_key_values: Any = None, **_: Any) -> SimpleNamespace:
        step = 0 if past_key_values is None else past_key_values + 1
        logits = torch.zeros(1, 1, self.vocab)
        logits[0, 0, self.script[step] if step < len(self.script) else 2] = 10.0
        return SimpleNamespace(logits=logits, past_key_values=step)


def test_stream_holds_back_half_characters(loaded: tuple) -> None:
    _, tokenizer = loaded
    text = "好😀 ok 量子"
    script = tokenizer.encode(text)
    assert len(script) > len(text) - 2  # the emoji really is spelled as several byte pieces
    pieces = list(stream_text(ScriptedModel(script, 700), tokenizer, [1], temperature=0))
    assert "".join(pieces) == text
    assert not any("\ufffd" in p for p in pieces) and any("😀" in p for p in pieces)


def test_stop_strings_end_generation_and_are_not_emitted(loaded: tuple) -> None:
    _, tokenizer = loaded
    script = tokenizer.encode("abc STOP def")
    result = GenerationResult()
    pieces = list(stream_text(ScriptedModel(script, 700), tokenizer, [1], stop=["STOP"], result=result, temperature=0))
    assert "".join(pieces) == "abc " and not any("S" in p for p in pieces)
    assert result.finish_reason == "stop"


def test_cancel_event_stops_between_tokens_without_more_compute(loaded: tuple, prompt: list[int]) -> None:
    model, _ = loaded
    cancel, result, got = threading.Event(), GenerationResult(), []
    with fed_inputs(model) as calls:
        for token in generate_ids(model, prompt, max_new_tokens=20, eos_id=None, cancel=cancel, result=result):
            got.append(token)
            if len(got) == 2:
                cancel.set()
    assert len(got) == 2 and len(calls) == 2 and result.finish_reason == "cancelled"


def _messages() -> list[Any]:
    return build_messages([], [("你好", "你好！")], "What is the answer?")


def test_langchain_stream_matches_invoke_and_reports_usage(loaded: tuple) -> None:
    model, tokenizer = loaded
    chat = ChatGLM2Chat(model=model, tokenizer=tokenizer, temperature=0, max_tokens=10, context_window=2048)
    assert (ChatGLM2Chat(model=model, tokenizer=tokenizer).temperature, chat.top_p) == (0.8, 0.8)
    with fed_inputs(model) as calls:
        chunks = list(chat.stream(_messages()))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    texts = [c.content for c in chunks if c.content]
    assert len(texts) >= 5
    final = sum(chunks[1:], chunks[0])
    assert calls[0] == chatglm2_prompt_ids(tokenizer, _messages())
    assert final.usage_metadata["input_tokens"] == len(calls[0])
    assert final.usage_metadata["output_tokens"] == len(calls)  # the last token needs no further forward
    assert final.response_metadata["finish_reason"] == "length"
    assert chat.invoke(_messages()).content == "".join(texts)


def test_langchain_stream_cancels(loaded: tuple) -> None:
    model, tokenizer = loaded
    chat = ChatGLM2Chat(model=model, tokenizer=tokenizer, max_tokens=50, seed=0)
    cancel = threading.Event()
    chunks = []
    for chunk in chat.stream(_messages(), cancel_event=cancel):
        chunks.append(chunk)
        cancel.set()
    merged = sum(chunks[1:], chunks[0])
    assert len([c for c in chunks if c.content]) == 1
    assert merged.response_metadata["finish_reason"] == "cancelled"
    assert 1 <= merged.usage_metadata["output_tokens"] < 5  # a byte-spelled character may take a few


def test_handle_from_settings_counts_exactly_what_the_model_is_fed(tiny_dir: Path) -> None:
    handle = chatglm2_handle(Settings(chatglm2_path=tiny_dir, chatglm2_device="cpu", max_new_tokens=16))
    assert handle.label == "ChatGLM2-6B (cpu, bfloat16)"
    assert handle.context_window == 2048 and handle.exact and handle.generative
    messages = _messages()
    with fed_inputs(handle.model.model) as calls:
        for _ in handle.model.stream(messages, max_tokens=2):
            pass
    assert handle.count_prompt(messages) == len(calls[0]) > 20
    assert (handle.model.temperature, handle.model.top_p, handle.model.max_tokens) == (0.8, 0.8, 16)
    override = chatglm2_handle(Settings(chatglm2_path=tiny_dir, chatglm2_device="cpu", context_window=1000))
    assert override.context_window == 1000 == override.model.context_window
    assert override.model.model is handle.model.model  # new settings, same weights: loaded once
    with pytest.raises(LLMUnavailable, match="KBA_CHATGLM2_PATH"):
        chatglm2_handle(Settings(chatglm2_path=None))


def test_the_caller_is_not_left_in_inference_mode_between_tokens(loaded: tuple, prompt: list[int]) -> None:
    model, _ = loaded
    for _ in generate_ids(model, prompt, max_new_tokens=2, eos_id=None):
        assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
