"""Dense + keyword retrieval, fused by score (default) or reciprocal rank, optional cross-encoder rerank.

Scores are on 0..1 whatever the embedder (raw cosine similarities and BM25 scores are not
comparable across models or queries):

- ``score`` fusion: each list's scores are min-max normalised over that list's candidates (its
  best hit 1, its last 0, a chunk it did not return 0), then averaged with the weights. A chunk
  that BM25 ranks far ahead of the rest keeps that lead, which rank fusion throws away.
- ``rrf``: each retriever contributes ``weight / (rrf_k + rank)``, divided by the best possible
  sum (rank 1 in every retriever used).

Either way 1.0 means "best in every retriever used"; bench/report.md compares the two.

Code and config chunks are weighted by ``code_keyword_share`` instead; it ships equal to the prose
split, which the project bench (bench/report.md) picks once they are also searched as below.
For a Chinese question, they and English prose (a README, a FAQ) are also searched with the
question as code words it (``code_query_in_english``: glossary.code_query), by both retrievers, run
only when the candidates hold such chunks: the dense side of each is that search's, the keyword
side the better of the two searches'. The weights of either kind sum to the same, so 1.0 keeps
its meaning.

Text the question quotes (rag/quoted.py) then decides ``quoted_text_share`` of every score: the
share of the quote a candidate holds verbatim, 0..1 like the rest.

The dense side ranks by the query vector less ``query_debias`` of what generic questions share
(rag/debias.py); a source's ``dense_score`` is its raw score for the query vector itself (the store's
``dense_scores``, whichever list found it), which the refusal judge reads.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from functools import cache, partial

import numpy as np

from ingest.embeddings import Embedder
from ingest.keywords import CJK_CHAR
from ingest.stores import KnowledgeStore
from ingest.types import StoredChunk
from rag.config import FusionMethod, Settings
from rag.debias import debiased
from rag.glossary import code_query, code_words
from rag.quoted import quoted_fragments, quoted_share
from rag.types import RetrievedChunk

CODE_KINDS = frozenset({"code", "config"})
ENGLISH_TEXT = 0.02  # a chunk with fewer Chinese characters than this share of its text is English

Scored = list[tuple[int, float]]  # (passage id, retriever's score, higher is better), best first
Fused = tuple[int, float, int | None, int | None]  # (passage id, 0..1 score, keyword rank, dense rank)
Ranked = tuple[Scored, dict[int, float], dict[int, int]]  # a list, its min-max scores, its 1-based ranks


@dataclass(frozen=True)
class FusionWeights:
    keyword: float
    dense: float
    rrf_k: int
    method: FusionMethod
    code_keyword_share: float | None = None  # None: code chunks weighted as prose

    def for_code(self) -> FusionWeights:
        """The weights of a code or config chunk: the same sum, split by ``code_keyword_share``."""
        if self.code_keyword_share is None or not (self.keyword and self.dense):
            return self
        total = self.keyword + self.dense
        share = self.code_keyword_share
        return replace(self, keyword=share * total, dense=(1 - share) * total, code_keyword_share=None)


def weights_for(settings: Settings) -> FusionWeights:
    """The fusion weights of the configured retrieval mode (a mode switches the other list off)."""
    keyword = settings.keyword_weight if settings.retrieval_mode in {"hybrid", "keyword"} else 0.0
    dense = settings.dense_weight if settings.retrieval_mode in {"hybrid", "dense"} else 0.0
    if settings.retrieval_mode == "keyword":
        keyword = keyword or 1.0
    if settings.retrieval_mode == "dense":
        dense = dense or 1.0
    return FusionWeights(keyword, dense, settings.rrf_k, settings.fusion, settings.code_keyword_share)


def _min_max(found: Scored) -> dict[int, float]:
    if not found:
        return {}
    low, high = min(s for _, s in found), max(s for _, s in found)
    span = high - low
    return {cid: (s - low) / span if span > 0 else 1.0 for cid, s in found}


def _ranked(found: Scored) -> Ranked:
    return found, _min_max(found), {cid: rank for rank, (cid, _) in enumerate(found, start=1)}


def _either(one: Ranked, other: Ranked) -> Ranked:
    """Two lists as one: each passage's better min-max score and better rank of the two."""
    scores = {cid: max(one[1].get(cid, 0.0), other[1].get(cid, 0.0)) for cid in {*one[1], *other[1]}}
    ranks = {cid: min(r for r in (one[2].get(cid), other[2].get(cid)) if r is not None) for cid in scores}
    found = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return found, scores, ranks


