"""Knowledge bases in Milvus as a whole: list, open, create, delete, rebuild beside, recover.

Each knowledge base has a catalog row (milvus_catalog.py) naming its four collections by a key
(milvus_schema.py). Creating one makes its collections first and its row last, so it appears
whole; deleting one removes its row first. A rebuild fills new collections under a staging row
(".<name>.rebuilding"), then points the knowledge base's row at them in one write and drops the
old ones. Whatever a crash leaves behind (collections no row names, a staging row) is removed by
``recover_interrupted``, which every write runs first.

Originals live on disk in <data_dir>/.milvus/<files id>/files/ (originals.py), the id recorded in
the catalog row, so hosts that share data_dir (and the write locks in it) share them too.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ingest.errors import IndexMismatch, KnowledgeBaseError, KnowledgeBaseNotFound
from ingest.settings import IngestSettings
from ingest.stores import milvus_catalog as catalog
from ingest.stores.milvus import MilvusStore
from ingest.stores.milvus_catalog import Record
from ingest.stores.milvus_connect import Milvus, connect, disconnect, target_of
from ingest.stores.milvus_schema import (
    SCHEMA_VERSION,
    Collections,
    create_collections,
    drop_collections,
    key_prefix,
    new_key,
)
from ingest.stores.originals import Originals

T = TypeVar("T")
FILES_ROOT = ".milvus"


def store_exists(settings: IngestSettings, name: str) -> bool:
    """Whether the catalog has a row for ``name`` (readable by this version or not)."""
    return _using(settings, lambda milvus: catalog.read_raw(milvus, name) is not None)


def knowledge_bases(settings: IngestSettings) -> list[str]:
    """Names of the knowledge bases in this Milvus (staging rows left out)."""
    return _using(settings, lambda milvus: [n for n in catalog.names(milvus) if not n.startswith(".")])


def identity(settings: IngestSettings, name: str) -> str:
    """Changes when ``name`` is rebuilt or recreated (its collections' key); '' when it does not exist."""
    record = _using(settings, lambda milvus: catalog.read(milvus, name))
    return record.key if record else ""


def open_store(settings: IngestSettings, name: str, embedder_name: str | None, writable: bool) -> MilvusStore:
    """Open knowledge base ``name``; with ``embedder_name``, insist that it was built with it."""
    milvus = _connect(settings)
    try:
        record = _readable(milvus, settings, name)
        store = MilvusStore(milvus, name, record, _originals(settings, record), writable)
    except BaseException:
        disconnect(milvus.target)
        raise
    try:
        store.check_embedder(embedder_name)
    except IndexMismatch:
        store.close()
        raise
    return store


def create_store(
    settings: IngestSettings, name: str, embedder_name: str, dim: int, window_chars: int | None
) -> MilvusStore:
    """Create an empty knowledge base (writable); it appears whole or not at all."""
    milvus = _connect(settings)
    try:
        if catalog.read_raw(milvus, name) is not None:
            raise KnowledgeBaseError(f"knowledge base '{name}' already exists in {milvus.target.describe()}")
        _drop_unnamed(milvus, name, keep="")
        record = _new_record(milvus, settings, name, embedder_name, dim, window_chars, files=secrets.token_hex(8))
        catalog.write(milvus, name, record)
        return MilvusStore(milvus, name, record, _originals(settings, record), writable=True)
    except BaseException:
        disconnect(milvus.target)
        raise


def delete_store(settings: IngestSettings, name: str) -> None:
    """Remove a knowledge base: its row (it is gone from then on), its collections, its originals."""

    def delete(milvus: Milvus) -> None:
        raw = catalog.read_raw(milvus, name)
        if raw is None:
            raise KnowledgeBaseNotFound(f"knowledge base '{name}' does not exist")
        catalog.delete(milvus, name)
        _drop_unnamed(milvus, name, keep="")
        if isinstance(raw.get("files"), str) and raw["files"].isalnum():
            shutil.rmtree(settings.data_dir / FILES_ROOT / raw["files"], ignore_errors=True)

    _using(settings, delete)


def recover_interrupted(settings: IngestSettings, name: str) -> None:
    """Finish what a killed rebuild, create or delete of ``name`` left (hold its write lock): a
    staging row goes (after the switch it names the live collections; before, its own, dropped),
    and so do collections no row names. Half-done writes are recovered by the next write itself."""

    def recover(milvus: Milvus) -> None:
        live = catalog.read(milvus, name)
        staging = catalog.read(milvus, _staging(name))
        if staging is not None:
            catalog.delete(milvus, _staging(name))
        _drop_unnamed(milvus, name, keep=live.key if live else "")

    _using(settings, recover)


def replace_store(
    settings: IngestSettings,
    name: str,
    embedder_name: str,
    dim: int,
    window_chars: int | None,
    fill: Callable[[MilvusStore], T],
) -> T:
    """Fill new collections for ``name`` beside the old ones and switch to them in one catalog
    write (hold the write lock). If ``fill`` fails, the old knowledge base is untouched."""
    milvus = _connect(settings)
    try:
        old = catalog.read(milvus, name)
        catalog.delete(milvus, _staging(name))
        _drop_unnamed(milvus, name, keep=old.key if old else "")
        files = old.files if old else secrets.token_hex(8)
        record = _new_record(milvus, settings, name, embedder_name, dim, window_chars, files)
        catalog.write(milvus, _staging(name), record)
        new = MilvusStore(_connect(settings), name, record, _originals(settings, record), True, _staging(name))
        new.prune_originals = False  # the old knowledge base still needs its originals until the switch
        try:
            result = fill(new)
            filled = catalog.read(milvus, _staging(name)) or record
        except BaseException:
            new.close()
            catalog.delete(milvus, _staging(name))
            drop_collections(milvus, Collections(record.key))
            raise
        new.close()
        catalog.write(milvus, name, filled)  # the switch
        catalog.delete(milvus, _staging(name))
        _drop_unnamed(milvus, name, keep=filled.key)
        _originals(settings, filled).keep_only(_live_hashes(settings, name))
        return result
    finally:
        disconnect(milvus.target)


def _live_hashes(settings: IngestSettings, name: str) -> list[str]:
    store = open_store(settings, name, None, writable=False)
    try:
        return list(store.document_hashes().values())
    finally:
        store.close()


def _staging(name: str) -> str:
    return f".{name}.rebuilding"


def _connect(settings: IngestSettings) -> Milvus:
    milvus = connect(target_of(settings))
    try:
        catalog.ensure_catalog(milvus)
    except BaseException:
        disconnect(milvus.target)
        raise
    return milvus


def _using(settings: IngestSettings, work: Callable[[Milvus], T]) -> T:
    milvus = _connect(settings)
    try:
        return work(milvus)
    finally:
        disconnect(milvus.target)


def _readable(milvus: Milvus, settings: IngestSettings, name: str) -> Record:
    raw = catalog.read_raw(milvus, name)
    if raw is None:
        hint = ""
        if (settings.kb_dir(name) / "kb.sqlite").is_file():
            hint = f"; it is in the embedded store: python -m ingest migrate --kb {name} --to milvus"
        raise KnowledgeBaseNotFound(f"knowledge base '{name}' does not exist in {milvus.target.describe()}{hint}")
    record = catalog.read(milvus, name)
    if record is None or record.schema != SCHEMA_VERSION:
        raise IndexMismatch(
            f"knowledge base '{name}' in {milvus.target.describe()} was written by another version of this "
            f"program (layout {raw.get('schema', 'unknown')}, this version reads {SCHEMA_VERSION}): open it "
            "with that version"
        )
    return record


def _new_record(
    milvus: Milvus, settings: IngestSettings, name: str, embedder: str, dim: int, window_chars: int | None, files: str
) -> Record:
    key = new_key(name)
    try:
        create_collections(milvus, Collections(key), dim, settings.milvus_keywords)
    except BaseException:
        drop_collections(milvus, Collections(key))
        raise
    return Record(
        key=key, embedder=embedder, dim=dim, keywords=settings.milvus_keywords, files=files, window_chars=window_chars
    )


def _drop_unnamed(milvus: Milvus, name: str, keep: str) -> None:
    """Drop the collections of ``name`` that belong to no key but ``keep``."""
    prefix = key_prefix(name)
    keys = {c.rsplit("_", 1)[0] for c in milvus.call("list_collections") if c.startswith(prefix)}
    for key in keys - {keep}:
        drop_collections(milvus, Collections(key))


def _originals(settings: IngestSettings, record: Record) -> Originals:
    return Originals(Path(settings.data_dir) / FILES_ROOT / record.files)
