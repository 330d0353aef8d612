"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 that speaks the protocol."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from rag.config import Settings
from rag.llm.base import LLMHandle, LLMUnavailable
from rag.llm.openai_compat import (
    FALLBACK_CONTEXT_WINDOW,
    MESSAGE_OVERHEAD,
    PROMPT_OVERHEAD,
    describe_llm_error,
    openai_handle,
)

CHATGLM2_MODEL = Path(__file__).parents[2] / "shared" / "models" / "chatglm2-6b" / "tokenizer.model"
MESSAGES: list[BaseMessage] = [
    SystemMessage("只根据资料回答。"),
    HumanMessage("上一个问题"),
    AIMessage("上一个回答 [1]"),
    HumanMessage(
        "资料 (Sources):\n<<<\n[1] (a.md)\n答案是 42。\n>>>\n资料结束 (End of sources).\n\n"
        "问题 (Question):\n答案是多少？"
    ),
]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


def make_handle(base_url: str, **overrides: object) -> LLMHandle:
    values: dict[str, object] = {"openai_base_url": base_url, "openai_timeout_s": 5.0, "context_window": None}
    values.update(overrides)
    return openai_handle(Settings(**values))  # type: ignore[arg-type]


def error_line(handle: LLMHandle) -> str:
    with pytest.raises(Exception) as caught:
        for _ in handle.model.stream(MESSAGES):
            pass
    line = describe_llm_error(caught.value)
    assert "\n" not in line
    return line


def test_streams_token_by_token_and_sends_messages_and_parameters(server: FakeOpenAIServer) -> None:
    handle = make_handle(server.base_url, max_new_tokens=64, temperature=0.3, top_p=0.9, openai_api_key="k")
    pieces = [chunk.content for chunk in handle.model.stream(MESSAGES)]
    assert [p for p in pieces if p] == server.pieces
    (request,) = server.chat_requests
    body = request.body
    assert body is not None
    assert body["messages"] == [
        {"role": "system", "content": "只根据资料回答。"},
        {"role": "user", "content": "上一个问题"},
        {"role": "assistant", "content": "上一个回答 [1]"},
        {"role": "user", "content": MESSAGES[-1].content},
    ]
    assert body["model"] == "chatglm2-6b"
    assert body["stream"] is True
    assert (body["temperature"], body["top_p"]) == (0.3, 0.9)
    assert body["max_tokens"] == body["max_completion_tokens"] == 64
    assert request.headers["authorization"] == "Bearer k"


def test_invoke_and_async_stream_give_the_whole_answer(server: FakeOpenAIServer) -> None:
    handle = make_handle(server.base_url)
    assert handle.model.invoke(MESSAGES).content == "".join(server.pieces)

    async def collect() -> str:
        return "".join([str(chunk.content) async for chunk in handle.model.astream(MESSAGES)])

    assert asyncio.run(collect()) == "".join(server.pieces)


def test_context_window_is_read_from_the_server(server: FakeOpenAIServer) -> None:
    server.max_model_len = 32768
    handle = make_handle(server.base_url)
    assert handle.context_window == 32768
    assert "assumed" not in handle.label
    assert [r.path for r in server.requests] == ["/v1/models"]


def test_configured_context_window_wins_and_asks_nothing(server: FakeOpenAIServer) -> None:
    handle = make_handle(server.base_url, context_window=4096)
    assert handle.context_window == 4096
    assert server.requests == []


def test_context_window_falls_back_when_the_server_does_not_say(server: FakeOpenAIServer) -> None:
    server.max_model_len = None  # Ollama-style model list
    handle = make_handle(server.base_url)
    assert handle.context_window == FALLBACK_CONTEXT_WINDOW
    assert "context window 8192 assumed" in handle.label
    assert "KBA_CONTEXT_WINDOW" in handle.label
    other = make_handle(server.base_url, openai_model="qwen")
    assert "does not list model 'qwen' (it lists: chatglm2-6b)" in other.label


