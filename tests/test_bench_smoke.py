"""The benchmark harness: its question set is valid and a --quick run writes sane results fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SHARED

from bench.run import PARTS

pytestmark = pytest.mark.skipif(not (SHARED / "corpus").is_dir(), reason="needs ../shared (corpus, tokenizer)")


def test_bench_questions_are_valid() -> None:
    from bench.quality import load_question_sets, missing_needles

    questions = load_question_sets()
    own = [q for q in questions if q.kind != "dev"]
    assert len(own) >= 40
    assert sum(q.kind == "paraphrase" for q in own) * 2 >= len(own)
    assert all(q.needles and q.q.strip() for q in questions)
    assert missing_needles(questions) == []


def _load(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text(encoding="utf-8"))


def _unit(value: float) -> bool:
    return 0.0 <= value <= 1.0


def test_quick_run_writes_sane_results(tmp_path: Path) -> None:
    out = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBA_")}
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    machine = _load(out, "machine.json")
    assert machine["logical_cores"] >= 1 and machine["ram_gb"] > 0 and machine["gpu"] == "none"
    run = _load(out, "run.json")
    assert run["quick"] and set(run["part_seconds"]) == set(PARTS)

    quality = _load(out, "quality.json")
    assert quality["needles_verified"] and quality["questions"]["paraphrase"] >= 20
    modes = {row["mode"] for row in quality["rows"]}
    assert {"keyword", "dense", "hybrid"} <= modes
    assert sum(1 for row in quality["rows"] if row.get("shipped_defaults")) == 1
    for row in quality["rows"]:
        for metrics in row["sets"].values():
            assert all(_unit(metrics[k]) for k in ("recall@1", "recall@4", "recall@10", "mrr@10"))
            assert metrics["recall@1"] <= metrics["recall@4"] <= metrics["recall@10"]
    assert quality["selection"]["chosen"]["mode"] in {"keyword", "dense", "hybrid"}

    ingest = _load(out, "ingest.json")
    for corpus in ("shared_corpus", "synthetic"):
        run_ = ingest[corpus]
        assert run_["chunks"] > 0 and run_["total_seconds"] > 0
        assert abs(sum(stage["share"] for stage in run_["stages"].values()) - 1) < 0.02
        assert run_["reingest"]["chunks_embedded"] == 0 and run_["reingest"]["ratio_to_full_build"] < 1
    rebuild = ingest["shared_corpus"]["rebuild"]
    assert rebuild["same_settings"]["chunks_embedded"] == 0 and rebuild["same_settings"]["chunks_reused"] > 0
    assert rebuild["other_window_size"]["chunks_reused"] == 0 and rebuild["other_window_size"]["chunks_embedded"] > 0

    latency = _load(out, "latency.json")
    assert latency["sizes"]
    for row in latency["sizes"].values():
        assert row["dense_only"]["faiss_flat"]["recall"] == 1.0 and _unit(row["store_index"]["recall"])
        for variant in ("end_to_end", "end_to_end_numpy_dense", "end_to_end_faiss_1thread"):
            total = row[variant]["total"]
            assert 0 < total["p50_ms"] <= total["p95_ms"]

    removal = _load(out, "removal.json")
    assert removal["index_type"] == "IndexHNSWFlat"
    assert removal["tombstones_after_removal"] == removal["document_chunks"]
    assert removal["remove_document_tombstones_s"] > 0 and removal["remove_document_rebuild_s"] > 0

    memory = _load(out, "memory.json")
    rss = memory["large_kb"]["rss_gb"]
    assert 0 < rss["idle_app"] <= rss["after_first_question"] < 10

    packing = _load(out, "packing.json")
    assert {"4096/top4", "8192/top8"} <= set(packing["rows"])
    for row in packing["rows"].values():
        assert row["pack"]["over_budget"] == 0 and _unit(row["naive"]["overflow_rate"])
        assert row["pack"]["mean_total_tokens"] <= row["budget"]

    verify = _load(out, "verify.json")
    assert verify["embedder"] == "hashing-char12-512" and set(verify["sets"]) == {"set 1", "set 2", "set 3", "set 4"}
    for labelled in verify["sets"].values():
        assert labelled["items"] == {"calibration": 10, "held_out": 10}
        for half in labelled["halves"].values():
            for checker in ("overlap", "dense", "shipped"):
                overall = half[checker]["overall"]
                assert overall["n"] > 0 and _unit(overall["accuracy"])
    assert 0 < verify["latency"]["answer"]["p50_ms"] <= verify["latency"]["answer"]["p95_ms"]

    ocr = _load(out, "ocr.json")
    assert ocr["pages"] == 2 and [row["page"] for row in ocr["per_page"]] == [1, 2] and ocr["pages_per_s"] > 0
    assert ocr["recovered_overall"] >= 0.9 and all(_unit(row["recovered"]) for row in ocr["per_page"])
    assert ocr["warnings"] == []

    load = _load(out, "load.json")
    asked = load["clients"] * load["questions_per_client"]
    for backend in load["runs"].values():
        for path in ("api", "in_process"):
            assert backend[path]["errors"] == 0 and backend[path]["answers"] == asked
            assert 0 < backend[path]["ttfb"]["p50_ms"] <= backend[path]["latency"]["p95_ms"]
        assert backend["api"]["server_rss_mb"]["peak"] >= backend["api"]["server_rss_mb"]["after_warmup"] > 0

    refusal = _load(out, "refusal.json")
    per_group = {g: sum(n[g] for n in refusal["questions"].values()) for g in ("answerable", "near", "far")}
    assert per_group == {"answerable": 16, "near": 16, "far": 16}
    assert refusal["questions"]["zh"]["answerable"] == 8 and refusal["embedder"] == "hashing-char12-512"
    for rule in refusal["rules"].values():
        assert set(rule["slices"]) >= {"zh", "en"}
        for part in rule["slices"].values():
            for half in part.values():
                rates = [half[k] for k in ("false_refusal", "false_answer_near", "false_answer_far")]
                assert all(rate is None or _unit(rate) for rate in rates)
    quoting = refusal["extractive"]["quality"]["all"]
    assert quoting["answers"] == 16 and quoting["after"]["quotes_question"] == 0
    assert refusal["extractive"]["seconds_per_answer"]["with_embedder"]["p50_ms"] > 0

    milvus = _load(out, "milvus.json")
    stores = {(row["store"], row["mode"]) for row in milvus["quality"]["rows"]}
    assert {("embedded", "hybrid"), ("milvus", "hybrid"), ("milvus", "keyword"), ("milvus", "dense")} <= stores
    assert all(_unit(row["sets"]["dev"]["recall@4"]) for row in milvus["quality"]["rows"])
    assert {(row["store"], row["chunks"]) for row in milvus["scale"]} == {("embedded", 300), ("milvus", 300)}
    assert all(row["chunks_per_s"] > 0 and row["latency"]["hybrid"]["p50_ms"] > 0 for row in milvus["scale"])

    report = (out / "report.md").read_text(encoding="utf-8")
    for section in ("1. Retrieval quality", "6. Removing a document", "7. A 150 MB upload", "8. Many clients"):
        assert f"## {section}" in report, section
    assert "## 9. OCR of scanned pages" in report and "## 10. Citation checking" in report
    assert "## 11. Saying “not in the sources”" in report and "## 12. A whole project as a knowledge base" in report
    assert "## 13. Vector search recall" in report
    assert "## 14. The Milvus store (Milvus Lite)" in report
    assert "## 15. LLM speed" in report and "Not run" not in report
    assert all((out / f"{name}.png").stat().st_size > 0 for name in ("quality", "latency", "ingest"))
