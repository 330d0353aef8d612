"""What the pages share per process: settings, the loaded model, assistants, running ingests.

Each heavy object is made by a core loader inside ``st.cache_resource``, so it loads once per
process, not once per rerun or per browser tab. Writes to a knowledge base still go through the
pipeline's file lock; the registry here only lets the pages show, and not double-start, an ingest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import streamlit as st

from ingest.pipeline import IngestReport
from ingest.uploads import remove_stale_uploads
from rag.chain import Assistant
from rag.config import Settings
from rag.llm.base import LLMHandle
from rag.llm.factory import get_llm_or_extractive
from ui.jobs import Job

# Settings the LLM handle is built from; a change to any of them needs a new handle.
LLM_FIELDS = frozenset(
    {
        "llm_backend",
        "openai_base_url",
        "openai_model",
        "openai_api_key",
        "openai_timeout_s",
        "chatglm2_path",
        "chatglm2_device",
        "chatglm2_quantization",
        "tokenizer_path",
        "context_window",
        "max_new_tokens",
        "temperature",
        "top_p",
    }
)


@st.cache_resource(show_spinner=False)
def base_settings() -> Settings:
    """Settings from the environment and config file, read once per process (which also clears
    what a killed upload left in the staging folder)."""
    settings = Settings()
    remove_stale_uploads(settings.data_dir)
    return settings


def llm_key(settings: Settings) -> str:
    """The part of the settings that decides which LLM handle is needed."""
    return settings.model_dump_json(include=set(LLM_FIELDS))


# One handle at a time: a second ChatGLM2 copy would double 13 GB of (GPU) memory.
@st.cache_resource(max_entries=1, show_spinner="正在加载语言模型… / Loading the language model…")
def load_llm(key: str, _settings: Settings) -> tuple[LLMHandle, str | None]:
    """The LLM handle for ``key`` (its settings passed alongside, unhashed) and any fallback warning."""
    return get_llm_or_extractive(_settings)


class AssistantPool:
    """Assistants by their full settings, all sharing the one loaded LLM handle."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, Assistant] = {}

    def get(self, settings: Settings, handle: LLMHandle, warning: str | None) -> Assistant:
        """The assistant for ``settings``; ones built on an unloaded handle are dropped."""
        key = settings.model_dump_json()
        with self._lock:
            self._by_key = {k: a for k, a in self._by_key.items() if a.llm is handle}
            if key not in self._by_key:
                self._by_key[key] = Assistant(settings, llm=handle, llm_warning=warning)
            return self._by_key[key]

    def forget(self, kb_name: str) -> None:
        """Make every assistant reopen ``kb_name`` (after a rebuild or a delete swapped its files)."""
        with self._lock:
            assistants = list(self._by_key.values())
        for assistant in assistants:
            assistant.forget(kb_name)


@st.cache_resource(show_spinner=False)
def assistant_pool() -> AssistantPool:
    """The process's assistants."""
    return AssistantPool()


def get_assistant(settings: Settings) -> Assistant:
    """The assistant for these settings, loading the LLM the first time it is needed."""
    handle, warning = load_llm(llm_key(settings), settings)
    return assistant_pool().get(settings, handle, warning)


class IngestRegistry:
    """The ingest running on each knowledge base, so a page can follow it and not start a second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def running(self, settings: Settings, kb: str) -> Job | None:
        """The unfinished ingest of ``kb``, if any."""
        job = self._jobs.get(f"{settings.data_dir}/{kb}")
        return job if job is not None and not job.done else None

    def start(self, settings: Settings, kb: str, label: str, work: Callable[[Job], IngestReport]) -> Job | None:
        """Start ``work`` for ``kb`` in the background; None if an ingest of ``kb`` is still running."""
        with self._lock:
            if self.running(settings, kb) is not None:
                return None
            job = Job(label, work)
            self._jobs[f"{settings.data_dir}/{kb}"] = job
            return job.start()


@st.cache_resource(show_spinner=False)
def ingest_registry() -> IngestRegistry:
    """The process's running ingests."""
    return IngestRegistry()
