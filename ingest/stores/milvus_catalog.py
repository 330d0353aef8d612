"""The catalog: one row per knowledge base in a shared collection, the one place a write commits.

A row holds a knowledge base's record as JSON: which collections hold it (their key), the
embedder, dimension and window size it was built with, the committed generation, the next free ids and the
totals people see. Writing one row is atomic in Milvus, so every change becomes visible in one
write: a write's new rows are invisible until the row names their generation, and a rebuild's new
collections until the row names their key. Rows of names that start with '.' are staging rows
(a rebuild in progress), never listed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from ingest.stores.milvus_connect import Milvus, literal
from ingest.stores.milvus_schema import MAX_VARCHAR, SCHEMA_VERSION, SLOT

CATALOG = "kba_catalog"


@dataclass(frozen=True)
class Record:
    """What the catalog says about one knowledge base."""

    key: str
    embedder: str
    dim: int
    keywords: str  # "terms" or "jieba": how its BM25 field was analysed (milvus_schema.py)
    files: str  # folder id of its originals under <data_dir>/.milvus/ (milvus_admin.py)
    window_chars: int | None = None  # the window size its vectors were embedded with (None: not recorded)
    schema: int = SCHEMA_VERSION
    generation: int = 0
    next_document: int = 1
    next_chunk: int = 1
    next_passage: int = 1
    passages: int = 0
    windows: int = 0
    characters: int = 0
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def committed(self, **changes: int) -> Record:
        """The record of the next generation, with ``changes``."""
        return replace(self, generation=self.generation + 1, **changes)


def ensure_catalog(milvus: Milvus) -> None:
    """Create the catalog collection if this Milvus has none yet."""
    if milvus.call("has_collection", CATALOG):
        if str(milvus.call("get_load_state", CATALOG).get("state", "")).rsplit(".", 1)[-1] != "Loaded":
            milvus.call("load_collection", CATALOG)
        return
    from pymilvus import DataType

    client = milvus.client
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("name", DataType.VARCHAR, is_primary=True, max_length=512)
    schema.add_field("info", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("slot", DataType.FLOAT_VECTOR, dim=len(SLOT))
    milvus.call("create_collection", CATALOG, schema=schema, consistency_level="Strong")
    index = client.prepare_index_params()
    index.add_index("slot", index_type="FLAT", metric_type="IP")
    milvus.call("create_index", CATALOG, index, sync=False)
    milvus.call("load_collection", CATALOG)


def read(milvus: Milvus, name: str) -> Record | None:
    """The record of ``name``, or None when the catalog has none (or it cannot be read)."""
    rows = milvus.call("query", CATALOG, filter=f"name == {literal(name)}", output_fields=["info"])
    return _parse(rows[0]["info"]) if rows else None


def read_raw(milvus: Milvus, name: str) -> dict | None:
    """The stored JSON of ``name`` as it is (for a record this version cannot parse)."""
    rows = milvus.call("query", CATALOG, filter=f"name == {literal(name)}", output_fields=["info"])
    if not rows:
        return None
    try:
        value = json.loads(rows[0]["info"])
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def write(milvus: Milvus, name: str, record: Record) -> None:
    """Make ``record`` the one of ``name`` (a single-row upsert: atomic)."""
    milvus.call("upsert", CATALOG, [{"name": name, "info": json.dumps(asdict(record)), "slot": SLOT}])


def delete(milvus: Milvus, name: str) -> None:
    milvus.call("delete", CATALOG, filter=f"name == {literal(name)}")


def names(milvus: Milvus) -> list[str]:
    """Every name in the catalog, staging rows too."""
    rows = milvus.call("query", CATALOG, filter='name != ""', output_fields=["name"], limit=16_384)
    return sorted(row["name"] for row in rows)


def _parse(info: str) -> Record | None:
    try:
        return Record(**json.loads(info))
    except (TypeError, ValueError):
        return None