def fuse(
    keyword: Scored,
    dense: Scored,
    weights: FusionWeights,
    code: Collection[int] = (),
    code_dense: Scored | None = None,
    code_keyword: Scored | None = None,
) -> list[Fused]:
    """Fused candidates: (passage id, 0..1 score, keyword rank, dense rank), best first. The ids in
    ``code`` (code and config chunks, and English prose for a Chinese question) are weighted by
    ``weights.for_code()``; their dense side comes from ``code_dense`` when it is given, and their
    keyword side is the better of ``keyword`` and ``code_keyword`` (both searched with the question as
    code words: glossary.code_query)."""
    keyword_list, dense_list = _ranked(keyword), _ranked(dense)
    code_dense_list = _ranked(code_dense) if code_dense is not None else dense_list
    code_keyword_list = _either(keyword_list, _ranked(code_keyword)) if code_keyword is not None else keyword_list

    def scorer(used: FusionWeights, lists: tuple[Ranked, Ranked]) -> Callable[[int], float]:
        weighted = zip((used.keyword, used.dense), lists, strict=True)
        parts = [(w, norm, ranks) for w, (found, norm, ranks) in weighted if w and found]
        if not parts:
            return lambda cid: 0.0
        if used.method == "score":
            best = sum(w for w, _, _ in parts)
            return lambda cid: sum(w * norm.get(cid, 0.0) for w, norm, _ in parts) / best
        best = sum(w / (used.rrf_k + 1) for w, _, _ in parts)
        return lambda cid: sum(w / (used.rrf_k + ranks[cid]) for w, _, ranks in parts if cid in ranks) / best

    prose_score = scorer(weights, (keyword_list, dense_list))
    code_score = scorer(weights.for_code(), (code_keyword_list, code_dense_list))
    searched = [*keyword, *dense, *(code_dense or []), *(code_keyword or [])]
    fused = [
        (cid, code_score(cid), code_keyword_list[2].get(cid), code_dense_list[2].get(cid))
        if cid in code
        else (cid, prose_score(cid), keyword_list[2].get(cid), dense_list[2].get(cid))
        for cid in dict.fromkeys(c for c, _ in searched)
    ]
    fused.sort(key=lambda item: (-item[1], item[0]))
    return fused


def quoted_first(fused: list[Fused], quotes: list[str], chunks: Mapping[int, StoredChunk], share: float) -> list[Fused]:
    """``fused`` rescored: ``share`` of each score is the part of the quoted text its chunk (heading
    and text) holds verbatim (rag.quoted), the rest its fused score; best first again."""

    def held(cid: int) -> float:
        chunk = chunks.get(cid)  # None: removed since the search
        return quoted_share(quotes, f"{chunk.heading or ''}\n{chunk.text}") if chunk else 0.0

    rescored = [(cid, (1 - share) * score + share * held(cid), kr, dr) for cid, score, kr, dr in fused]
    rescored.sort(key=lambda item: (-item[1], item[0]))
    return rescored


@cache
def _cross_encoder(model: str):  # type: ignore[no-untyped-def]  # imported lazily
    from sentence_transformers import CrossEncoder

    return CrossEncoder(model, device="cpu", local_files_only=True)


def searched_in_english(chunk: StoredChunk, question_in_english: bool) -> bool:
    """Whether a chunk is weighted as code, with the question as code words on both sides: code
    and config always; when a Chinese question has been put in code words (``question_in_english``,
    glossary.code_query), English prose too (a README, a FAQ), which the embedder matches to the
    Chinese sentence about as poorly as code. English prose is English text under an English
    heading: a table or a reference list in a Chinese article is not (no heading, or a Chinese one),
    and the article's own words find it better (bench/report.md, project section)."""
    if chunk.kind in CODE_KINDS:
        return True
    if not question_in_english or not chunk.heading or CJK_CHAR.search(chunk.heading):
        return False
    return len(CJK_CHAR.findall(chunk.text)) < ENGLISH_TEXT * len(chunk.text)


