"""Knowledge-base stores: the interface (base.py) and its backends, picked by ``settings.store``.

embedded   SQLite + FTS5 + FAISS in a folder per knowledge base (embedded.py), the default
milvus     collections in a Milvus server, cluster or Milvus Lite file (milvus.py, milvus_admin.py);
           pymilvus is imported only when it is used
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import TypeVar

from ingest.errors import KnowledgeBaseNotFound
from ingest.names import validate_kb_name
from ingest.settings import IngestSettings
from ingest.stores.base import (
    KnowledgeStore,
    PreparedDocument,
    Scored,
    WriteProgress,
    embedding_context,
    no_progress,
    text_sha,
    vector_key,
)
from ingest.stores.embedded import EmbeddedStore, list_knowledge_bases
from ingest.stores.sqlite import DB_NAME

T = TypeVar("T")

__all__ = [
    "KnowledgeStore",
    "PreparedDocument",
    "Scored",
    "WriteProgress",
    "create_store",
    "delete_store",
    "embedding_context",
    "knowledge_bases",
    "no_progress",
    "open_store",
    "recover_interrupted",
    "replace_store",
    "store_exists",
    "store_identity",
    "text_sha",
    "vector_key",
]


def _milvus(settings: IngestSettings) -> bool:
    return settings.store == "milvus"


def _admin():  # type: ignore[no-untyped-def]  # imported lazily: pymilvus and grpc take a second to load
    from ingest.stores import milvus_admin

    return milvus_admin


def store_exists(settings: IngestSettings, name: str) -> bool:
    """Whether knowledge base ``name`` exists (in any readable or unreadable state)."""
    if _milvus(settings):
        return _admin().store_exists(settings, validate_kb_name(name))
    return (settings.kb_dir(name) / DB_NAME).is_file()


def knowledge_bases(settings: IngestSettings) -> list[str]:
    """Names of the knowledge bases of these settings."""
    if _milvus(settings):
        return _admin().knowledge_bases(settings)
    return list_knowledge_bases(settings.data_dir)


def store_identity(settings: IngestSettings, name: str) -> str:
    """A value that changes when knowledge base ``name`` is rebuilt or recreated ('' when it does not
    exist): a process holding it open should then open it again."""
    if _milvus(settings):
        return _admin().identity(settings, validate_kb_name(name))
    try:
        return str((settings.kb_dir(name) / DB_NAME).stat().st_ino)
    except OSError:
        return ""


def open_store(
    settings: IngestSettings, name: str, embedder_name: str | None = None, writable: bool = False
) -> KnowledgeStore:
    """Open knowledge base ``name`` for reading (or, holding its write lock, for writing)."""
    if _milvus(settings):
        return _admin().open_store(settings, validate_kb_name(name), embedder_name, writable)
    return EmbeddedStore.open(settings.kb_dir(name), embedder_name, writable)


def create_store(
    settings: IngestSettings, name: str, embedder_name: str, dim: int, window_chars: int | None = None
) -> KnowledgeStore:
    """Create an empty knowledge base, open for writing, that records the window size its vectors
    are embedded with (None: not recorded)."""
    if _milvus(settings):
        return _admin().create_store(settings, validate_kb_name(name), embedder_name, dim, window_chars)
    return EmbeddedStore.create(settings.kb_dir(name), embedder_name, dim, window_chars)


def delete_store(settings: IngestSettings, name: str) -> None:
    """Remove a knowledge base and everything it holds (hold its write lock)."""
    if _milvus(settings):
        return _admin().delete_store(settings, validate_kb_name(name))
    folder = settings.kb_dir(name)
    if not (folder / DB_NAME).is_file():
        raise KnowledgeBaseNotFound(f"knowledge base '{name}' does not exist")
    trash = folder.with_name(f".{name}.deleting")
    shutil.rmtree(trash, ignore_errors=True)
    folder.rename(trash)
    shutil.rmtree(trash)


def recover_interrupted(settings: IngestSettings, name: str) -> None:
    """Finish what a killed write to ``name`` left half done (hold its write lock): a rebuild
    killed between its two renames gets the old knowledge base back; leftover staging copies go."""
    if _milvus(settings):
        return _admin().recover_interrupted(settings, validate_kb_name(name))
    folder = settings.kb_dir(name)
    retired = folder.with_name(f".{name}.retired")
    if retired.is_dir() and not (folder / DB_NAME).is_file():
        shutil.rmtree(folder, ignore_errors=True)
        retired.rename(folder)
    for leftover in (retired, folder.with_name(f".{name}.rebuilding"), folder.with_name(f".{name}.deleting")):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in folder.parent.glob(f".{name}.creating-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def replace_store(
    settings: IngestSettings,
    name: str,
    embedder_name: str,
    dim: int,
    fill: Callable[[KnowledgeStore], T],
    window_chars: int | None = None,
) -> T:
    """Build a new, empty store for ``name`` beside the old one (recording ``window_chars`` as
    create_store does), ``fill`` it, and swap it in whole (hold the write lock). If ``fill`` fails,
    the old store is untouched. With no old store, the filled one appears whole (a migration)."""
    if _milvus(settings):
        return _admin().replace_store(settings, validate_kb_name(name), embedder_name, dim, window_chars, fill)
    folder = settings.kb_dir(name)
    staging = folder.with_name(f".{name}.rebuilding")
    shutil.rmtree(staging, ignore_errors=True)
    new = EmbeddedStore.create(staging, embedder_name, dim, window_chars)
    try:
        result = fill(new)
    except BaseException:
        new.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    new.close()
    if not (folder / DB_NAME).is_file():
        shutil.rmtree(folder, ignore_errors=True)  # nothing to keep: e.g. a Milvus KB's empty folder
        staging.rename(folder)
        return result
    retired = folder.with_name(f".{name}.retired")
    shutil.rmtree(retired, ignore_errors=True)
    folder.rename(retired)
    staging.rename(folder)
    shutil.rmtree(retired)
    return result
