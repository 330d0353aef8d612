"""The fitted scorer: a logistic regression over rag/verify/features.py's features.

The constants below were fitted by ``bench/verify_fit.py`` on the calibration half of
bench/verify_set.jsonl (177 claims; the held-out half was not read): L2 strength 3.0 chosen by
5-fold cross-validated accuracy (0.876), every weight kept to its expected sign (features the fit
would have given the wrong sign are 0), and the threshold set on the out-of-fold scores after
the decisive signs (features.DECISIVE_FLIPS) have capped theirs. Rerun
that script and paste its output here when a feature changes.
"""

from __future__ import annotations

import math

import numpy as np

from rag.verify.features import FEATURES

WEIGHTS = {
    "coverage": 0.1546,
    "min_clause_coverage": 0.7646,
    "uncovered_run": -1.7640,
    "missing_word_share": -1.6153,
    "rarest_missing_word": 0.0000,
    "missing_numbers": -2.4222,
    "missing_names": -1.5886,
    "facts_elsewhere": -0.1236,
    "uncited_coverage_gain": -4.9330,
    "swapped_facts": -2.1718,
    "swapped_words": 0.0000,
    "negation_flips": -5.2413,
    "opposite_words": -3.2902,
}
BIAS = 1.0193
THRESHOLD = 0.4976  # a claim scoring below this is unsupported


def support_score(features: np.ndarray, decisive: bool = False) -> float:
    """0..1: the fitted probability that the cited sources support the claim; with a decisive sign
    against it (features.DECISIVE_FLIPS), at most half the threshold."""
    z = BIAS + float(np.dot([WEIGHTS[name] for name in FEATURES], features))
    score = 1.0 / (1.0 + math.exp(-z))
    return min(score, THRESHOLD / 2) if decisive else score
