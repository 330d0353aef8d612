"""The Milvus store's own guarantees (Milvus Lite): crashes between the steps of a write, rebuilds
beside the old collections, other processes, and one-line errors. Behaviour both backends share is
tested in test_store.py and test_pipeline.py."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import REPO, cli_env

from ingest.embeddings import HashingEmbedder
from ingest.errors import IndexMismatch, KnowledgeBaseError, KnowledgeBaseNotFound
from ingest.stores import (
    KnowledgeStore,
    PreparedDocument,
    create_store,
    delete_store,
    knowledge_bases,
    open_store,
    recover_interrupted,
    replace_store,
)
from ingest.stores import milvus_catalog as catalog
from ingest.stores.milvus import MilvusStore
from ingest.types import ChunkText
from ingest.windows import window_texts
from rag.config import Settings

EMBEDDER = HashingEmbedder()


@pytest.fixture
def store_backend() -> str:
    return "milvus"


@pytest.fixture
def kb(settings: Settings) -> MilvusStore:
    store = create_store(settings, "t", EMBEDDER.name, EMBEDDER.dim)
    yield store
    store.close()


def prepared(name: str, texts: list[str]) -> PreparedDocument:
    chunks = [ChunkText(t, heading="节", lines=(i + 1, i + 1)) for i, t in enumerate(texts)]
    vectors = [EMBEDDER.encode_passages(window_texts(t, 30)) for t in texts]
    content = f"{name}:{texts}".encode()
    return PreparedDocument(name, "txt", len(content), hashlib.sha256(content).hexdigest(), chunks, vectors, content)


ALL = ("documents", "chunks", "passages", "windows")


def _rows(kb: MilvusStore, expr: str, collections: tuple[str, ...] = ALL) -> dict[str, int]:
    """Rows matching ``expr`` in the knowledge base's ``collections``, by collection."""
    return {what: len(kb._milvus.rows(getattr(kb.collections, what), expr, ["id"])) for what in collections}


def _hit_docs(kb: KnowledgeStore, query: str) -> set[str]:
    hits = kb.keyword_search(query, 10)
    return {c.doc_name for c in kb.passages(i for i, _ in hits).values()}


CRASH_POINTS = {
    "between staging batches": ("write", 2),
    "after staging, before the switch": ("index", 0),
    "after the switch, before the cleanup": ("index", -1),
}


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_write_interrupted_between_its_steps_leaves_one_whole_generation_and_the_next_write_recovers(
    kb: MilvusStore, settings: Settings, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    monkeypatch.setattr("ingest.stores.milvus_write.BATCH_CHUNKS", 2)
    kb.apply([prepared("a.txt", ["原来的内容：红色苹果", "共享的段落：版权声明"]), prepared("b.txt", ["乙文件：香蕉"])])
    before = kb.generation
    stage, done = CRASH_POINTS[point]

    def crash(s: str, d: int, total: int) -> None:
        if s == stage and d == (total if done == -1 else done):
            raise KeyboardInterrupt

    replacement = prepared("a.txt", ["共享的段落：版权声明", *(f"替换的第{i}段：绿色葡萄" for i in range(5))])
    with pytest.raises(KeyboardInterrupt):
        kb.apply([replacement, prepared("c.txt", ["新文件：橙子"])], ["b.txt"], crash)

    reader = open_store(settings, "t", EMBEDDER.name)
    switched = done == -1
    assert reader.generation == before + switched
    if switched:
        assert sorted(reader.document_hashes()) == ["a.txt", "c.txt"]
        assert _hit_docs(reader, "红色苹果") == set() and _hit_docs(reader, "绿色葡萄") == {"a.txt"}
        assert _rows(kb, f"died <= {before + 1}", ("documents",))["documents"] == 2  # retired, not yet deleted
    else:
        assert sorted(reader.document_hashes()) == ["a.txt", "b.txt"]
        assert [c.text for c in reader.chunks_of("a.txt")] == ["原来的内容：红色苹果", "共享的段落：版权声明"]
        assert _hit_docs(reader, "绿色葡萄") == set() and _hit_docs(reader, "红色苹果") == {"a.txt"}
        assert sum(_rows(kb, f"born > {before}").values()) > 0  # the interrupted write's rows, unseen
    assert _hit_docs(reader, "版权声明") == {"a.txt"}

    kb.apply([prepared("d.txt", ["之后的写入：西瓜"])])  # recovers first
    assert sum(_rows(kb, f"born > {kb.generation}").values()) == 0
    assert _rows(kb, f"died < {1 << 62}", ("documents",))["documents"] == 0  # no retired or half-retired documents left
    expected = ["a.txt", "c.txt", "d.txt"] if switched else ["a.txt", "b.txt", "d.txt"]
    assert sorted(reader.document_hashes()) == expected
    stats = reader.stats()
    assert _rows(kb, "id >= 0")["passages"] == stats["passages"]  # orphans gone, totals exact
    assert _rows(kb, "id >= 0")["windows"] == stats["windows"]
    reader.close()


KILL_SCRIPT = """
import os, sys
from pathlib import Path
from ingest import pipeline
from rag.config import Settings

def die(stage, done, total):
    if stage == "index" and done == total:
        os._exit(9)  # killed right after the switch, before the cleanup

settings = Settings(embedder="hashing", chunk_size=200, chunk_overlap=40)
pipeline.add_files(settings, "k", [pipeline.IncomingFile("a.md", Path(sys.argv[1]))], die)
"""


def test_a_writer_killed_after_the_switch_leaves_the_new_state_and_the_next_writer_cleans_up(
    settings: Settings, tmp_path: Path
) -> None:
    from ingest import pipeline

    note = tmp_path / "a.md"
    note.write_text("# 甲\n\n第一版：蓝色的海。", encoding="utf-8")
    pipeline.add_files(settings, "k", [pipeline.IncomingFile("a.md", note)])
    note.write_text("# 甲\n\n第二版：金色的沙。", encoding="utf-8")
    killed = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(note)], cwd=REPO, env=cli_env(settings), capture_output=True
    )
    assert killed.returncode == 9, killed.stderr
    store = pipeline.open_kb(settings, "k")
    assert store.chunks_of("a.md")[0].text.endswith("第二版：金色的沙。")
    assert (
        _rows(store, f"died <= {store.generation}", ("documents",))["documents"] == 1
    )  # the old version, not yet deleted
    store.close()
    writer = open_store(settings, "k", writable=True)
    assert writer.verify_index() is True and writer.verify_index() is False  # cleaned up, then nothing to do
    assert _rows(writer, "id >= 0")["documents"] == 1
    writer.close()