class Retriever:
    """Searches one knowledge base. Holds no per-query state; build once, share across threads."""

    def __init__(self, kb: KnowledgeStore, embedder: Embedder | None, settings: Settings) -> None:
        self.kb = kb
        self.embedder = embedder
        self.settings = settings

    def ranked(self, query: str, k: int | None = None) -> list[RetrievedChunk]:
        """Fused (and reranked, if configured) results above the threshold, best first, unmerged."""
        settings = self.settings
        weights = weights_for(settings)
        keyword_query = f"{query} {' '.join(code_words(query))}" if settings.code_glossary else query
        keyword = self.kb.keyword_search(keyword_query, settings.candidates) if weights.keyword else []
        query_vector: np.ndarray | None = None
        dense_ranking: Scored = []
        if weights.dense:
            query_vector, dense_ranking = self._dense(query)
        quotes = quoted_fragments(query) if settings.quoted_text_share else []
        english = code_query(query) if settings.code_query_in_english and weights.dense else None
        candidates: dict[int, StoredChunk] = {}
        if weights.for_code() != weights or quotes or english:  # every candidate's kind or text is needed
            searched = [pid for pid, _ in keyword] + [pid for pid, _ in dense_ranking]
            candidates = self.kb.passages(dict.fromkeys(searched))
        english_side = partial(searched_in_english, question_in_english=english is not None)
        in_english = {pid for pid, chunk in candidates.items() if english_side(chunk)}
        code_vector: np.ndarray | None = None
        code_dense_ranking: Scored | None = None
        code_keyword: Scored | None = None
        if english and in_english:  # only where the question finds code or English text at all
            code_keyword = self.kb.keyword_search(english, settings.candidates) if weights.keyword else []
            if self.embedder is not None:
                code_vector, code_dense_ranking = self._dense(english)
            added = self.kb.passages(
                pid for pid, _ in code_keyword + (code_dense_ranking or []) if pid not in candidates
            )
            candidates |= added
            in_english |= {pid for pid, chunk in added.items() if english_side(chunk)}
            # the code words' BM25 ranks only what is searched in English; other prose keeps the question's
            code_keyword = [(pid, score) for pid, score in code_keyword if pid in in_english]
        fused = fuse(keyword, dense_ranking, weights, in_english, code_dense_ranking, code_keyword)
        if quotes:
            fused = quoted_first(fused, quotes, candidates, settings.quoted_text_share)
        fused = [f for f in fused if f[1] >= settings.score_threshold]
        if not settings.reranker:
            fused = fused[: k or settings.top_k]  # only a reranker needs the texts of every candidate
        candidates |= self.kb.passages(pid for pid, *_ in fused if pid not in candidates)
        bm25, code_bm25 = dict(keyword), dict(code_keyword or [])
        kept = [pid for pid, *_ in fused if pid in candidates]
        by_code_query = {pid for pid in kept if pid in in_english} if code_vector is not None else set()
        cosine = self._cosines(query_vector, [pid for pid in kept if pid not in by_code_query])
        cosine |= self._cosines(code_vector, by_code_query)
        results = [
            RetrievedChunk(
                candidates[pid],
                score,
                kr,
                dr,
                keyword_score=bm25.get(pid, code_bm25.get(pid)),
                dense_score=cosine.get(pid),
            )
            for pid, score, kr, dr in fused
            if pid in candidates
        ]
        if settings.reranker and results:
            results = self._rerank(query, results)
        return results[: k or settings.top_k]

    def _dense(self, text: str) -> tuple[np.ndarray, Scored]:
        """(query vector, the ranking fused) of ``text``: the dense search ranks by the query vector
        less ``query_debias`` of what generic questions share (rag.debias)."""
        settings, embedder = self.settings, self.embedder
        if embedder is None:
            raise ValueError("dense retrieval needs an embedder")
        vector = embedder.encode_query(text)
        ranked_by = debiased(vector, text, embedder, settings.query_debias) if settings.query_debias else vector
        return vector, self.kb.dense_search(ranked_by, settings.candidates, settings.window_mean_weight)

    def _cosines(self, vector: np.ndarray | None, ids: Collection[int]) -> dict[int, float]:
        """The raw scores of passages ``ids`` for the query ``vector`` (none without one): what a
        source's ``dense_score`` reports, whichever list found it."""
        if vector is None or not ids:
            return {}
        return self.kb.dense_scores(vector, ids, self.settings.window_mean_weight)

    def search(self, query: str, k: int | None = None) -> list[RetrievedChunk]:
        """``ranked`` with neighbouring chunks of one document merged in reading order."""
        return merge_neighbours(self.ranked(query, k))

    def _rerank(self, query: str, results: list[RetrievedChunk]) -> list[RetrievedChunk]:
        model = _cross_encoder(self.settings.reranker)
        scores = model.predict([(query, r.chunk.text) for r in results])
        rescored = [replace(r, rerank_score=float(s)) for r, s in zip(results, scores, strict=True)]
        return sorted(rescored, key=lambda r: -(r.rerank_score or 0.0))


def _join_overlapping(first: str, second: str, max_overlap: int = 400) -> str:
    """Concatenate two consecutive chunks, dropping the overlap the splitter repeated."""
    for size in range(min(len(first), len(second), max_overlap), 0, -1):
        if first.endswith(second[:size]):
            return first + second[size:]
    return first + "\n" + second


def merge_neighbours(results: list[RetrievedChunk]) -> list[RetrievedChunk]:
    """Merge retrieved chunks that are consecutive in one document into one passage.

    The merged passage takes the place of its best-ranked part and keeps its best score.
    """
    by_place = {(r.chunk.doc_name, r.chunk.ordinal): r for r in results}
    merged: dict[tuple[str, int], RetrievedChunk] = {}
    for result in results:
        doc, ordinal = result.chunk.doc_name, result.chunk.ordinal
        start = ordinal
        while (doc, start - 1) in by_place:
            start -= 1
        if (doc, start) in merged:
            continue
        run = []
        cursor = start
        while (doc, cursor) in by_place:
            run.append(by_place[(doc, cursor)])
            cursor += 1
        if len(run) == 1:
            merged[(doc, start)] = result
            continue
        text = run[0].chunk.text
        for part in run[1:]:
            text = _join_overlapping(text, part.chunk.text)
        chunk: StoredChunk = replace(run[0].chunk, text=text)
        merged[(doc, start)] = replace(result, chunk=chunk)
    return list(merged.values())
