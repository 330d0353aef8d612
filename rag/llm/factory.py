"""Pick the LLM backend from the settings; each backend's heavy imports happen only in its branch.

llm_backend   used when
auto          chatglm2 if chatglm2_path is set, else openai if openai_base_url is set,
              else extractive
chatglm2      local ChatGLM2-6B weights (rag.llm.chatglm2)
openai        any OpenAI-compatible server (rag.llm.openai_compat)
extractive    no model: quotes the best sentences of the sources (rag.llm.extractive)
"""

from __future__ import annotations

import re

from rag.config import Settings
from rag.llm.base import LLMHandle, LLMUnavailable

CHATGLM2_FILES = "config.json, tokenizer.model and pytorch_model-*.bin"
FALLBACK_NOTE = "Answering extractively (quoting the sources) until this is fixed."


def resolve_backend(settings: Settings) -> str:
    """The backend ``llm_backend`` stands for ('auto' resolved)."""
    if settings.llm_backend != "auto":
        return settings.llm_backend
    if settings.chatglm2_path:
        return "chatglm2"
    return "openai" if settings.openai_base_url else "extractive"


def get_llm(settings: Settings) -> LLMHandle:
    """The configured chat model with what the context packer needs to know about it.

    Raises LLMUnavailable, saying what to do, when the configured backend cannot be used.
    """
    backend = resolve_backend(settings)
    if backend == "chatglm2":
        return _chatglm2(settings)
    if backend == "openai":
        if not settings.openai_base_url:
            raise LLMUnavailable(
                "llm_backend is 'openai' but no server is configured: set KBA_OPENAI_BASE_URL, "
                "e.g. http://127.0.0.1:8000/v1"
            )
        from rag.llm.openai_compat import openai_handle

        return openai_handle(settings)
    from rag.llm.extractive import extractive_handle

    return extractive_handle(settings)


def get_llm_or_extractive(settings: Settings) -> tuple[LLMHandle, str | None]:
    """get_llm, or the extractive backend and a one-paragraph warning when that is unavailable."""
    try:
        return get_llm(settings), None
    except LLMUnavailable as exc:
        from rag.llm.extractive import extractive_handle

        reason = str(exc).rstrip()
        end = "" if reason.endswith((".", "!", "?", "。")) else "."
        return extractive_handle(settings), f"{reason}{end} {FALLBACK_NOTE}"


def _looks_like_hub_id(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", text) is not None


def _chatglm2(settings: Settings) -> LLMHandle:
    path = settings.chatglm2_path
    if path is None:
        raise LLMUnavailable(
            f"llm_backend is 'chatglm2' but KBA_CHATGLM2_PATH is not set: set it to the ChatGLM2-6B "
            f"folder ({CHATGLM2_FILES})"
        )
    # A relative "THUDM/chatglm2-6b" that is no folder may be a Hugging Face id in the local cache.
    if not path.expanduser().exists() and not _looks_like_hub_id(str(path)):
        raise LLMUnavailable(
            f"ChatGLM2 folder not found: {path}. Set KBA_CHATGLM2_PATH to the folder holding "
            f"{CHATGLM2_FILES}, or unset it"
        )
    try:
        from rag.llm.chatglm2 import chatglm2_handle
    except ImportError as exc:
        raise LLMUnavailable(f"the ChatGLM2 backend cannot be imported ({exc}): install requirements.txt") from exc
    try:
        return chatglm2_handle(settings)
    except LLMUnavailable:
        raise
    except Exception as exc:  # loading 12 GB of weights fails in many ways; the UI falls back on any
        raise LLMUnavailable(
            f"ChatGLM2 could not be loaded from {path}: {type(exc).__name__}: {' '.join(str(exc).split())}"
        ) from exc
