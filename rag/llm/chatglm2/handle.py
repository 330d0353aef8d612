"""chatglm2_handle: the ChatGLM2 backend built from Settings, with exact prompt token counts."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.llm.base import LLMHandle, LLMUnavailable
from rag.llm.chatglm2.chat_model import ChatGLM2Chat, chatglm2_prompt_ids
from rag.llm.chatglm2.loader import load_chatglm2


def describe(model: object) -> str:
    """Where and how a loaded model runs, e.g. 'cuda, float16' or 'cuda, 4-bit'."""
    info = getattr(model, "chatglm2_info", None)
    quantization = getattr(model, "chatglm2_quantization", "none")
    device = str(model.device).removesuffix(":0")  # type: ignore[attr-defined]
    precision = (
        quantization.replace("bit", "-bit") if quantization != "none" else str(model.dtype).removeprefix("torch.")
    )  # type: ignore[attr-defined]
    return f"{info.name if info else 'ChatGLM2'} ({device}, {precision})"


_LOADED: dict[tuple[str, str | None, str], tuple[Any, Any]] = {}
_LOADING = threading.Lock()


def load_once(path: Path | str, device: str | None, quantization: str) -> tuple[Any, Any]:
    """load_chatglm2, memoised: sampling settings change without reloading ~13 GB of weights.

    One model at a time: loading another drops the previous one first, so two never share memory.
    """
    key = (str(path), device, quantization)
    with _LOADING:
        if key not in _LOADED:
            _LOADED.clear()
            _LOADED[key] = load_chatglm2(path, device=device, quantization=quantization)
        return _LOADED[key]


def chatglm2_handle(settings: Settings) -> LLMHandle:
    """Load ChatGLM2 from ``settings.chatglm2_path`` and wrap it for the answer chain.

    The context window is config.json's ``seq_length`` unless ``settings.context_window`` is set;
    prompt tokens are counted with the model's own tokenizer on the exact ids it will be fed.
    Raises LLMUnavailable (with a message for the user) when the model cannot be loaded.
    """
    if settings.chatglm2_path is None:
        raise LLMUnavailable("no ChatGLM2 model configured: set KBA_CHATGLM2_PATH to its folder or cached id")
    model, tokenizer = load_once(settings.chatglm2_path, settings.chatglm2_device, settings.chatglm2_quantization)
    window = settings.context_window or model.chatglm2_info.seq_length
    chat = ChatGLM2Chat(
        model=model,
        tokenizer=tokenizer,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_tokens=settings.max_new_tokens,
        context_window=window,
        model_name=model.chatglm2_info.name,
    )
    return LLMHandle(
        label=describe(model),
        model=chat,
        context_window=window,
        count_prompt=lambda messages: len(chatglm2_prompt_ids(tokenizer, messages)),
        tokenizer_name=f"ChatGLM2 SentencePiece ({tokenizer.path.name}, {tokenizer.vocab_size} tokens)",
        exact=True,
    )
