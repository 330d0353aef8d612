"""Accuracy and precision/recall of flagging unsupported sentences, overall, per kind and language.

The positive class is *unsupported*: precision is the share of flagged sentences that are
unsupported, recall the share of unsupported sentences that are flagged. A checker that says
"no claim" about a claim has not flagged it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _counts(labels: Sequence[bool | None], verdicts: Sequence[bool | None]) -> dict[str, Any]:
    flagged = [v is False for v in verdicts]
    unsupported = [label is False for label in labels]
    tp = sum(f and u for f, u in zip(flagged, unsupported, strict=True))
    fp = sum(f and not u for f, u in zip(flagged, unsupported, strict=True))
    fn = sum(u and not f for f, u in zip(flagged, unsupported, strict=True))
    correct = sum(v == label for v, label in zip(verdicts, labels, strict=True))
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return {
        "n": len(labels),
        "accuracy": round(correct / len(labels), 4) if labels else None,
        "flagged": round(sum(flagged) / len(labels), 4) if labels else None,
        "precision": None if precision is None else round(precision, 4),
        "recall": None if recall is None else round(recall, 4),
        "f1": None if f1 is None else round(f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def checker_metrics(
    rows: Sequence[dict[str, Any]], verdicts: Sequence[bool | None], with_no_claim: bool
) -> dict[str, Any]:
    """Metrics of one checker's ``verdicts`` (True, False, None) on ``rows`` (label, kind, english).

    ``overall`` and ``languages`` cover the claims; ``kinds`` every kind, no_claim only when
    ``with_no_claim`` (a baseline does not judge those); ``all_items`` the claims and, with
    ``with_no_claim``, the no-claim sentences too (right when the verdict is None).
    """
    pairs = [(r, v) for r, v in zip(rows, verdicts, strict=True) if with_no_claim or r["label"] is not None]
    claims = [(r, v) for r, v in pairs if r["label"] is not None]

    def of(subset: Sequence[tuple[dict[str, Any], bool | None]]) -> dict[str, Any]:
        return _counts([r["label"] for r, _ in subset], [v for _, v in subset])

    kinds = sorted({r["kind"] for r, _ in pairs})
    return {
        "overall": of(claims),
        "all_items": of(pairs),
        "kinds": {kind: of([(r, v) for r, v in pairs if r["kind"] == kind]) for kind in kinds},
        "languages": {
            "zh": of([(r, v) for r, v in claims if not r["english"]]),
            "en": of([(r, v) for r, v in claims if r["english"]]),
        },
    }
