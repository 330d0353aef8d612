"""Ingest end to end: incremental updates, bad input, interruptions, crashes and concurrent writers.

On both store backends (tests/conftest.py); EMBEDDED_ONLY tests damage the embedded store's files."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import BOTH_BACKENDS, CORPUS, EMBEDDED_ONLY, REPO, cli_env

from ingest import pipeline
from ingest.embeddings import get_embedder
from ingest.errors import IndexMismatch, InvalidName, KnowledgeBaseBusy, KnowledgeBaseNotFound
from ingest.locks import write_lock
from ingest.pipeline import IncomingFile
from ingest.stores import embedding_context, text_sha, vector_key
from ingest.types import StoredChunk
from ingest.windows import window_texts
from rag.config import Settings

pytestmark = BOTH_BACKENDS


def _names(settings: Settings, kb: str) -> dict[str, int]:
    store = pipeline.open_kb(settings, kb)
    try:
        return {d.name: d.chunks for d in store.documents()}
    finally:
        store.close()


def _copy_corpus(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    shutil.copytree(CORPUS, source)
    return source


def test_build_lists_every_document_with_chunks(settings: Settings, built_kb: str) -> None:
    docs = _names(settings, built_kb)
    assert set(docs) == {p.name for p in CORPUS.iterdir()}
    assert all(count >= 1 for count in docs.values())


def test_second_build_embeds_nothing(settings: Settings, built_kb: str) -> None:
    report = pipeline.build_from_folder(settings, built_kb, CORPUS)
    assert report.chunks_embedded == 0 and not report.added and not report.updated
    assert sorted(report.unchanged) == sorted(p.name for p in CORPUS.iterdir())
    again = pipeline.add_files(settings, built_kb, [IncomingFile(p.name, p) for p in CORPUS.iterdir()])
    assert again.chunks_embedded == 0 and len(again.unchanged) == len(list(CORPUS.iterdir()))


def test_changed_file_replaces_its_chunks_and_reuses_unchanged_vectors(settings: Settings, tmp_path: Path) -> None:
    source = _copy_corpus(tmp_path)
    pipeline.build_from_folder(settings, "kb", source)
    notes = source / "setup_notes.md"
    notes.write_text(
        notes.read_text(encoding="utf-8") + "\n\n## 新增一节\n\n新增的独特内容：量子菠萝。\n", encoding="utf-8"
    )
    report = pipeline.build_from_folder(settings, "kb", source)
    assert report.updated == ["setup_notes.md"] and report.chunks_reused >= 1
    assert 1 <= report.chunks_embedded < _names(settings, "kb")["setup_notes.md"] + 1
    store = pipeline.open_kb(settings, "kb")
    [hit] = store.keyword_search("量子菠萝", 1)
    assert store.passages([hit[0]])[hit[0]].doc_name == "setup_notes.md"
    store.close()


def test_build_drops_files_gone_from_the_source_and_remove_drops_named_ones(settings: Settings, tmp_path: Path) -> None:
    source = _copy_corpus(tmp_path)
    pipeline.build_from_folder(settings, "kb", source)
    (source / "management.html").unlink()
    assert pipeline.build_from_folder(settings, "kb", source).removed == ["management.html"]
    report = pipeline.remove_documents(settings, "kb", ["emergence.md", "missing.md"])
    assert report.removed == ["emergence.md"]
    assert report.failed == [("missing.md", "no such document in the knowledge base")]
    store = pipeline.open_kb(settings, "kb")
    assert store.keyword_search("德鲁克", 5) == [] and store.keyword_search("涌现", 5) == []
    store.close()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("animation.gif", b"GIF89a", "unsupported type"),
        ("picture.png", b"\x89PNG\r\n\x1a\n", "not a readable image"),
        ("empty.txt", b"", "no text file is empty"),
        ("binary.txt", bytes(range(256)) * 20, "binary"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "pdf"),
    ],
)
def test_bad_file_is_reported_and_the_others_still_ingested(
    settings: Settings, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    source = _copy_corpus(tmp_path)
    (source / name).write_bytes(content)
    report = pipeline.build_from_folder(settings, "kb", source)
    found = [(f, r) for f, r in report.failed] + [(s.path, f"{s.reason} {s.detail}") for s in report.skipped]
    [(failed_name, message)] = found  # a failure, or left out of the project by rule (type, binary)
    assert failed_name == name and reason in message.lower()
    assert len(report.added) == len(list(CORPUS.iterdir()))


def test_oversized_file_is_rejected_before_reading(settings: Settings, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(3 * 1024 * 1024)  # sparse: no disk used
    small = settings.model_copy(update={"max_file_mb": 1})
    report = pipeline.add_files(small, "kb", [IncomingFile("big.txt", big)])
    assert report.failed == [("big.txt", "file is 3.0 MB, over the 1.0 MB limit")]


def test_file_that_vanishes_mid_build_is_reported(settings: Settings, tmp_path: Path) -> None:
    source = _copy_corpus(tmp_path)
    files = pipeline.scan_folder(settings, source).files
    (source / "emergence.md").unlink()  # listed, then gone before it is read
    report = pipeline.add_files(settings, "kb", files)
    assert report.failed == [("emergence.md", "file disappeared before it could be read")]
    assert len(report.added) == len(files) - 1


def test_ctrl_c_during_embedding_leaves_previous_index_whole(settings: Settings, built_kb: str, tmp_path: Path) -> None:
    before = _names(settings, built_kb)
    extra = tmp_path / "extra.md"
    extra.write_text("# 新文档\n\n" + "这是一段新内容。" * 200, encoding="utf-8")

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage == "embed" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pipeline.add_files(settings, built_kb, [IncomingFile("extra.md", extra)], interrupt)
    assert _names(settings, built_kb) == before
    store = pipeline.open_kb(settings, built_kb)
    assert store.keyword_search("conda env list", 1)
    store.close()


CRASH_SCRIPT = """
import os, sys
from pathlib import Path
from ingest import pipeline
from rag.config import Settings

