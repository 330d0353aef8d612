"""The fitted scorer: a logistic regression over rag/verify/features.py's features.

The constants below were fitted by ``bench/verify_fit.py`` on the calibration half of
bench/verify_set.jsonl (177 claims; the held-out half was not read): L2 strength 1.0 chosen by
5-fold cross-validated accuracy (0.876), every weight kept to its expected sign (features the fit
would have given the wrong sign are 0), and the threshold set on the out-of-fold scores. Rerun
that script and paste its output here when a feature changes.
"""

from __future__ import annotations

import math

import numpy as np

from rag.verify.features import FEATURES

WEIGHTS = {
    "coverage": 0.0000,
    "min_clause_coverage": 0.5549,
    "uncovered_run": -2.0853,
    "missing_word_share": -1.9599,
    "rarest_missing_word": 0.0000,
    "missing_numbers": -3.1758,
    "missing_names": -1.9750,
    "facts_elsewhere": 0.0000,
    "uncited_coverage_gain": -7.4522,
    "swapped_facts": -2.5839,
    "swapped_words": 0.0000,
    "negation_flips": -5.4000,
    "opposite_words": -4.3462,
}
BIAS = 1.5863
THRESHOLD = 0.6666  # a claim scoring below this is unsupported


def support_score(features: np.ndarray) -> float:
    """0..1: the fitted probability that the cited sources support the claim."""
    z = BIAS + float(np.dot([WEIGHTS[name] for name in FEATURES], features))
    return 1.0 / (1.0 + math.exp(-z))
