"""Dense + keyword retrieval, fused by score (default) or reciprocal rank, optional cross-encoder rerank.

Scores are on 0..1 whatever the embedder (raw cosine similarities and BM25 scores are not
comparable across models or queries):

- ``score`` fusion: each list's scores are min-max normalised over that list's candidates (its
  best hit 1, its last 0, a chunk it did not return 0), then averaged with the weights. A chunk
  that BM25 ranks far ahead of the rest keeps that lead, which rank fusion throws away.
- ``rrf``: each retriever contributes ``weight / (rrf_k + rank)``, divided by the best possible
  sum (rank 1 in every retriever used).

Either way 1.0 means "best in every retriever used"; bench/report.md compares the two.

Code and config chunks are weighted by ``code_keyword_share`` instead: the embedder finds the
right prose for a paraphrased question, but matches a Chinese question to English code poorly,
where BM25 with the code words of rag/glossary.py does better (bench/report.md, project section).
Their dense side comes from a second search with the question as code words it
(``code_query_in_english``: glossary.code_query), run only when the candidates hold code. The
weights of either kind sum to the same, so 1.0 keeps its meaning.

Text the question quotes (rag/quoted.py) then decides ``quoted_text_share`` of every score: the
share of the quote a candidate holds verbatim, 0..1 like the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from functools import cache

from ingest.embeddings import Embedder
from ingest.stores import KnowledgeStore
from ingest.types import StoredChunk
from rag.config import FusionMethod, Settings
from rag.glossary import code_query, code_words
from rag.quoted import quoted_fragments, quoted_share
from rag.types import RetrievedChunk

CODE_KINDS = frozenset({"code", "config"})
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


def fuse(
    keyword: Scored, dense: Scored, weights: FusionWeights, code: Collection[int] = (), code_dense: Scored | None = None
) -> list[Fused]:
    """Fused candidates: (passage id, 0..1 score, keyword rank, dense rank), best first; the ids in
    ``code`` (code and config chunks) are weighted by ``weights.for_code()`` and take their dense
    side from ``code_dense`` when it is given (the question as code words it: glossary.code_query)."""
    keyword_list, dense_list = _ranked(keyword), _ranked(dense)
    code_dense_list = _ranked(code_dense) if code_dense is not None else dense_list

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
    code_score = scorer(weights.for_code(), (keyword_list, code_dense_list))
    keyword_rank, dense_rank, code_dense_rank = keyword_list[2], dense_list[2], code_dense_list[2]
    fused = [
        (cid, code_score(cid), keyword_rank.get(cid), code_dense_rank.get(cid))
        if cid in code
        else (cid, prose_score(cid), keyword_rank.get(cid), dense_rank.get(cid))
        for cid in dict.fromkeys([c for c, _ in keyword] + [c for c, _ in dense] + [c for c, _ in code_dense or []])
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
        dense: Scored = []
        if weights.dense:
            if self.embedder is None:
                raise ValueError("dense retrieval needs an embedder")
            vector = self.embedder.encode_query(query)
            dense = self.kb.dense_search(vector, settings.candidates, settings.window_mean_weight)
        quotes = quoted_fragments(query) if settings.quoted_text_share else []
        english = code_query(query) if settings.code_query_in_english and weights.dense else None
        candidates: dict[int, StoredChunk] = {}
        if weights.for_code() != weights or quotes or english:  # every candidate's kind or text is needed
            candidates = self.kb.passages(dict.fromkeys([pid for pid, _ in keyword] + [pid for pid, _ in dense]))
        code = {pid for pid, chunk in candidates.items() if chunk.kind in CODE_KINDS}
        code_dense: Scored | None = None
        if english and code and self.embedder is not None:  # only where the question finds code at all
            vector = self.embedder.encode_query(english)
            code_dense = self.kb.dense_search(vector, settings.candidates, settings.window_mean_weight)
            added = self.kb.passages(pid for pid, _ in code_dense if pid not in candidates)
            candidates |= added
            code |= {pid for pid, chunk in added.items() if chunk.kind in CODE_KINDS}
        fused = fuse(keyword, dense, weights, code, code_dense)
        if quotes:
            fused = quoted_first(fused, quotes, candidates, settings.quoted_text_share)
        fused = [f for f in fused if f[1] >= settings.score_threshold]
        if not settings.reranker:
            fused = fused[: k or settings.top_k]  # only a reranker needs the texts of every candidate
        candidates |= self.kb.passages(pid for pid, *_ in fused if pid not in candidates)
        bm25, cosine, code_cosine = dict(keyword), dict(dense), dict(code_dense or [])
        results = [
            RetrievedChunk(
                candidates[pid],
                score,
                kr,
                dr,
                keyword_score=bm25.get(pid),
                dense_score=(code_cosine if pid in code and code_dense is not None else cosine).get(pid),
            )
            for pid, score, kr, dr in fused
            if pid in candidates
        ]
        if settings.reranker and results:
            results = self._rerank(query, results)
        return results[: k or settings.top_k]

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
