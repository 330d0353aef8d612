"""Fusions the core does not have, simulated on the same candidate lists, to size a core change.

For every question the knowledge base's own keyword and dense searches are run once (``DEPTH``
candidates each, with their scores); the lists are then fused offline. ``rrf`` goes through the
core's ``fuse`` and reproduces the shipped behaviour (a check). ``score`` is a convex combination
of min-max normalised BM25 and cosine scores, ``alpha`` on BM25: the usual alternative when one
retriever is much stronger than the other, since it keeps how far ahead the keyword hit is.
"""

from __future__ import annotations

from typing import Any

from ingest.embeddings import Embedder
from ingest.store import KnowledgeBase
from rag.eval import MRR_DEPTH, first_hit
from rag.retrieve import FusionWeights, fuse

DEPTH = 50
ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.7)


def _normalised(pairs: list[tuple[int, float]]) -> dict[int, float]:
    if not pairs:
        return {}
    scores = [s for _, s in pairs]
    low, high = min(scores), max(scores)
    span = high - low or 1.0
    return {cid: (s - low) / span for cid, s in pairs}


def _score_fusion(keyword: list[tuple[int, float]], dense: list[tuple[int, float]], alpha: float) -> list[int]:
    kw, dn = _normalised(keyword), _normalised(dense)
    fused = {cid: alpha * kw.get(cid, 0.0) + (1 - alpha) * dn.get(cid, 0.0) for cid in kw | dn}
    return sorted(fused, key=lambda cid: (-fused[cid], cid))


def simulated_ranks(kb: KnowledgeBase, embedder: Embedder, questions: list[Any]) -> dict[str, list[int | None]]:
    """1-based rank of the first needle-holding chunk per question, for each simulated fusion."""
    lists = [
        (kb.keyword_search(q.q, DEPTH), kb.dense_search(embedder.encode_query(q.q), DEPTH), q.needles)
        for q in questions
    ]
    ids = {cid for kw, dn, _ in lists for cid, _ in kw + dn}
    texts = {c.id: c.text for c in kb.get_chunks(ids).values()}
    variants: dict[str, list[int | None]] = {}
    for name, rank in _rankers().items():
        variants[name] = [
            first_hit([texts[cid] for cid in rank(kw, dn)[:MRR_DEPTH]], needles) for kw, dn, needles in lists
        ]
    return variants


def _rrf(keyword: list[tuple[int, float]], dense: list[tuple[int, float]], weight: float) -> list[int]:
    fused = fuse([c for c, _ in keyword], [c for c, _ in dense], FusionWeights(1.0, weight, 60))
    return [cid for cid, *_ in fused]


def _rankers() -> dict[str, Any]:
    rankers: dict[str, Any] = {
        f"rrf d=0.5 rrf_k=60 cand={DEPTH}": lambda kw, dn: _rrf(kw, dn, 0.5),
        f"rrf d=1 rrf_k=60 cand={DEPTH}": lambda kw, dn: _rrf(kw, dn, 1.0),
    }
    for alpha in ALPHAS:
        rankers[f"score alpha={alpha:g} cand={DEPTH}"] = lambda kw, dn, a=alpha: _score_fusion(kw, dn, a)
    return rankers
