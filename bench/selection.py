"""The rule that picks rag/config.py's retrieval defaults from the quality table.

Only settings the default embedder can run are considered (keyword, dense and hybrid with it), at
every chunk size. A setting qualifies when its MRR@10 on the dev questions is at most
``DEV_TOLERANCE`` below keyword-only at the same chunk size. The chosen setting is the qualifying
one with the best MRR@10 on the paraphrased questions (ties: MRR@10 on all bench questions, then
recall@4 on the paraphrases, then dev MRR@10, then fewer candidates). The rule is met when that
setting is also the best on the paraphrases among all settings, qualifying or not; otherwise the
trade-off (what the paraphrase-best setting loses on dev, what the chosen one gives up on the
paraphrases) is reported.
"""

from __future__ import annotations

from typing import Any

# The fields that name a quality row's setting, beside its mode (rrf_k only matters to rrf fusion).
SETTING_FIELDS = (
    "chunk_size",
    "chunk_overlap",
    "window_chars",
    "window_mean_weight",
    "fusion",
    "keyword_weight",
    "dense_weight",
    "candidates",
)

DEV_TOLERANCE = 0.02
_EPS = 1e-9


def _mrr(row: dict[str, Any], kind: str) -> float:
    return float(row["sets"][kind]["mrr@10"])


def _key(row: dict[str, Any]) -> tuple[float, ...]:
    return (
        _mrr(row, "paraphrase"),
        _mrr(row, "bench"),
        float(row["sets"]["paraphrase"]["recall@4"]),
        _mrr(row, "dev"),
        -float(row["candidates"]),
    )


def brief(row: dict[str, Any]) -> dict[str, Any]:
    """The identifying fields and MRR@10 per question set of a quality row."""
    out = {k: row.get(k) for k in ("label", "mode", *SETTING_FIELDS, "rrf_k")}
    out.update({f"{kind}_mrr@10": _mrr(row, kind) for kind in ("dev", "literal", "paraphrase", "bench")})
    return out


def choose_defaults(rows: list[dict[str, Any]], embedder: str) -> dict[str, Any]:
    """The chosen setting, whether it meets the rule, and the trade-off when it does not."""
    usable = [
        r for r in rows if (r["mode"] == "keyword" or r["embedder"] == embedder) and not r.get("shipped_defaults")
    ]
    keyword = {r["chunk_size"]: r for r in usable if r["mode"] == "keyword"}
    qualifying = [r for r in usable if _mrr(r, "dev") >= _mrr(keyword[r["chunk_size"]], "dev") - DEV_TOLERANCE - _EPS]
    best_para = max(usable, key=_key)
    chosen = max(qualifying, key=_key)  # keyword-only always qualifies, so this is never empty
    size = chosen["chunk_size"]
    at_size = [r for r in usable if r["chunk_size"] == size]
    baseline = keyword[size]
    return {
        "tolerance": DEV_TOLERANCE,
        "chosen": brief(chosen),
        "rule_met": _mrr(chosen, "paraphrase") >= _mrr(best_para, "paraphrase") - _EPS,
        "best_on_paraphrase": brief(best_para),
        "best_on_paraphrase_dev_loss_vs_keyword": round(
            _mrr(keyword[best_para["chunk_size"]], "dev") - _mrr(best_para, "dev"), 4
        ),
        "chosen_paraphrase_gap_to_best": round(_mrr(best_para, "paraphrase") - _mrr(chosen, "paraphrase"), 4),
        "keyword_at_chosen_size": brief(baseline),
        "chosen_vs_keyword": {
            kind: round(_mrr(chosen, kind) - _mrr(baseline, kind), 4) for kind in ("dev", "literal", "paraphrase")
        },
        "best_on_paraphrase_at_chosen_size": brief(max(at_size, key=_key)),
        "qualifying_count": len(qualifying),
        "considered_count": len(usable),
    }
