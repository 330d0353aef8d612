"""Dense + keyword retrieval, fused by reciprocal rank, optional cross-encoder rerank.

Scores: each retriever contributes ``weight / (rrf_k + rank)``; the sum is divided by the best
possible sum (rank 1 in every retriever used), so ``RetrievedChunk.score`` is on 0..1 whatever
the embedder: raw cosine similarities and BM25 scores are not comparable across models, ranks are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

from ingest.embeddings import Embedder
from ingest.store import KnowledgeBase
from ingest.types import StoredChunk
from rag.config import Settings
from rag.types import RetrievedChunk


@dataclass(frozen=True)
class FusionWeights:
    keyword: float
    dense: float
    rrf_k: int


def weights_for(settings: Settings) -> FusionWeights:
    """The fusion weights of the configured retrieval mode (a mode switches the other list off)."""
    keyword = settings.keyword_weight if settings.retrieval_mode in {"hybrid", "keyword"} else 0.0
    dense = settings.dense_weight if settings.retrieval_mode in {"hybrid", "dense"} else 0.0
    if settings.retrieval_mode == "keyword":
        keyword = keyword or 1.0
    if settings.retrieval_mode == "dense":
        dense = dense or 1.0
    return FusionWeights(keyword, dense, settings.rrf_k)


def fuse(
    keyword_ids: list[int], dense_ids: list[int], weights: FusionWeights
) -> list[tuple[int, float, int | None, int | None]]:
    """Reciprocal-rank fusion: (chunk id, 0..1 score, keyword rank, dense rank), best first."""
    keyword_rank = {cid: rank for rank, cid in enumerate(keyword_ids, start=1)}
    dense_rank = {cid: rank for rank, cid in enumerate(dense_ids, start=1)}
    best = 0.0
    if weights.keyword and keyword_ids:
        best += weights.keyword / (weights.rrf_k + 1)
    if weights.dense and dense_ids:
        best += weights.dense / (weights.rrf_k + 1)
    fused = []
    for cid in dict.fromkeys(keyword_ids + dense_ids):
        k_rank, d_rank = keyword_rank.get(cid), dense_rank.get(cid)
        score = 0.0
        if k_rank is not None:
            score += weights.keyword / (weights.rrf_k + k_rank)
        if d_rank is not None:
            score += weights.dense / (weights.rrf_k + d_rank)
        fused.append((cid, score / best if best else 0.0, k_rank, d_rank))
    fused.sort(key=lambda item: (-item[1], item[0]))
    return fused


@cache
def _cross_encoder(model: str):  # type: ignore[no-untyped-def]  # imported lazily
    from sentence_transformers import CrossEncoder

    return CrossEncoder(model, device="cpu", local_files_only=True)


class Retriever:
    """Searches one knowledge base. Holds no per-query state; build once, share across threads."""

    def __init__(self, kb: KnowledgeBase, embedder: Embedder | None, settings: Settings) -> None:
        self.kb = kb
        self.embedder = embedder
        self.settings = settings

    def ranked(self, query: str, k: int | None = None) -> list[RetrievedChunk]:
        """Fused (and reranked, if configured) results above the threshold, best first, unmerged."""
        settings = self.settings
        weights = weights_for(settings)
        keyword_ids = [cid for cid, _ in self.kb.keyword_search(query, settings.candidates)] if weights.keyword else []
        dense_ids: list[int] = []
        if weights.dense:
            if self.embedder is None:
                raise ValueError("dense retrieval needs an embedder")
            dense_ids = [cid for cid, _ in self.kb.dense_search(self.embedder.encode_query(query), settings.candidates)]
        fused = [f for f in fuse(keyword_ids, dense_ids, weights) if f[1] >= settings.score_threshold]
        if not settings.reranker:
            fused = fused[: k or settings.top_k]  # only a reranker needs the texts of every candidate
        chunks = self.kb.get_chunks(cid for cid, *_ in fused)
        results = [RetrievedChunk(chunks[cid], score, kr, dr) for cid, score, kr, dr in fused if cid in chunks]
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