def test_a_rebuild_switches_in_one_write_and_an_open_reader_follows_it(kb: MilvusStore, settings: Settings) -> None:
    kb.apply([prepared("a.txt", ["重建之前的内容：铁锅"])])
    reader = open_store(settings, "t", EMBEDDER.name)
    old_key = reader.collections.key

    def fill(new: KnowledgeStore) -> str:
        new.apply([prepared("a.txt", ["重建之后的内容：铜壶"])])
        assert _hit_docs(reader, "铜壶") == set()  # filled beside the old collections, unseen
        return "filled"

    assert replace_store(settings, "t", EMBEDDER.name, EMBEDDER.dim, fill) == "filled"
    assert _hit_docs(reader, "铜壶") == {"a.txt"} and reader.collections.key != old_key
    collections = kb._milvus.call("list_collections")
    assert not [c for c in collections if c.startswith(old_key)]  # the old ones are dropped
    assert knowledge_bases(settings) == ["t"]
    with pytest.raises(RuntimeError, match="half way"):
        replace_store(settings, "t", EMBEDDER.name, EMBEDDER.dim, _fails_half_way)
    assert _hit_docs(reader, "铜壶") == {"a.txt"} and knowledge_bases(settings) == ["t"]
    reader.close()


def _fails_half_way(new: KnowledgeStore) -> None:
    new.apply([prepared("a.txt", ["不完整的重建"])])
    raise RuntimeError("half way")


def test_a_rebuild_with_another_embedder_makes_open_readers_say_so(kb: MilvusStore, settings: Settings) -> None:
    kb.apply([prepared("a.txt", ["内容"])])
    reader = open_store(settings, "t")
    replace_store(settings, "t", "other-embedder", 8, lambda new: None)
    with pytest.raises(IndexMismatch, match="built with embedder 'other-embedder'"):
        reader.documents()
    reader.close()


REBUILD_KILL_SCRIPT = """
import os, sys
from ingest import stores
from rag.config import Settings

def fill(new):
    os._exit(9)

stores.replace_store(Settings(), "t", "hashing-char12-512", 512, fill)
"""


