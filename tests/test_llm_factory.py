"""Backend selection: each branch, explicit overrides, and the extractive fallback with its warning."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer

from rag.config import Settings
from rag.llm.base import LLMHandle, LLMUnavailable
from rag.llm.extractive import ExtractiveChat, extractive_handle
from rag.llm.factory import get_llm, get_llm_or_extractive, resolve_backend


def settings(**values: object) -> Settings:
    """Settings with every LLM choice explicit, whatever the environment says."""
    base: dict[str, object] = {
        "llm_backend": "auto",
        "chatglm2_path": None,
        "openai_base_url": None,
        "context_window": 4096,
        "tokenizer_path": None,
    }
    base.update(values)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture
def chatglm2_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Settings]]:
    """Stands in for rag.llm.chatglm2 (whose loader needs 12 GB of weights); records its calls."""
    calls: list[Settings] = []

    def chatglm2_handle(s: Settings) -> LLMHandle:
        calls.append(s)
        handle = extractive_handle(s)
        handle.label = "ChatGLM2-6B (stand-in)"
        return handle

    module = types.ModuleType("rag.llm.chatglm2")
    module.chatglm2_handle = chatglm2_handle  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rag.llm.chatglm2", module)
    yield calls


def test_auto_with_nothing_configured_is_extractive() -> None:
    handle, warning = get_llm_or_extractive(settings())
    assert isinstance(handle.model, ExtractiveChat)
    assert handle.generative is False
    assert warning is None


def test_auto_with_a_server_is_openai() -> None:
    with FakeOpenAIServer() as server:
        handle = get_llm(settings(openai_base_url=server.base_url))
    assert handle.label == f"OpenAI-compatible server: chatglm2-6b at {server.base_url}"
    assert handle.generative is True


def test_auto_prefers_chatglm2_when_its_folder_is_set(tmp_path: Path, chatglm2_module: list[Settings]) -> None:
    configured = settings(chatglm2_path=tmp_path, openai_base_url="http://127.0.0.1:1/v1")
    assert resolve_backend(configured) == "chatglm2"
    assert get_llm(configured).label == "ChatGLM2-6B (stand-in)"
    assert chatglm2_module == [configured]


def test_an_uncached_hub_id_is_handed_to_the_chatglm2_loader(chatglm2_module: list[Settings]) -> None:
    assert get_llm(settings(chatglm2_path=Path("THUDM/chatglm2-6b"))).label == "ChatGLM2-6B (stand-in)"


def test_explicit_backends_win_over_auto(tmp_path: Path, chatglm2_module: list[Settings]) -> None:
    handle = get_llm(settings(llm_backend="extractive", chatglm2_path=tmp_path))
    assert isinstance(handle.model, ExtractiveChat)
    with FakeOpenAIServer() as server:
        handle = get_llm(settings(llm_backend="openai", chatglm2_path=tmp_path, openai_base_url=server.base_url))
    assert handle.label.startswith("OpenAI-compatible server")
    assert chatglm2_module == []


def test_missing_chatglm2_folder_falls_back_with_a_warning(tmp_path: Path) -> None:
    missing = tmp_path / "chatglm2-6b"
    with pytest.raises(LLMUnavailable, match="ChatGLM2 folder not found"):
        get_llm(settings(chatglm2_path=missing))
    handle, warning = get_llm_or_extractive(settings(chatglm2_path=missing))
    assert isinstance(handle.model, ExtractiveChat)
    assert warning == (
        f"ChatGLM2 folder not found: {missing}. Set KBA_CHATGLM2_PATH to the folder holding config.json, "
        "tokenizer.model and pytorch_model-*.bin, or unset it. "
        "Answering extractively (quoting the sources) until this is fixed."
    )


def test_forced_backends_without_their_setting_say_what_to_set() -> None:
    with pytest.raises(LLMUnavailable, match="KBA_CHATGLM2_PATH is not set"):
        get_llm(settings(llm_backend="chatglm2"))
    handle, warning = get_llm_or_extractive(settings(llm_backend="openai"))
    assert isinstance(handle.model, ExtractiveChat)
    assert warning is not None and "set KBA_OPENAI_BASE_URL" in warning


def test_chatglm2_load_failures_become_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(s: Settings) -> LLMHandle:
        raise RuntimeError("CUDA out of memory.\nTried to allocate 12 GiB")

    module = types.ModuleType("rag.llm.chatglm2")
    module.chatglm2_handle = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rag.llm.chatglm2", module)
    _, warning = get_llm_or_extractive(settings(chatglm2_path=tmp_path))
    assert warning is not None
    assert warning.startswith(
        f"ChatGLM2 could not be loaded from {tmp_path}: RuntimeError: CUDA out of memory. Tried to allocate 12 GiB"
    )
    monkeypatch.setitem(sys.modules, "rag.llm.chatglm2", None)  # the import itself fails
    with pytest.raises(LLMUnavailable, match="ChatGLM2 backend cannot be imported"):
        get_llm(settings(chatglm2_path=tmp_path))
