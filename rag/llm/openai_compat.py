"""Backend for any OpenAI-compatible chat server: vLLM, FastChat, Ollama, ChatGLM2's openai_api.py.

Prompt tokens are counted on this side (the server does not say before it answers): each
message's content with the ``tokenizer_path`` counter (one token per character when unset), plus
MESSAGE_OVERHEAD tokens per message and PROMPT_OVERHEAD once. Those allowances cover the chat
template the server wraps around the messages, which we cannot see: ChatML spends about 5 tokens
per message and 3 to open the reply, ChatGLM2's "[Round N]\\n\\n问：...\\n\\n答：" about 14 per
question/answer pair plus [gMASK] sop, Llama-2's [INST] markers about 8. So even with the model's
own tokenizer the count is exact for the text and a small over-estimate for the template.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from rag.config import Settings
from rag.llm.base import LLMHandle, LLMUnavailable
from rag.prompts import message_text
from rag.tokens import counter_from_path

MESSAGE_OVERHEAD = 8
PROMPT_OVERHEAD = 8
FALLBACK_CONTEXT_WINDOW = 8192
DISCOVERY_TIMEOUT_S = 3.0
# Keys servers use for the context length in GET /v1/models: vLLM, LM Studio / OpenRouter, others.
_WINDOW_KEYS = ("max_model_len", "context_length", "context_window", "max_context_length")


class BadServerReply(Exception):
    """The server answered, but not in the OpenAI format (an HTML error page, a web UI on that port)."""


def openai_handle(settings: Settings) -> LLMHandle:
    """A streaming ChatOpenAI for ``settings.openai_base_url`` plus its token budget facts.

    Raises LLMUnavailable when no URL is set or the tokenizer_path is unusable. A server that is
    down does not raise here: the first question reports it (see describe_llm_error).
    """
    import openai
    from langchain_openai import ChatOpenAI

    if not settings.openai_base_url:
        raise LLMUnavailable(
            "no OpenAI-compatible server configured: set KBA_OPENAI_BASE_URL, e.g. http://127.0.0.1:8000/v1"
        )
    base_url = settings.openai_base_url.rstrip("/")
    try:
        counter = counter_from_path(settings.tokenizer_path)
    except (ValueError, ImportError) as exc:
        raise LLMUnavailable(f"{exc}. Fix or unset KBA_TOKENIZER_PATH.") from exc
    model = ChatOpenAI(
        base_url=base_url,
        model=settings.openai_model,
        api_key=settings.openai_api_key,
        streaming=True,
        timeout=settings.openai_timeout_s,
        max_retries=0,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_tokens=settings.max_new_tokens,
        # langchain-openai sends max_tokens as "max_completion_tokens", which older FastChat,
        # Ollama and llama.cpp servers ignore; sending both bounds the answer everywhere.
        extra_body={"max_tokens": settings.max_new_tokens},
        http_client=openai.DefaultHttpxClient(event_hooks={"response": [_check_reply]}),
        http_async_client=openai.DefaultAsyncHttpxClient(event_hooks={"response": [_acheck_reply]}),
    )
    label = f"OpenAI-compatible server: {settings.openai_model} at {base_url}"
    window = settings.context_window
    if window is None:
        window, why = discover_context_window(
            base_url,
            settings.openai_model,
            settings.openai_api_key,
            min(DISCOVERY_TIMEOUT_S, settings.openai_timeout_s),
        )
        if window is None:
            window = FALLBACK_CONTEXT_WINDOW
            label += f" (context window {window} assumed: {why})"

    def count_prompt(messages: list[Any]) -> int:
        return PROMPT_OVERHEAD + sum(counter.count(message_text(m)) + MESSAGE_OVERHEAD for m in messages)

    return LLMHandle(
        label=label,
        model=model,
        context_window=window,
        count_prompt=count_prompt,
        tokenizer_name=counter.name,
        exact=counter.exact,
        generative=True,
    )


def discover_context_window(base_url: str, model: str, api_key: str, timeout_s: float) -> tuple[int | None, str]:
    """Ask ``GET {base_url}/models`` for the model's context length, once.

    Returns (tokens, "") or (None, why not). vLLM reports ``max_model_len``; Ollama and
    ChatGLM2's openai_api.py list models without a length.
    """
    url = f"{base_url.rstrip('/')}/models"
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout_s)
        response.raise_for_status()
        cards = response.json().get("data") or []
    except httpx.HTTPError as exc:
        return None, f"{url} did not answer ({describe_llm_error(exc)})"
    except (ValueError, AttributeError):
        return None, f"{url} did not return an OpenAI model list"
    card = next((c for c in cards if isinstance(c, dict) and c.get("id") == model), None)
    if card is None:
        names = ", ".join(str(c.get("id")) for c in cards if isinstance(c, dict)) or "none"
        return None, f"the server does not list model {model!r} (it lists: {names})"
    for key in _WINDOW_KEYS:
        if isinstance(card.get(key), int) and card[key] > 0:
            return card[key], ""
    return None, "the server does not report it; set KBA_CONTEXT_WINDOW"


def _is_foreign(response: Any) -> bool:
    kind = response.headers.get("content-type", "")
    return response.status_code == 200 and "json" not in kind and "event-stream" not in kind


def _foreign_reply(response: Any) -> BadServerReply:
    return BadServerReply(
        f"the server at {_server_of(response.request)} did not answer in the OpenAI format (HTTP 200, "
        f"Content-Type {response.headers.get('content-type') or 'none'}): {_excerpt(response.text)}"
    )


# Response hooks take an httpx2.Response: openai>=3 talks through httpx2, a fork of httpx.
def _check_reply(response: Any) -> None:
    if _is_foreign(response):
        response.read()
        raise _foreign_reply(response)


async def _acheck_reply(response: Any) -> None:
    if _is_foreign(response):
        await response.aread()
        raise _foreign_reply(response)


def describe_llm_error(exc: BaseException) -> str:
    """One line a person can act on, for an error raised while talking to the model server.

    Understands openai's exceptions (and langchain-openai's subclasses of them), raw httpx and
    httpx2 transport errors, broken JSON and BadServerReply; anything else becomes
    "the language model failed: Type: message".
    """
    import openai

    if isinstance(exc, (BadServerReply, LLMUnavailable)):
        return str(exc)
    request = _request_of(exc)
    where = f" at {_server_of(request)}" if request is not None else ""
    if isinstance(exc, (openai.APITimeoutError, TimeoutError)) or _is_http_error(exc, "TimeoutException"):
        seconds = _timeout_of(request)
        after = f" within {seconds:g} s" if seconds else " in time"
        return (
            f"the OpenAI-compatible server{where} did not answer{after} (timeout): it may be overloaded "
            "or the answer too long; try again or raise KBA_OPENAI_TIMEOUT_S"
        )
    if isinstance(exc, openai.APIConnectionError) or _is_http_error(exc, "TransportError"):
        cause = _root_cause(exc)
        reason = "connection refused" if isinstance(cause, ConnectionRefusedError) else _excerpt(str(cause))
        return f"cannot reach the OpenAI-compatible server{where}: {reason}. Is it running?"
    if isinstance(exc, openai.NotFoundError):
        return (
            f"the server{where} has no model {_model_of(request)!r} (HTTP 404: {_status_text(exc)}): set "
            "KBA_OPENAI_MODEL to a model it serves (GET /v1/models lists them) and check that "
            "KBA_OPENAI_BASE_URL ends in /v1"
        )
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return f"the server{where} refused the API key (HTTP {exc.status_code}): set KBA_OPENAI_API_KEY"
    if isinstance(exc, openai.APIStatusError):
        return f"the OpenAI-compatible server{where} failed with HTTP {exc.status_code}: {_status_text(exc)}"
    if isinstance(exc, json.JSONDecodeError):
        return f"the server sent a broken event stream or reply (not JSON): {_excerpt(exc.doc)}"
    if isinstance(exc, openai.APIResponseValidationError) or (
        isinstance(exc, ValueError) and re.search(r"response type|generation chunks", str(exc))
    ):
        return f"the server did not answer in the OpenAI chat-completions format: {_excerpt(str(exc))}"
    return f"the language model failed: {type(exc).__name__}: {_excerpt(str(exc))}"


def _is_http_error(exc: BaseException, name: str) -> bool:
    """isinstance for httpx and httpx2 alike, which define the same exception tree."""
    return any(c.__name__ == name and c.__module__.startswith("httpx") for c in type(exc).__mro__)


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return seen


def _request_of(exc: BaseException) -> Any:
    try:
        request = exc.request  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when none was attached
        return None
    return request if hasattr(request, "url") and hasattr(request, "extensions") else None


def _server_of(request: Any) -> str:
    return re.sub(r"/(chat/)?completions$|/models$", "", str(request.url))


def _timeout_of(request: Any) -> float | None:
    timeout = request.extensions.get("timeout") if request is not None else None
    return timeout.get("read") if isinstance(timeout, dict) else None


def _model_of(request: Any) -> str:
    try:
        return str(json.loads(request.content).get("model")) if request is not None else "?"
    except (ValueError, AttributeError, RuntimeError):  # RuntimeError: a streamed body, not read
        return "?"


def _status_text(exc: Any) -> str:
    try:
        text = exc.response.text
    except (AttributeError, RuntimeError):
        text = ""
    return _excerpt(text or str(exc.message))


def _excerpt(text: str | bytes, limit: int = 200) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