def test_a_rebuild_killed_before_its_switch_is_cleaned_up_by_the_next_writer(
    kb: MilvusStore, settings: Settings
) -> None:
    kb.apply([prepared("a.txt", ["留下来的内容"])])
    key = kb.collections.key
    kb.close()
    killed = subprocess.run(
        [sys.executable, "-c", REBUILD_KILL_SCRIPT], cwd=REPO, env=cli_env(settings), capture_output=True
    )
    assert killed.returncode == 9, killed.stderr
    recover_interrupted(settings, "t")
    store = open_store(settings, "t", EMBEDDER.name)
    assert store.collections.key == key and sorted(store.document_hashes()) == ["a.txt"]
    prefix = key.rsplit("_", 1)[0]
    assert {c.rsplit("_", 1)[0] for c in store._milvus.call("list_collections") if c.startswith(prefix)} == {key}
    assert catalog.names(store._milvus) == ["t"]  # no staging row
    store.close()


def test_delete_removes_the_row_the_collections_and_the_originals(kb: MilvusStore, settings: Settings) -> None:
    kb.apply([prepared("a.txt", ["要删除的知识库"])])
    files, key = kb._originals.folder, kb.collections.key
    assert files.is_relative_to(settings.data_dir) and len(list(files.iterdir())) == 1
    milvus = kb._milvus
    delete_store(settings, "t")
    assert not files.exists() and not [c for c in milvus.call("list_collections") if c.startswith(key)]
    with pytest.raises(KnowledgeBaseNotFound, match="'t' does not exist"):
        open_store(settings, "t")


def test_a_layout_from_another_version_is_refused(kb: MilvusStore, settings: Settings) -> None:
    record = catalog.read(kb._milvus, "t")
    catalog.write(kb._milvus, "t", replace(record, schema=99))
    with pytest.raises(IndexMismatch, match=r"another version of this program \(layout 99"):
        open_store(settings, "t")


def test_a_kb_only_in_the_embedded_store_is_named_with_the_migrate_command(settings: Settings) -> None:
    embedded = settings.model_copy(update={"store": "embedded"})
    create_store(embedded, "old", EMBEDDER.name, EMBEDDER.dim).close()
    with pytest.raises(KnowledgeBaseNotFound, match="python -m ingest migrate --kb old --to milvus"):
        open_store(settings, "old")


def test_jieba_keywords_find_chinese_words(settings: Settings) -> None:
    jieba = settings.model_copy(update={"milvus_keywords": "jieba"})
    store = create_store(jieba, "j", EMBEDDER.name, EMBEDDER.dim)
    store.apply([prepared("a.txt", ["向量数据库支持全文检索。", "今天天气很好。"])])
    assert _hit_docs(store, "全文检索") == {"a.txt"} and store.keyword_search("的 了", 5) == []
    store.close()


def test_an_unreachable_server_is_one_line_naming_its_uri(settings: Settings) -> None:
    down = settings.model_copy(update={"milvus_uri": "http://127.0.0.1:9"})
    with pytest.raises(KnowledgeBaseError, match=r"^cannot reach Milvus at http://127\.0\.0\.1:9: [^\n]+$"):
        knowledge_bases(down)
    run = subprocess.run(
        [sys.executable, "-m", "ingest", "kbs"], cwd=REPO, env=cli_env(down), capture_output=True, text=True
    )
    assert run.returncode == 2 and run.stderr.startswith("error: cannot reach Milvus at http://127.0.0.1:9")
    assert len(run.stderr.strip().splitlines()) == 1


HOLD_SCRIPT = """
import sys, time
from ingest import stores
from rag.config import Settings

store = stores.open_store(Settings(), "t")
print("holding", flush=True)
time.sleep(30)
"""


def test_a_lite_file_another_process_holds_is_said_in_one_line(kb: MilvusStore, settings: Settings) -> None:
    kb.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT], cwd=REPO, env=cli_env(settings), stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(KnowledgeBaseError, match="another process is using it") as caught:
            knowledge_bases(settings)
        assert "\n" not in str(caught.value)
    finally:
        holder.kill()
        holder.wait()
    assert knowledge_bases(settings) == ["t"]  # free again once that process is gone


def test_a_read_that_overlaps_a_commit_is_done_again(kb: MilvusStore, settings: Settings) -> None:
    kb.apply([prepared("a.txt", ["第一版"])])
    reader = open_store(settings, "t")
    seen: list[int] = []

    def work(record: catalog.Record) -> int:
        seen.append(record.generation)
        if len(seen) == 1:
            kb.apply([prepared("b.txt", ["第二个文档"])])  # commits while the read runs
        return len(reader._documents(record))

    assert reader._read(work) == 2 and seen == [1, 2]
    reader.close()
