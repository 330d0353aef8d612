"""Migration between the store backends: everything copied, nothing embedded, the source untouched,
and the copy answering as the original."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import CORPUS, REPO, cli_env

from ingest import pipeline
from ingest.embeddings import HashingEmbedder, embedders_replaced
from ingest.errors import KnowledgeBaseError
from ingest.migrate import migrate
from ingest.stores import KnowledgeStore, text_sha
from rag.config import Settings
from rag.retrieve import Retriever

QUESTIONS = ["如何列出 conda 环境？", "德鲁克说了什么？", "涌现能力是什么", "产品支持哪些格式"]


class NoEmbedding(HashingEmbedder):
    """The configured embedder, refusing to embed: a migration must not."""

    def encode_passages(self, texts):  # type: ignore[no-untyped-def]
        raise AssertionError(f"a migration embedded {len(texts)} texts")


def _snapshot(kb: KnowledgeStore) -> dict:
    """Everything a knowledge base holds that a migration must carry over."""
    docs = kb.documents()
    chunks = {d.name: kb.chunks_of(d.name) for d in docs}
    shas = [text_sha(c.text) for found in chunks.values() for c in found]
    return {
        "documents": docs,
        "chunks": {
            name: [(c.ordinal, c.text, c.page, c.heading, c.lines, c.kind, c.ocr) for c in found]
            for name, found in chunks.items()
        },
        "vectors": {sha: matrix.tolist() for sha, matrix in kb.known_vectors(shas).items()},
        "originals": {d.name: kb.original(d.name) for d in docs},
        "passages": kb.stats()["passages"],
        "windows": kb.stats()["windows"],
    }


def _answers(settings: Settings, kb: KnowledgeStore) -> list[list[tuple[str, str]]]:
    retriever = Retriever(kb, HashingEmbedder(), settings)
    return [[(r.chunk.doc_name, r.chunk.text) for r in retriever.ranked(q)] for q in QUESTIONS]


@pytest.mark.parametrize("source", ["embedded", "milvus"])
def test_a_migrated_knowledge_base_holds_and_answers_the_same_and_the_source_stays(
    settings: Settings, source: str
) -> None:
    target = "milvus" if source == "embedded" else "embedded"
    from_settings = settings.model_copy(update={"store": source, "window_chars": 120})  # not the configured size
    to_settings = settings.model_copy(update={"store": target})
    pipeline.build_from_folder(from_settings, "kb", CORPUS)
    original = pipeline.open_kb(from_settings, "kb")
    before, generation = _snapshot(original), original.generation
    events: list[tuple[str, int, int]] = []

    with embedders_replaced({settings.embedder: NoEmbedding()}):
        report = migrate(
            settings, "kb", target, lambda stage, done, total, detail="": events.append((stage, done, total))
        )

    copy = pipeline.open_kb(to_settings, "kb")
    assert _snapshot(copy) == before and report.documents == len(before["documents"])
    assert copy.window_chars == original.window_chars == 120  # the copied vectors keep their window size
    assert _answers(settings, copy) == _answers(settings, original)
    assert ("copy", report.documents, report.documents) in events and events[0] == ("copy", 0, report.documents)
    assert _snapshot(original) == before and original.generation == generation  # the source is only read
    copy.close()
    original.close()
    with pytest.raises(KnowledgeBaseError, match=f"already exists in the {target} store"):
        migrate(settings, "kb", target)


def test_the_cli_migrates_and_says_what_it_copied(settings: Settings) -> None:
    pipeline.build_from_folder(settings, "corpus", CORPUS)
    run = subprocess.run(
        [sys.executable, "-m", "ingest", "migrate", "--kb", "corpus", "--to", "milvus"],
        cwd=REPO,
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"copied 'corpus' to the milvus store: {len(list(CORPUS.iterdir()))} documents")
    copy, original = (
        pipeline.open_kb(settings.model_copy(update={"store": "milvus"}), "corpus"),
        pipeline.open_kb(settings, "corpus"),
    )
    assert copy.documents() == original.documents()
    copy.close()
    original.close()