def die(stage, done, total):
    if stage == "embed" and done > 0:
        os._exit(9)  # a hard crash: no cleanup, no exception handlers

settings = Settings(data_dir=Path(sys.argv[1]), embedder="hashing", chunk_size=200, chunk_overlap=40)
pipeline.build_from_folder(settings, "corpus", Path(sys.argv[2]), die)
"""


def test_crash_mid_build_leaves_previous_index_usable(settings: Settings, built_kb: str, tmp_path: Path) -> None:
    before = _names(settings, built_kb)
    source = _copy_corpus(tmp_path)
    (source / "more.md").write_text("# 更多\n\n崩溃测试的新内容。" * 50, encoding="utf-8")
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(settings.data_dir), str(source)],
        cwd=REPO,
        env=cli_env(settings),
        capture_output=True,
    )
    assert crashed.returncode == 9, crashed.stderr
    assert _names(settings, built_kb) == before
    report = pipeline.build_from_folder(settings, built_kb, source)  # the lock was released by the crash
    assert report.added == ["more.md"]


def test_second_writer_fails_clearly_while_first_holds_the_lock(settings: Settings, built_kb: str) -> None:
    impatient = settings.model_copy(update={"lock_timeout_s": 0.2})
    with (
        write_lock(settings.kb_dir(built_kb), 5, "the upload of big.txt"),
        pytest.raises(KnowledgeBaseBusy, match=r"being changed by the upload of big.txt \(pid \d+ on .*, since"),
    ):
        pipeline.build_from_folder(impatient, built_kb, CORPUS)


def test_second_writer_says_whom_it_waits_for_then_lands(settings: Settings, built_kb: str, tmp_path: Path) -> None:
    note = tmp_path / "later.md"
    note.write_text("# 后来\n\n等待之后写入的内容：绿色的门。", encoding="utf-8")
    events: list[tuple[str, int, int, str]] = []
    release = threading.Event()

    def hold() -> None:
        with write_lock(settings.kb_dir(built_kb), 5, "the upload of big.txt"):
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    threading.Timer(1.2, release.set).start()
    report = pipeline.add_files(
        settings.model_copy(update={"lock_timeout_s": 10}),
        built_kb,
        [IncomingFile("later.md", note)],
        lambda *event: events.append(event),
    )
    holder.join()
    waits = [e for e in events if e[0] == "wait"]
    assert report.added == ["later.md"] and waits
    assert all(e[3].startswith("waiting for the upload of big.txt (pid ") for e in waits)
    assert [e[0] for e in events if e[0] != "wait"][-1] == "index"  # every phase reported, the last one too


def test_two_concurrent_writers_both_land(settings: Settings, tmp_path: Path) -> None:
    first, second = tmp_path / "one.md", tmp_path / "two.md"
    first.write_text("# 一\n\n第一个写入者的内容：红色气球。", encoding="utf-8")
    second.write_text("# 二\n\n第二个写入者的内容：蓝色风筝。", encoding="utf-8")
    patient = settings.model_copy(update={"lock_timeout_s": 30})
    errors: list[BaseException] = []

    def write(path: Path) -> None:
        try:
            pipeline.add_files(patient, "kb", [IncomingFile(path.name, path)])
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(p,)) for p in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(_names(settings, "kb")) == {"one.md", "two.md"}


@pytest.mark.parametrize("bad", ["../escape", "a/b", "..", "", ".hidden", "a\\b", "CON", "nul.txt", "com1", "x."])
def test_kb_names_with_path_tricks_or_not_portable_are_refused(settings: Settings, bad: str) -> None:
    with pytest.raises(InvalidName, match=r"invalid knowledge base name|name is empty"):
        pipeline.build_from_folder(settings, bad, CORPUS)
    assert not (settings.data_dir.parent / "escape").exists()


def test_rebuild_reembeds_with_the_new_embedder(settings: Settings, built_kb: str) -> None:
    with pytest.raises(Exception, match="built with embedder 'hashing"):
        pipeline.open_kb(settings.model_copy(update={"embedder": "use-multilingual"}), built_kb)
    bigger_chunks = settings.model_copy(update={"chunk_size": 400})
    report = pipeline.rebuild(bigger_chunks, built_kb)
    assert sorted(report.added) == sorted(p.name for p in CORPUS.iterdir()) and report.chunks_embedded > 0
    assert set(_names(settings, built_kb)) == {p.name for p in CORPUS.iterdir()}


def _vectors(settings: Settings, kb: str) -> dict[str, np.ndarray]:
    """Each distinct chunk text's window vectors, by text."""
    store = pipeline.open_kb(settings, kb)
    try:
        texts = {c.text for d in store.documents() for c in store.chunks_of(d.name)}
        found = store.known_vectors(text_sha(t) for t in texts)
        return {t: found[text_sha(t)] for t in texts}
    finally:
        store.close()


