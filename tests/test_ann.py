"""The graph index past FLAT_LIMIT: new windows and repeated vectors are searched exactly beside it.

A store made past a small FLAT_LIMIT, with a block of near-duplicate windows (a share of them
identical) and documents added one at a time: the case where windows inserted into the graph
were lost (bench/ann_recall.py). The graph is made deliberately weak (few neighbours, a short
search list), so only the exact parts can make these tests pass.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import faiss
import numpy as np
import pytest

from ingest.stores import PreparedDocument, vectors
from ingest.stores.embedded import EmbeddedStore
from ingest.types import ChunkText

DIM = 16


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _document(name: str, windows: list[np.ndarray]) -> PreparedDocument:
    """One chunk per entry of ``windows`` (a (count, DIM) matrix each)."""
    content = name.encode()
    chunks = [ChunkText(f"{name} 第{i}段") for i in range(len(windows))]
    return PreparedDocument(name, "txt", len(content), hashlib.sha256(content).hexdigest(), chunks, windows, content)


@pytest.fixture
def weak_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors, "FLAT_LIMIT", 100)
    monkeypatch.setattr(vectors, "HNSW_NEIGHBOURS", 2)
    monkeypatch.setattr(vectors, "HNSW_EF_SEARCH", 1)
    monkeypatch.setattr(vectors, "SIDE_SHARE", 0.5)


@pytest.fixture
def store(tmp_path: Path, weak_graph: None) -> EmbeddedStore:
    """200 diverse windows and 4 documents of 100 near-duplicates of one centre each (a quarter of them
    identical to it): a graph of 504 distinct vectors and 96 repeats."""
    rng = np.random.default_rng(3)
    diverse = _unit(rng.standard_normal((200, DIM)))
    centres = _unit(rng.standard_normal((4, DIM)))
    kb = EmbeddedStore.create(tmp_path / "kb", "test-vectors", DIM)
    docs = [_document("base.txt", [row[None, :] for row in diverse])]
    for number, centre in enumerate(centres):
        near = _unit(centre + 0.05 * rng.standard_normal((100, DIM)))
        near[::4] = centre
        docs.append(_document(f"big{number}.md", [row[None, :] for row in near]))
    kb.apply(docs)
    yield kb
    kb.close()


def _new_documents(count: int) -> list[tuple[str, list[np.ndarray]]]:
    rng = np.random.default_rng(7)
    return [(f"new{i}.txt", [_unit(rng.standard_normal((2, DIM))) for _ in range(2)]) for i in range(count)]


def _top_passage_doc(kb: EmbeddedStore, vector: np.ndarray) -> str:
    [(passage, _)] = kb.dense_search(vector, 1)
    return kb.passages([passage])[passage].doc_name


def test_every_new_window_is_found_at_rank_1_for_its_own_vector(store: EmbeddedStore) -> None:
    assert isinstance(faiss.downcast_index(store._index.index.index), faiss.IndexHNSWFlat)
    assert store._index.parts["repeats"].ntotal == 100 - 4  # equal to a vector already in the graph
    added = []
    for name, windows in _new_documents(20):
        store.apply([_document(name, windows)])
        added.append((name, windows))
        for doc, chunks in added:
            for window in np.concatenate(chunks):
                assert _top_passage_doc(store, window) == doc
    assert store._index.side.ntotal == 80  # all of them beside the graph, none rebuilt into it yet


def test_a_side_index_past_its_share_is_folded_into_a_new_graph(store: EmbeddedStore) -> None:
    graph = store._index.index
    for name, windows in _new_documents(76):  # 304 windows > SIDE_SHARE of the 504 in the graph
        store.apply([_document(name, windows)])
    assert store._index.index is not graph and store._index.index.ntotal > graph.ntotal
    assert store._index.side.ntotal < 304 and len(store._index.dead) == 0


def test_removal_skips_tombstones_in_the_graph_and_leaves_the_exact_parts(store: EmbeddedStore) -> None:
    new = _new_documents(3)
    store.apply([_document(name, windows) for name, windows in new[:2]])
    store.apply([_document(*new[2])])
    big = np.stack([np.frombuffer(m, np.float32) for m in _vectors_of(store, "big1.md")])
    graph = store._index.index
    store.apply([], ["big1.md", "new1.txt"])  # graph windows, repeats and side windows all go
    assert store._index.index is graph and len(store._index.dead) == 76  # 76 of big1's 100 were in the graph
    assert store._index.parts["repeats"].ntotal == 96 - 24 and store._index.side.ntotal == 8
    for query in [*big, *np.concatenate(new[1][1])]:
        found = {p.doc_name for p in store.passages(i for i, _ in store.dense_search(query, 50)).values()}
        assert found and not found & {"big1.md", "new1.txt"}
    for name in ("new0.txt", "new2.txt"):
        assert _top_passage_doc(store, new[int(name[3])][1][1][0]) == name


def test_another_instance_reads_the_same_parts_and_results(
    store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, windows in _new_documents(5):
        store.apply([_document(name, windows)])
    store.apply([], ["new2.txt"])
    queries = _unit(np.random.default_rng(11).standard_normal((30, DIM)))
    before = [store.dense_search(q, 10) for q in queries]
    other = EmbeddedStore.open(store.folder)
    assert not other._index.rebuilt_from_sqlite
    assert [other.dense_search(q, 10) for q in queries] == before
    assert other._index.side.ntotal == store._index.side.ntotal == 16
    assert other._index.parts["repeats"].ntotal == 96
    other.close()
    for part in store.folder.glob("vectors-*.side"):
        part.unlink()  # a part missing: the checksum fails and the index is rebuilt from SQLite
    rebuilt = EmbeddedStore.open(store.folder)
    monkeypatch.setattr(vectors, "HNSW_EF_SEARCH", 2048)  # the new windows are in the rebuilt graph now
    _, new = _new_documents(5)[4]
    assert _top_passage_doc(rebuilt, new[0][0]) == "new4.txt"
    assert rebuilt._index.rebuilt_from_sqlite and rebuilt._index.side.ntotal == 0
    rebuilt.close()


def _vectors_of(kb: EmbeddedStore, name: str) -> list[bytes]:
    rows = kb._query(
        "SELECT p.vectors FROM chunks c JOIN documents d ON d.id = c.doc_id JOIN passages p ON p.id = c.passage_id "
        "WHERE d.name = ? ORDER BY c.ordinal",
        (name,),
    )
    return [blob for (blob,) in rows]
