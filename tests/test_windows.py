"""Window vectors: how a chunk is cut, how window ids map back, and what dense search scores."""

from __future__ import annotations

import hashlib

import pytest
from conftest import BOTH_BACKENDS

from ingest.embeddings import HashingEmbedder
from ingest.stores import KnowledgeStore, PreparedDocument, create_store
from ingest.types import ChunkText
from ingest.windows import MAX_WINDOWS, mean_direction, passage_of, window_ids, window_texts
from rag.config import Settings

EMBEDDER = HashingEmbedder()
SENTENCES = [
    "本项目使用 SQLite 保存全部文本。",
    "向量索引由 FAISS 提供，文件名带有代号。",
    "关键词检索依靠 jieba 分词和 FTS5。",
    "回答时引用编号对应的原文段落。",
    "模型窗口不够时先裁掉历史对话。",
]
CHUNK = "".join(SENTENCES)


def test_windows_are_whole_sentences_that_cover_the_chunk() -> None:
    windows = window_texts(CHUNK, 35)
    assert len(windows) > 1
    assert all(w in CHUNK for w in windows)
    assert all(any(s in w for w in windows) for s in SENTENCES)  # no sentence is lost or cut
    assert window_texts("短句。", 300) == ["短句。"]  # a short chunk is one window: itself


def test_a_long_chunk_never_gets_more_than_the_id_space_holds() -> None:
    long_chunk = "这是一句话。" * 5000
    windows = window_texts(long_chunk, 20)
    assert 1 < len(windows) <= MAX_WINDOWS
    assert sum(len(w) for w in windows) >= len(long_chunk)


def test_window_ids_carry_their_chunk() -> None:
    ids = window_ids(123_456_789, 5)
    assert len(set(ids.tolist())) == 5 and {passage_of(i) for i in ids} == {123_456_789}
    assert set(window_ids(7, MAX_WINDOWS).tolist()).isdisjoint(window_ids(8, MAX_WINDOWS).tolist())


def _store(settings: Settings) -> KnowledgeStore:
    kb = create_store(settings, "kb", EMBEDDER.name, EMBEDDER.dim)
    texts = [CHUNK, "完全无关的内容：天气晴朗，适合郊游和野餐。"]
    vectors = [EMBEDDER.encode_passages(window_texts(t, 35)) for t in texts]
    kb.apply(
        [
            PreparedDocument(
                "a.txt", "txt", 1, hashlib.sha256(b"x").hexdigest(), [ChunkText(t) for t in texts], vectors, b"x"
            )
        ]
    )
    return kb


@BOTH_BACKENDS
def test_dense_search_scores_a_chunk_by_its_best_window_blended_with_its_mean(settings: Settings) -> None:
    kb = _store(settings)
    query = EMBEDDER.encode_query(SENTENCES[2])
    windows = EMBEDDER.encode_passages(window_texts(CHUNK, 35))
    best_window = float((windows @ query).max())
    whole = float(mean_direction(windows) @ query)
    assert best_window > whole  # the point of windows: one sentence matches its window better

    [(cid, best_only)] = kb.dense_search(query, 1, mean_weight=0.0)
    assert kb.passages([cid])[cid].text == CHUNK
    assert best_only == pytest.approx(best_window, abs=1e-5)
    [(_, blended)] = kb.dense_search(query, 1, mean_weight=0.3)
    assert blended == pytest.approx(0.7 * best_window + 0.3 * whole, abs=1e-5)
    assert kb.stats()["windows"] == len(windows) + 1
    kb.close()


@BOTH_BACKENDS
def test_removing_a_document_removes_every_window(settings: Settings) -> None:
    kb = _store(settings)
    kb.apply([], ["a.txt"])
    assert kb.stats()["windows"] == 0 and kb.dense_search(EMBEDDER.encode_query(SENTENCES[0]), 5) == []
    kb.close()
