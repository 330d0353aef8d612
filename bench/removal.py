"""Part 6, removal: deleting one document from a knowledge base whose index is an HNSW graph.

A synthetic store (bench/synthetic.py) of SIZE one-window chunks, opened the way the app opens it
(the index rebuilt from SQLite, HNSW past FLAT_LIMIT), then through ``KnowledgeBase.apply``:
one 100-chunk document added (the reference), one removed as shipped (tombstones), and one
removed with ``MAX_DEAD_FRACTION = 0``, which makes every removal rebuild the graph from SQLite:
what the store did before tombstones. All three on the same store, in the same run.
"""

from __future__ import annotations

import hashlib
import shutil
from typing import Any

import faiss
import numpy as np

from bench.common import CORPUS, RunOptions, load_average, stopwatch, write_json
from bench.synthetic import (
    CHUNKS_PER_DOC,
    SentencePool,
    build_store,
    embedder_base,
    synthetic_texts,
    synthetic_vectors,
)
from ingest.stores import PreparedDocument, vectors
from ingest.stores.embedded import EmbeddedStore as KnowledgeBase
from ingest.types import ChunkText
from rag.config import Settings

SIZE = 300_000
TEXT_CHARS = 300


def _timed_apply(kb: KnowledgeBase, upserts: list[PreparedDocument], removals: list[str]) -> float:
    with stopwatch() as took:
        kb.apply(upserts, removals)
    return round(took[0], 3)


def run(opts: RunOptions) -> dict[str, Any]:
    """Build the store, time the three updates, write removal.json and return its content."""
    spec = "hashing" if opts.quick else Settings().embedder
    size = 3_000 if opts.quick else SIZE
    folder = opts.work / "removal"
    shutil.rmtree(folder, ignore_errors=True)
    started_load = load_average()
    flat_limit = vectors.FLAT_LIMIT
    if opts.quick:
        vectors.FLAT_LIMIT = 1_000  # so that the smoke run exercises the graph too
    try:
        name, base = embedder_base(spec)
        rng = np.random.default_rng(size)
        texts, terms = synthetic_texts(SentencePool.from_folder(CORPUS), size + CHUNKS_PER_DOC, TEXT_CHARS, rng)
        matrix = synthetic_vectors(base, size + CHUNKS_PER_DOC, rng)
        with stopwatch() as built:
            build_store(folder, name, texts[:size], terms[:size], matrix[:size]).close()
        for stale in folder.glob("vectors-*"):
            stale.unlink()  # opened as the app opens it: rebuilt from SQLite, as the right index type
        kb = KnowledgeBase.open(folder, writable=True)
        with stopwatch() as opened:
            kb.verify_index()  # rebuilt from SQLite and saved, as the app's start-up check does
        index_type = type(faiss.downcast_index(kb._index.index.index)).__name__
        extra = PreparedDocument(
            "extra.txt",
            "txt",
            1,
            hashlib.sha256(b"extra").hexdigest(),
            [ChunkText(t) for t in texts[size:]],
            [row[None, :] for row in matrix[size:]],
            b"extra",
        )
        add_s = _timed_apply(kb, [extra], [])
        tombstone_s = _timed_apply(kb, [], ["doc000000.txt"])
        tombstones = len(kb._index.dead)
        dead_fraction = vectors.MAX_DEAD_FRACTION
        vectors.MAX_DEAD_FRACTION = 0.0
        try:
            rebuild_s = _timed_apply(kb, [], ["doc000001.txt"])
        finally:
            vectors.MAX_DEAD_FRACTION = dead_fraction
        kb.close()
    finally:
        vectors.FLAT_LIMIT = flat_limit
        shutil.rmtree(folder, ignore_errors=True)
    result = {
        "quick": opts.quick,
        "chunks": size,
        "document_chunks": CHUNKS_PER_DOC,
        "index_type": index_type,
        "store_build_s": round(built[0], 1),
        "open_and_build_index_s": round(opened[0], 1),
        "add_document_s": add_s,
        "remove_document_tombstones_s": tombstone_s,
        "tombstones_after_removal": tombstones,
        "remove_document_rebuild_s": rebuild_s,
        "rebuild_over_tombstones": round(rebuild_s / max(tombstone_s, 1e-6), 1),
        "max_dead_fraction": vectors.MAX_DEAD_FRACTION,
        "load_average": {"start": started_load, "end": load_average()},
    }
    write_json(opts.out / "removal.json", result)
    return result
