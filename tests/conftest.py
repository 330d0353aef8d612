"""Shared fixtures: every knowledge base lives in tmp_path; settings come from nowhere but here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.config import Settings

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
SHARED = REPO.parent / "shared"
CHATGLM2_TOKENIZER = SHARED / "models" / "chatglm2-6b" / "tokenizer.model"
DEV_QUESTIONS = SHARED / "eval" / "dev_questions.jsonl"
PROJECTS = SHARED / "projects"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No KBA_* variable or config file of the developer's leaks into a test."""
    for name in list(os.environ):
        if name.startswith("KBA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KBA_CONFIG", str(tmp_path / "no-config.toml"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test (or module) marked ``store_backends("embedded", "milvus")`` runs once per store backend
    named; the closest mark wins, so ``EMBEDDED_ONLY`` on one test of such a module keeps it to one."""
    mark = metafunc.definition.get_closest_marker("store_backends")
    if mark is not None and "store_backend" in metafunc.fixturenames:
        metafunc.parametrize("store_backend", mark.args)


BOTH_BACKENDS = pytest.mark.store_backends("embedded", "milvus")
EMBEDDED_ONLY = pytest.mark.store_backends("embedded")  # tests of SQLite, FAISS files or folder renames


@pytest.fixture
def store_backend() -> str:
    """The store backend of ``settings``: embedded unless a store_backends mark says otherwise."""
    return "embedded"


@pytest.fixture
def settings(tmp_path: Path, store_backend: str) -> Settings:
    """Fast settings: the hashing embedder, small chunks, a short lock wait (Milvus: a Lite file in tmp_path)."""
    return Settings(
        data_dir=tmp_path / "kb",
        embedder="hashing",
        chunk_size=200,
        chunk_overlap=40,
        lock_timeout_s=2,
        sample_docs_dir=CORPUS,
        store=store_backend,
        milvus_uri=str(tmp_path / "milvus.db"),
    )


@pytest.fixture
def built_kb(settings: Settings) -> str:
    """The test corpus built into knowledge base 'corpus'; returns its name."""
    from ingest import pipeline

    report = pipeline.build_from_folder(settings, "corpus", CORPUS)
    assert not report.failed, report.failed
    return "corpus"


def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for running a CLI subprocess against ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBA_")}
    env.update(
        KBA_DATA_DIR=str(settings.data_dir),
        KBA_EMBEDDER=settings.embedder,
        KBA_CHUNK_SIZE=str(settings.chunk_size),
        KBA_CHUNK_OVERLAP=str(settings.chunk_overlap),
        KBA_LOCK_TIMEOUT_S=str(settings.lock_timeout_s),
        KBA_CONFIG=str(settings.data_dir / "none.toml"),
        KBA_STORE=settings.store,
        KBA_MILVUS_URI=settings.milvus_uri,
        PYTHONPATH=str(REPO),
    )
    return env