def test_count_prompt_estimates_without_a_tokenizer(server: FakeOpenAIServer) -> None:
    handle = make_handle(server.base_url, context_window=4096)
    assert handle.exact is False
    chars = sum(len(str(m.content)) for m in MESSAGES)
    assert handle.count_prompt(MESSAGES) == chars + len(MESSAGES) * MESSAGE_OVERHEAD + PROMPT_OVERHEAD


def test_count_prompt_with_the_chatglm2_tokenizer(server: FakeOpenAIServer) -> None:
    handle = make_handle(server.base_url, context_window=4096, tokenizer_path=CHATGLM2_MODEL)
    assert handle.exact is True
    assert "ChatGLM2" in handle.tokenizer_name
    estimate = make_handle(server.base_url, context_window=4096).count_prompt(MESSAGES)
    assert len(MESSAGES) * MESSAGE_OVERHEAD + PROMPT_OVERHEAD < handle.count_prompt(MESSAGES) < estimate


def test_a_bad_tokenizer_path_or_no_url_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(LLMUnavailable, match=r"does not exist.*KBA_TOKENIZER_PATH"):
        make_handle("http://127.0.0.1:1/v1", context_window=4096, tokenizer_path=tmp_path / "nope.model")
    with pytest.raises(LLMUnavailable, match="KBA_OPENAI_BASE_URL"):
        openai_handle(Settings(openai_base_url=None))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_down() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    handle = make_handle(url)  # building the handle does not fail: the first question says why
    assert f"context window 8192 assumed: {url}/models did not answer" in handle.label
    expected = f"cannot reach the OpenAI-compatible server at {url}: connection refused. Is it running?"
    assert error_line(handle) == expected


@pytest.mark.parametrize("mode", ["slow", "stall"])
def test_server_too_slow(server: FakeOpenAIServer, mode: str) -> None:
    server.mode, server.delay_s = mode, 1.0
    handle = make_handle(server.base_url, context_window=4096, openai_timeout_s=0.3)
    line = error_line(handle)
    assert line.startswith(f"the OpenAI-compatible server at {server.base_url} did not answer within 0.3 s (timeout)")
    assert "KBA_OPENAI_TIMEOUT_S" in line


def test_server_error_500_shows_the_body(server: FakeOpenAIServer) -> None:
    server.mode = "500"
    line = error_line(make_handle(server.base_url, context_window=4096))
    assert line.startswith(f"the OpenAI-compatible server at {server.base_url} failed with HTTP 500: ")
    assert "CUDA out of memory" in line


def test_garbage_reply_is_named_with_an_excerpt(server: FakeOpenAIServer) -> None:
    server.mode = "garbage"
    handle = make_handle(server.base_url, context_window=4096)
    expected = (
        f"the server at {server.base_url} did not answer in the OpenAI format (HTTP 200, Content-Type "
        "text/html): <html><body>502 Bad Gateway (nginx)</body></html>"
    )
    assert error_line(handle) == expected
    with pytest.raises(Exception) as caught:
        handle.model.invoke(MESSAGES)
    assert describe_llm_error(caught.value) == expected


def test_broken_event_stream(server: FakeOpenAIServer) -> None:
    server.mode = "broken_sse"
    line = error_line(make_handle(server.base_url, context_window=4096))
    assert line.startswith("the server sent a broken event stream or reply (not JSON): ")
    assert '{"choices": [{"delta": {"content": "x"' in line


def test_unknown_model_404(server: FakeOpenAIServer) -> None:
    line = error_line(make_handle(server.base_url, context_window=4096, openai_model="chatglm3"))
    assert line.startswith(f"the server at {server.base_url} has no model 'chatglm3' (HTTP 404: ")
    assert "The model `chatglm3` does not exist." in line
    assert "KBA_OPENAI_MODEL" in line


def test_other_errors_are_one_line() -> None:
    assert describe_llm_error(LLMUnavailable("no model")) == "no model"
    assert describe_llm_error(RuntimeError("CUDA error:\n  device-side assert")) == (
        "the language model failed: RuntimeError: CUDA error: device-side assert"
    )