def test_a_rebuild_with_the_same_embedder_and_windows_reuses_every_vector(settings: Settings, built_kb: str) -> None:
    before = _vectors(settings, built_kb)
    report = pipeline.rebuild(settings, built_kb)
    assert sorted(report.added) == sorted(p.name for p in CORPUS.iterdir())
    assert report.chunks_embedded == 0 and report.chunks_reused >= len(before)
    after = _vectors(settings, built_kb)
    assert after.keys() == before.keys()
    assert all(np.array_equal(after[t], before[t]) for t in before)


def test_a_rebuild_with_another_window_size_embeds_again_and_records_it(settings: Settings, built_kb: str) -> None:
    before = _vectors(settings, built_kb)
    smaller = settings.model_copy(update={"window_chars": settings.window_chars // 3})
    report = pipeline.rebuild(smaller, built_kb)
    assert report.chunks_reused == 0 and report.chunks_embedded == len(before)
    after = _vectors(settings, built_kb)
    assert all(len(after[t]) == len(window_texts(t, smaller.window_chars)) for t in after)
    assert sum(map(len, after.values())) > sum(map(len, before.values()))
    store = pipeline.open_kb(settings, built_kb)
    assert store.window_chars == smaller.window_chars and store.stats()["window_chars"] == smaller.window_chars
    store.close()


def test_new_vectors_use_the_window_size_the_knowledge_base_records(
    settings: Settings, built_kb: str, tmp_path: Path
) -> None:
    note = tmp_path / "windows.md"
    note.write_text("。".join(f"第{i}句讲的是窗口大小与向量的关系" for i in range(40)) + "。", encoding="utf-8")
    other = settings.model_copy(update={"window_chars": settings.window_chars // 3})
    pipeline.add_files(other, built_kb, [IncomingFile(note.name, note)])
    store = pipeline.open_kb(settings, built_kb)
    [chunk, *_] = store.chunks_of(note.name)
    [vectors] = store.known_vectors([text_sha(chunk.text)]).values()
    store.close()
    assert len(vectors) == len(window_texts(chunk.text, settings.window_chars))
    assert len(window_texts(chunk.text, other.window_chars)) > len(vectors)  # what the configured size makes


@EMBEDDED_ONLY
def test_a_knowledge_base_that_records_no_window_size_is_embedded_again_by_a_rebuild(
    settings: Settings, built_kb: str
) -> None:
    with sqlite3.connect(settings.kb_dir(built_kb) / "kb.sqlite") as db:
        db.execute("DELETE FROM meta WHERE key = 'window_chars'")  # as versions before it was recorded wrote it
    assert pipeline.open_kb(settings, built_kb).window_chars is None
    report = pipeline.rebuild(settings, built_kb)
    assert report.chunks_reused == 0 and report.chunks_embedded > 0
    assert pipeline.open_kb(settings, built_kb).window_chars == settings.window_chars


def test_delete_kb(settings: Settings, built_kb: str) -> None:
    pipeline.delete_kb(settings, built_kb)
    with pytest.raises(KnowledgeBaseNotFound):
        pipeline.open_kb(settings, built_kb)


def test_default_kb_is_built_once_from_the_sample_folder(settings: Settings) -> None:
    first = pipeline.ensure_default_kb(settings)
    assert first is not None and first.added
    assert pipeline.ensure_default_kb(settings) is None


@EMBEDDED_ONLY
def test_default_kb_written_by_an_older_version_is_rebuilt_from_its_files(settings: Settings) -> None:
    pipeline.ensure_default_kb(settings)
    names = _names(settings, settings.default_kb)
    database = settings.kb_dir(settings.default_kb) / "kb.sqlite"
    with sqlite3.connect(database) as db:
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with pytest.raises(IndexMismatch, match="another version"):
        pipeline.open_kb(settings, settings.default_kb)
    upgraded = pipeline.ensure_default_kb(settings)
    assert upgraded is not None and sorted(upgraded.added) == sorted(names)
    assert _names(settings, settings.default_kb) == names


def test_a_replaced_embedder_is_what_the_pipeline_uses_until_the_block_ends(settings: Settings) -> None:
    from ingest.embeddings import HashingEmbedder, embedders_replaced, get_embedder

    class Counting(HashingEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.passages = 0

        def encode_passages(self, texts):  # type: ignore[no-untyped-def]
            self.passages += len(texts)
            return super().encode_passages(texts)

    original = get_embedder(settings.embedder)
    counting = Counting()
    with embedders_replaced({settings.embedder: counting}):
        report = pipeline.build_from_folder(settings, "swapped", CORPUS)
    assert report.chunks_embedded > 0 and counting.passages >= report.chunks_embedded  # windows, at least one each
    assert get_embedder(settings.embedder) is original


@EMBEDDED_ONLY
def test_a_rebuild_killed_between_its_renames_gets_the_old_knowledge_base_back(
    settings: Settings, built_kb: str, tmp_path: Path
) -> None:
    folder = settings.kb_dir(built_kb)
    names = _names(settings, built_kb)
    folder.rename(folder.with_name(f".{built_kb}.retired"))  # killed after the first rename
    folder.with_name(f".{built_kb}.rebuilding").mkdir()
    note = tmp_path / "more.md"
    note.write_text("# 更多\n\n恢复之后继续写入。", encoding="utf-8")
    report = pipeline.add_files(settings, built_kb, [IncomingFile("more.md", note)])
    assert report.added == ["more.md"] and sorted(_names(settings, built_kb)) == sorted([*names, "more.md"])
    assert sorted(p.name for p in settings.data_dir.iterdir() if p.name.startswith(f".{built_kb}")) == []


CODE = '''def remove_word(dictionary: dict[str, int], word: str) -> None:
    """Forget ``word``: its frequency drops to zero."""
    dictionary[word] = 0
'''
PROSE = "# 词典\n\n删掉一个词以后，它的词频是零。\n"


def _only_chunk_vectors(settings: Settings, kb: str, doc_name: str) -> tuple[StoredChunk, np.ndarray]:
    store = pipeline.open_kb(settings, kb)
    try:
        [chunk] = store.chunks_of(doc_name)
        [vectors] = store.known_vectors([vector_key(doc_name, chunk)]).values()
        return chunk, vectors
    finally:
        store.close()


def test_code_windows_are_embedded_after_their_file_and_symbol_and_prose_windows_alone(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "words.py").write_text(CODE, encoding="utf-8")
    (tmp_path / "notes.md").write_text(PROSE, encoding="utf-8")
    assert not pipeline.build_from_folder(settings, "ctx", tmp_path).failed
    embedder = get_embedder(settings.embedder)
    code, code_vectors = _only_chunk_vectors(settings, "ctx", "pkg/words.py")
    assert embedding_context("pkg/words.py", code) == "pkg/words.py › remove_word"
    expected = embedder.encode_passages(
        [f"pkg/words.py › remove_word\n{w}" for w in window_texts(code.text, settings.window_chars)]
    )
    assert np.allclose(code_vectors, expected)
    assert not np.allclose(code_vectors, embedder.encode_passages(window_texts(code.text, settings.window_chars)))
    prose, prose_vectors = _only_chunk_vectors(settings, "ctx", "notes.md")
    assert embedding_context("notes.md", prose) == "" and vector_key("notes.md", prose) == text_sha(prose.text)
    assert np.allclose(prose_vectors, embedder.encode_passages(window_texts(prose.text, settings.window_chars)))


def test_moved_code_is_embedded_again_under_its_new_path_and_moved_prose_reuses_its_vectors(
    settings: Settings, tmp_path: Path
) -> None:
    code, prose = tmp_path / "words.py", tmp_path / "notes.md"
    code.write_text(CODE, encoding="utf-8")
    prose.write_text(PROSE, encoding="utf-8")
    pipeline.add_files(settings, "moved", [IncomingFile("a/words.py", code), IncomingFile("a/notes.md", prose)])
    report = pipeline.add_files(
        settings, "moved", [IncomingFile("b/words.py", code), IncomingFile("b/notes.md", prose)]
    )
    assert (report.chunks_embedded, report.chunks_reused) == (1, 1)
    _, vectors = _only_chunk_vectors(settings, "moved", "b/words.py")
    _, before = _only_chunk_vectors(settings, "moved", "a/words.py")
    assert not np.allclose(vectors, before)
