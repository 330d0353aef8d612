"""The Milvus collections of one knowledge base, and how keywords become BM25 input.

Milvus has no joins and no transactions, so every row carries what a reader needs to decide
whether it is part of the committed generation G (the catalog row, milvus_catalog.py, holds G):

    <key>_documents  id, name, kind, size_bytes, sha256, added_at, chunks, born, died
                     live at G when born <= G < died (died = LIVE until a write replaces it)
    <key>_chunks     id, doc_id, ordinal, passage_id, page, line_start, line_end, kind, ocr, born
                     part of G when its document is
    <key>_passages   id, sha, text_sha, heading, text, chars, windows, keywords -> BM25 sparse,
                     mean (the windows' mean direction), born: searched when born <= G
    <key>_windows    id (passage id << WINDOW_BITS | window), passage_id, vector, born

A passage is one distinct (heading, text) of one document, shared by the chunks of it that repeat it. Milvus needs a
vector field in every collection: documents and chunks carry a constant two-dimensional ``slot``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ingest.keywords import STOPWORDS, keyword_tokens
from ingest.stores.milvus_connect import Milvus
from ingest.stores.vectors import HNSW_NEIGHBOURS

SCHEMA_VERSION = 1
LIVE = 1 << 62  # ``died`` of a document no write has replaced
MAX_VARCHAR = 65_535  # Milvus's longest VARCHAR, in bytes
SLOT = [1.0, 0.0]
BM25_PARAMS = {"bm25_k1": 1.2, "bm25_b": 0.75}  # SQLite FTS5's bm25() constants (the embedded store)


@dataclass(frozen=True)
class Collections:
    """The names of one knowledge base's four collections."""

    key: str

    @property
    def documents(self) -> str:
        return f"{self.key}_documents"

    @property
    def chunks(self) -> str:
        return f"{self.key}_chunks"

    @property
    def passages(self) -> str:
        return f"{self.key}_passages"

    @property
    def windows(self) -> str:
        return f"{self.key}_windows"

    def all(self) -> tuple[str, str, str, str]:
        return (self.documents, self.chunks, self.passages, self.windows)


def key_prefix(kb_name: str) -> str:
    """What every collection key of knowledge base ``kb_name`` starts with (names may be Chinese:
    collection names may not)."""
    return f"kba_{hashlib.blake2b(kb_name.encode(), digest_size=6).hexdigest()}_"


def new_key(kb_name: str) -> str:
    """A fresh key for a new set of collections of ``kb_name`` (a rebuild makes one beside the old)."""
    return key_prefix(kb_name) + secrets.token_hex(4)


def keyword_document(whole: str, mode: str) -> str:
    """What the passages' BM25 field holds for ``whole`` (base.keyword_text: path, heading,
    text): our terms (ingest/keywords.py) as tokens, or the raw text for Milvus's jieba analyzer."""
    return whole if mode == "jieba" else term_tokens(keyword_tokens(whole))


def keyword_query(query: str, mode: str) -> str:
    """The BM25 query text for ``query``: its distinct terms as tokens (as FTS5 ORs them), or the raw text."""
    return query if mode == "jieba" else term_tokens(dict.fromkeys(keyword_tokens(query)))


def term_tokens(terms: Iterable[str]) -> str:
    """Terms as space-separated tokens of 13 lower-case hex-like characters each: ``os.kill`` or
    ``1.2.3`` survive every Milvus tokenizer whole (Milvus Lite has no whitespace tokenizer, and
    its standard one splits at '.')."""
    return " ".join("k" + hashlib.blake2b(t.encode(), digest_size=6).hexdigest() for t in terms)


def _analyzer(mode: str) -> dict[str, Any]:
    """jieba over the raw text, or for our hashed terms the standard tokenizer, the same on Lite and a
    server (every Milvus with BM25 has it; the whitespace one is newer, and Lite lacks it)."""
    if mode == "jieba":
        return {"tokenizer": "jieba", "filter": ["lowercase", {"type": "stop", "stop_words": sorted(STOPWORDS)}]}
    return {"tokenizer": "standard"}


