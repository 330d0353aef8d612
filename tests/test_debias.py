"""The dense search ranks by the query vector less what generic questions share; sources keep
their raw cosine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest import pipeline
from ingest.embeddings import HashingEmbedder, get_embedder
from rag.config import Settings
from rag.debias import GENERIC_QUESTIONS, debiased, generic_direction
from rag.language import language
from rag.retrieve import Retriever


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.name = "hashing-counting"
        self.queries = 0

    def encode_query(self, text: str) -> np.ndarray:
        self.queries += 1
        return super().encode_query(text)


def test_the_generic_direction_is_computed_once_per_embedder_and_language() -> None:
    embedder = CountingEmbedder()
    first = generic_direction(embedder, "zh")
    again = generic_direction(embedder, "zh")
    assert embedder.queries == len(GENERIC_QUESTIONS["zh"]) and np.array_equal(first, again)
    generic_direction(embedder, "en")
    assert embedder.queries == len(GENERIC_QUESTIONS["zh"]) + len(GENERIC_QUESTIONS["en"])


def test_a_debiased_vector_is_unit_length_and_further_from_what_questions_share() -> None:
    embedder = get_embedder("hashing")
    question = "load_userdict 这个函数是做什么的？"
    vector = embedder.encode_query(question)
    shifted = debiased(vector, question, embedder, 0.5)
    generic = generic_direction(embedder, "zh")
    assert abs(float(np.linalg.norm(shifted)) - 1) < 1e-5
    assert float(shifted @ generic) < float(vector @ generic)
    assert np.allclose(debiased(vector, question, embedder, 0.0), vector, atol=1e-6)


def test_the_direction_taken_out_is_that_of_the_language_the_refusal_judge_reads() -> None:
    embedder = get_embedder("hashing")
    named = "Why does click.echo raise UnicodeEncodeError under LANG=C 吗？"  # two CJK characters, nine words
    vector = embedder.encode_query(named)
    english = vector - 0.5 * generic_direction(embedder, "en")
    assert language(named) == "en"
    assert np.allclose(debiased(vector, named, embedder, 0.5), english / np.linalg.norm(english), atol=1e-6)


def test_a_passage_that_answers_any_question_yields_and_sources_keep_their_raw_cosine(tmp_path: Path) -> None:
    source = tmp_path / "project"
    source.mkdir()
    (source / "faq.md").write_text(
        "# 常见问题\n\n这个函数是做什么的？这个参数有什么用？默认值是多少？应该怎么配置？返回什么结果？",
        encoding="utf-8",
    )
    (source / "userdict.md").write_text(
        "# load_userdict\n\nload_userdict 载入用户词典：每行一个词，词频与词性可省略。", encoding="utf-8"
    )
    settings = Settings(
        data_dir=tmp_path / "kb", embedder="hashing", chunk_size=200, chunk_overlap=0, retrieval_mode="dense"
    )
    pipeline.build_from_folder(settings, "p", source)
    kb = pipeline.open_kb(settings, "p")
    embedder = get_embedder("hashing")
    question = "load_userdict 载入什么？返回什么结果？默认值是多少？"
    try:
        shipped = Retriever(kb, embedder, settings).ranked(question, 2)
        raw = Retriever(kb, embedder, settings.model_copy(update={"query_debias": 0.0})).ranked(question, 2)
        cosines = dict(
            kb.dense_search(embedder.encode_query(question), settings.candidates, settings.window_mean_weight)
        )
    finally:
        kb.close()
    assert raw[0].chunk.doc_name == "faq.md"  # the generic questions' page wins on the raw vector
    assert shipped[0].chunk.doc_name == "userdict.md"
    assert all(r.dense_score == pytest.approx(cosines[r.chunk.id], abs=1e-5) for r in shipped)
