"""The fitted scorer: a logistic regression over rag/verify/features.py's features.

The constants below were fitted by ``bench/verify_fit.py`` on the calibration half of
bench/verify_set.jsonl (177 claims; no held-out item was used): L2 strength 10.0 chosen by
5-fold cross-validated accuracy (0.881), every weight kept to its expected sign (features the fit
would have given the wrong sign are 0), and the threshold set on the out-of-fold scores after
the decisive signs (features.DECISIVE_FLIPS) have capped theirs.

History, for whoever reads bench/report.md: the held-out half was scored once before the last
changes (commit cc7d72a: accuracy 0.738, precision 0.822, recall 0.698). The changes after it
(the negated_clauses feature, cross-lingual spans chosen by shared facts, this refit) were chosen
on calibration cross-validation and scored worse on held-out (0.700 / 0.748 / 0.726); they were
kept rather than picking a version by its held-out score. Rerun
that script and paste its output here when a feature changes.
"""

from __future__ import annotations

import math

import numpy as np

from rag.verify.features import FEATURES

WEIGHTS = {
    "coverage": 0.7604,
    "min_clause_coverage": 0.7345,
    "uncovered_run": -1.1400,
    "missing_word_share": -1.5151,
    "rarest_missing_word": 0.0000,
    "missing_numbers": -1.5455,
    "missing_names": -1.0561,
    "facts_elsewhere": -0.3127,
    "uncited_coverage_gain": -2.8289,
    "swapped_facts": -1.6446,
    "swapped_words": 0.0000,
    "negation_flips": -1.6802,
    "opposite_words": -2.1612,
    "negated_clauses": -1.5944,
}
BIAS = 0.2137
THRESHOLD = 0.5810  # a claim scoring below this is unsupported


def support_score(features: np.ndarray, decisive: bool = False) -> float:
    """0..1: the fitted probability that the cited sources support the claim; with a decisive sign
    against it (features.DECISIVE_FLIPS), at most half the threshold."""
    z = BIAS + float(np.dot([WEIGHTS[name] for name in FEATURES], features))
    score = 1.0 / (1.0 + math.exp(-z))
    return min(score, THRESHOLD / 2) if decisive else score