def create_collections(milvus: Milvus, names: Collections, dim: int, keywords: str) -> None:
    """Create and load the four collections (Strong consistency: a reader sees every committed write)."""
    from pymilvus import DataType, Function, FunctionType

    client = milvus.client

    def create(name: str, fields: list[tuple], vectors: dict[str, dict], scalars: tuple[str, ...] = ()) -> None:
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        for field_name, dtype, options in fields:
            schema.add_field(field_name, dtype, **options)
        if name == names.passages:
            schema.add_function(Function("bm25", FunctionType.BM25, ["keywords"], ["sparse"]))
        milvus.call("create_collection", name, schema=schema, consistency_level="Strong")
        index = client.prepare_index_params()
        for field_name, params in vectors.items():
            index.add_index(field_name, **params)
        for field_name in scalars:
            index.add_index(field_name, index_type="INVERTED")
        milvus.call("create_index", name, index, sync=False)  # sync would poll every 0.5 s
        milvus.call("load_collection", name)

    long_text = {"max_length": MAX_VARCHAR}
    optional = {"nullable": True}
    slot = ("slot", DataType.FLOAT_VECTOR, {"dim": len(SLOT)})
    slot_index = {"slot": {"index_type": "FLAT", "metric_type": "IP"}}
    identity = ("id", DataType.INT64, {"is_primary": True})
    born = ("born", DataType.INT64, {})
    create(
        names.documents,
        [
            identity,
            ("name", DataType.VARCHAR, {"max_length": 4096}),
            ("kind", DataType.VARCHAR, {"max_length": 256}),
            ("size_bytes", DataType.INT64, {}),
            ("sha256", DataType.VARCHAR, {"max_length": 64}),
            ("added_at", DataType.VARCHAR, {"max_length": 64}),
            ("chunks", DataType.INT64, {}),
            born,
            ("died", DataType.INT64, {}),
            slot,
        ],
        slot_index,
    )
    create(
        names.chunks,
        [
            identity,
            ("doc_id", DataType.INT64, {}),
            ("ordinal", DataType.INT64, {}),
            ("passage_id", DataType.INT64, {}),
            ("page", DataType.INT64, optional),
            ("line_start", DataType.INT64, optional),
            ("line_end", DataType.INT64, optional),
            ("kind", DataType.VARCHAR, {"max_length": 32}),
            ("ocr", DataType.BOOL, {}),
            born,
            slot,
        ],
        slot_index,
        ("doc_id", "passage_id"),
    )
    analyzer = _analyzer(keywords)
    bm25 = {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25", "params": BM25_PARAMS}
    create(
        names.passages,
        [
            identity,
            ("sha", DataType.VARCHAR, {"max_length": 64}),
            ("text_sha", DataType.VARCHAR, {"max_length": 64}),
            ("heading", DataType.VARCHAR, {**long_text, **optional}),
            ("text", DataType.VARCHAR, long_text),
            ("chars", DataType.INT64, {}),
            ("windows", DataType.INT64, {}),
            ("keywords", DataType.VARCHAR, {**long_text, "enable_analyzer": True, "analyzer_params": analyzer}),
            ("sparse", DataType.SPARSE_FLOAT_VECTOR, {}),
            ("mean", DataType.FLOAT_VECTOR, {"dim": dim}),
            born,
        ],
        {"sparse": bm25, "mean": {"index_type": "FLAT", "metric_type": "IP"}},
        ("sha", "text_sha"),
    )
    hnsw = {"index_type": "HNSW", "metric_type": "IP", "params": {"M": HNSW_NEIGHBOURS, "efConstruction": 200}}
    create(
        names.windows,
        [identity, ("passage_id", DataType.INT64, {}), ("vector", DataType.FLOAT_VECTOR, {"dim": dim}), born],
        {"vector": hnsw},
        ("passage_id",),
    )


def drop_collections(milvus: Milvus, names: Collections) -> None:
    """Drop whichever of the four collections exist."""
    existing = set(milvus.call("list_collections"))
    for name in names.all():
        if name in existing:
            milvus.call("drop_collection", name)


def load_collections(milvus: Milvus, names: Collections) -> bool:
    """Make sure the four collections are loaded (Milvus Lite releases them when its file is reopened);
    True when one had to be loaded."""
    loaded = False
    for name in names.all():
        state = milvus.call("get_load_state", name)
        if str(state.get("state", "")).rsplit(".", 1)[-1] != "Loaded":
            milvus.call("load_collection", name)
            loaded = True
    return loaded
