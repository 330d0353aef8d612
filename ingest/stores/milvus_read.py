"""The queries behind the Milvus store's reads, each at one committed generation (milvus.py).

Milvus has no joins: a chunk is read as its row, then its passage's row (text, heading) and its
document's row (the name, from the live documents, read once per generation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.stores.base import Scored
from ingest.stores.milvus_connect import Milvus
from ingest.stores.milvus_schema import Collections
from ingest.stores.vectors import HNSW_EF_SEARCH
from ingest.types import DocumentInfo, StoredChunk
from ingest.windows import blended, passage_score

WINDOW_FANOUT = 4  # as the embedded store: windows read per passage asked for
CHUNK_FIELDS = ["id", "doc_id", "ordinal", "passage_id", "page", "line_start", "line_end", "kind", "ocr"]
DOC_FIELDS = ["id", "name", "kind", "size_bytes", "sha256", "added_at", "chunks", "born", "died"]


@dataclass(frozen=True)
class LiveDocument:
    """A document row of the committed generation."""

    id: int
    name: str
    kind: str
    size_bytes: int
    sha256: str
    added_at: str
    chunks: int
    born: int
    died: int

    def info(self) -> DocumentInfo:
        return DocumentInfo(self.name, self.kind, self.size_bytes, self.sha256, self.chunks, self.added_at)


def live_documents(milvus: Milvus, names: Collections, generation: int) -> dict[int, LiveDocument]:
    """The documents of ``generation`` by id."""
    expr = f"born <= {generation} and died > {generation}"
    rows = milvus.rows(names.documents, expr, DOC_FIELDS)
    return {int(r["id"]): LiveDocument(**{f: r[f] for f in DOC_FIELDS}) for r in rows}


def chunks_of(milvus: Milvus, names: Collections, doc: LiveDocument, also: str = "") -> list[StoredChunk]:
    """The chunks of ``doc`` (that match ``also``) in reading order."""
    expr = f"doc_id == {doc.id}" + (f" and {also}" if also else "")
    rows = sorted(milvus.rows(names.chunks, expr, CHUNK_FIELDS), key=lambda r: r["ordinal"])
    return stored_chunks(milvus, names, rows, {doc.id: doc})


def first_chunks(
    milvus: Milvus, names: Collections, ids: list[int], documents: dict[int, LiveDocument]
) -> dict[int, StoredChunk]:
    """Passage id -> its first chunk (lowest id) in a live document; passages none holds are left out."""
    first: dict[int, dict] = {}
    for row in milvus.rows_in(names.chunks, "passage_id", ids, CHUNK_FIELDS):
        pid = int(row["passage_id"])
        if int(row["doc_id"]) in documents and (pid not in first or row["id"] < first[pid]["id"]):
            first[pid] = row
    return dict(zip(first, stored_chunks(milvus, names, list(first.values()), documents), strict=True))


def stored_chunks(
    milvus: Milvus, names: Collections, rows: list[dict], documents: dict[int, LiveDocument]
) -> list[StoredChunk]:
    """StoredChunks of chunk rows, with their passages' text and heading."""
    passage_ids = [r["passage_id"] for r in rows]
    texts = {int(p["id"]): p for p in milvus.rows_in(names.passages, "id", passage_ids, ["id", "text", "heading"])}
    chunks = []
    for r in rows:
        passage = texts[int(r["passage_id"])]
        lines = (r["line_start"], r["line_end"]) if r["line_start"] is not None else None
        name = documents[int(r["doc_id"])].name
        chunks.append(
            StoredChunk(
                int(r["id"]), name, int(r["ordinal"]), passage["text"], r["page"], passage["heading"], lines,
                r["kind"], bool(r["ocr"]),
            )
        )  # fmt: skip
    return chunks


def keyword_hits(milvus: Milvus, names: Collections, text: str, k: int, generation: int) -> Scored:
    """BM25 over the passages' keyword field. Milvus Lite gives BM25 scores as negative distances,
    a server as positive scores, both best first: the magnitude is the score."""
    hits = milvus.call(
        "search",
        names.passages,
        data=[text],
        anns_field="sparse",
        limit=k,
        filter=f"born <= {generation}",
        output_fields=["id"],
        search_params={"metric_type": "BM25"},
    )[0]
    return [(int(hit["id"]), abs(float(hit["distance"]))) for hit in hits]


def dense_hits(
    milvus: Milvus, names: Collections, query: np.ndarray, k: int, mean_weight: float, generation: int
) -> Scored:
    """The ``k`` passages nearest ``query``: their best window blended with ``mean_weight`` of their
    windows' mean direction (stored with each passage), as the embedded store scores them."""
    limit = k * WINDOW_FANOUT
    hits = milvus.call(
        "search",
        names.windows,
        data=[query.tolist()],
        anns_field="vector",
        limit=limit,
        filter=f"born <= {generation}",
        output_fields=["passage_id"],
        search_params={"metric_type": "IP", "params": {"ef": max(HNSW_EF_SEARCH, limit)}},
    )[0]
    best: dict[int, float] = {}
    for hit in hits:  # best first
        best.setdefault(int(hit["entity"]["passage_id"]), float(hit["distance"]))
    if mean_weight and best:
        for row in milvus.rows_in(names.passages, "id", best, ["id", "mean"]):
            whole = float(np.asarray(row["mean"], np.float32) @ query)
            best[int(row["id"])] = blended(best[int(row["id"])], whole, mean_weight)
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]


def dense_scores(
    milvus: Milvus, names: Collections, query: np.ndarray, ids: list[int], mean_weight: float
) -> dict[int, float]:
    """Passage id -> its dense score for ``query`` from its stored windows (ingest.windows.passage_score)."""
    passages = milvus.rows_in(names.passages, "id", ids, ["id", "windows"])
    matrices = window_matrices(milvus, names, {int(p["id"]): int(p["windows"]) for p in passages})
    return {pid: passage_score(matrix, query, mean_weight) for pid, matrix in matrices.items()}


def window_matrices(milvus: Milvus, names: Collections, windows: dict[int, int]) -> dict[int, np.ndarray]:
    """(windows, dim) matrices of passages (passage id -> its window count); incomplete ones left out."""
    rows = milvus.rows_in(names.windows, "passage_id", windows, ["id", "passage_id", "vector"])
    by_passage: dict[int, list[tuple[int, list[float]]]] = {}
    for row in rows:
        by_passage.setdefault(int(row["passage_id"]), []).append((int(row["id"]), row["vector"]))
    return {
        pid: np.asarray([v for _, v in sorted(found)], np.float32)
        for pid, found in by_passage.items()
        if len(found) == windows[pid]
    }
