"""Mechanical checks of bench/verify_set.jsonl, the labelled set a citation checker is measured on.

What needs no judgement: fields, kinds and their counts, every passage copied verbatim from one
corpus file and cut at sentence boundaries, markers equal to ``cited``, the share of English and
the mix of marker placements. Whether each label is right was checked by hand, not here.

    .venv/bin/python bench/check_verify_set.py [--set PATH] [--corpus DIR]

prints the failures and exits 1, or prints a summary and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

VERIFY_SET = Path(__file__).resolve().parent / "verify_set.jsonl"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

SUPPORTED_KINDS = {"copied": 40, "reworded": 60, "two_source": 30, "partial_quote": 10}
UNSUPPORTED_KINDS = {
    "number_changed": 30,
    "entity_swapped": 30,
    "negated": 30,
    "wrong_source": 30,
    "invented": 25,
    "half_supported": 25,
}
NO_CLAIM_KINDS = {"no_claim": 10}
KIND_MINIMUMS = {**SUPPORTED_KINDS, **UNSUPPORTED_KINDS, **NO_CLAIM_KINDS}
MIN_ITEMS = 320
FIELDS = {"id", "sources", "sentence", "cited", "supported", "kind", "note"}
PASSAGE_CHARS = (200, 800)
SOURCES_PER_ITEM = (2, 4)
ENGLISH_SHARE = (0.10, 0.20)  # about 15 %
BEFORE_STOP_SHARE = (0.40, 0.60)  # about half "…显存[1]。", the rest "…显存。[1]"
EDIT_KINDS = ("number_changed", "entity_swapped", "negated")
MIN_EDIT_OVERLAP = 0.35  # an edited sentence keeps most of its cited wording, so overlap cannot find the edit

MARKER = re.compile(r"\[(\d+)\]")
CJK = re.compile(r"[\u3400-\u9fff]")
STOPS = "。！？!?."
CLOSERS = "”’」』）)\"'"
MARKER_BEFORE_STOP = re.compile(r"(\[\d+\])+\s*[。！？!?.]$")
MARKER_AFTER_STOP = re.compile(r"[。！？!?.]\s*(\[\d+\])+$")
LINE_PREFIX = re.compile(r"[\s>*•-]*")
HALF_WIDTH = str.maketrans("，。：；！？（）", ",.:;!?()")


def load_items(path: Path) -> list[dict[str, Any]]:
    """The set's items, one JSON object a line (blank lines skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def load_corpus(folder: Path) -> dict[str, str]:
    """File name -> text of every corpus file."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()) if p.is_file()}


def is_english(sentence: str) -> bool:
    """A sentence without any CJK character counts as English."""
    return not CJK.search(sentence)


def marker_placement(sentence: str) -> str:
    """'before' for "…[1]。", 'after' for "…。[1]", 'other' for anything else."""
    text = sentence.strip()
    if MARKER_BEFORE_STOP.search(text):
        return "before"
    if MARKER_AFTER_STOP.search(text):
        return "after"
    return "other"


def cited_overlap(item: dict[str, Any]) -> float:
    """Share of the sentence's character bigrams found in its cited passages (markers and spaces ignored)."""

    def flat(text: str) -> str:
        return re.sub(r"\s", "", MARKER.sub("", text).translate(HALF_WIDTH)).lower()

    sentence = flat(item["sentence"])
    cited = flat("".join(item["sources"][str(n)] for n in item["cited"]))
    bigrams = {sentence[i : i + 2] for i in range(len(sentence) - 1)}
    return sum(b in cited for b in bigrams) / len(bigrams) if bigrams else 0.0


def _starts_at_boundary(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    if LINE_PREFIX.fullmatch(text[line_start:start]):  # a new line, perhaps after a list or quote mark
        return True
    before = text[:start].rstrip(" \t\u3000")
    return before[-1] in STOPS


def _ends_at_boundary(text: str, end: int) -> bool:
    if end == len(text) or text[end] == "\n":
        return True
    body = text[:end].rstrip(CLOSERS)
    return bool(body) and body[-1] in STOPS and not (body[-1] == "." and text[end].isdigit())


def passage_problem(passage: Any, corpus: dict[str, str]) -> str | None:
    """Why a source passage is not a valid excerpt of one corpus file, or None if it is."""
    if not isinstance(passage, str):
        return "is not a string"
    if not PASSAGE_CHARS[0] <= len(passage) <= PASSAGE_CHARS[1]:
        return f"has {len(passage)} characters, not {PASSAGE_CHARS[0]}-{PASSAGE_CHARS[1]}"
    found = False
    for text in corpus.values():
        start = text.find(passage)
        while start != -1:
            found = True
            if _starts_at_boundary(text, start) and _ends_at_boundary(text, start + len(passage)):
                return None
            start = text.find(passage, start + 1)
    return "is not cut at sentence boundaries" if found else "is not a verbatim excerpt of any corpus file"


def expected_supported(kind: str) -> bool | None:
    """The label a kind implies: True, False, or None for sentences that make no claim."""
    if kind in SUPPORTED_KINDS:
        return True
    return False if kind in UNSUPPORTED_KINDS else None


def _sources_problems(sources: dict[str, Any], corpus: dict[str, str]) -> list[str]:
    problems = [f"source {n} {p}" for n, p in ((n, passage_problem(t, corpus)) for n, t in sources.items()) if p]
    if list(sources) != [str(n) for n in range(1, len(sources) + 1)]:
        problems.append(f"source numbers {list(sources)} are not 1..{len(sources)} in order")
    if all(isinstance(t, str) for t in sources.values()) and len(set(sources.values())) != len(sources):
        problems.append("the same passage appears twice")
    return problems


def item_problems(item: Any, corpus: dict[str, str]) -> list[str]:
    """Every way one item breaks the format, each as 'reason' (without the item's id)."""
    if not isinstance(item, dict):
        return ["is not a JSON object"]
    if set(item) != FIELDS:
        return [f"has fields {sorted(item)}, expected {sorted(FIELDS)}"]
    problems = []
    kind, sources, sentence, cited = item["kind"], item["sources"], item["sentence"], item["cited"]
    if kind not in KIND_MINIMUMS:
        problems.append(f"unknown kind {kind!r}")
    elif item["supported"] is not expected_supported(kind):
        problems.append(f"supported is {item['supported']!r} but kind {kind} means {expected_supported(kind)!r}")
    if not isinstance(sources, dict) or not SOURCES_PER_ITEM[0] <= len(sources) <= SOURCES_PER_ITEM[1]:
        return [*problems, f"sources must map {SOURCES_PER_ITEM[0]}-{SOURCES_PER_ITEM[1]} numbers to passages"]
    problems.extend(_sources_problems(sources, corpus))
    if not isinstance(sentence, str) or not sentence.strip() or "\n" in sentence:
        return [*problems, "sentence must be one non-empty line"]
    markers = list(dict.fromkeys(int(n) for n in MARKER.findall(sentence)))
    if not isinstance(cited, list) or cited != markers:
        problems.append(f"cited {cited!r} differs from the sentence's markers {markers}")
    elif any(str(n) not in sources for n in cited):
        problems.append(f"cites {cited} but sources are {list(sources)}")
    if kind != "no_claim" and not markers:
        problems.append("cites nothing")
    if kind != "no_claim" and markers and marker_placement(sentence) == "other":
        problems.append("markers are neither just before nor just after the final stop")
    if kind == "two_source" and len(markers) < 2:
        problems.append("two_source cites fewer than two sources")
    if kind == "wrong_source" and len(markers) >= len(sources):
        problems.append("wrong_source has no uncited source")
    if not problems and kind in EDIT_KINDS and not is_english(sentence) and cited_overlap(item) < MIN_EDIT_OVERLAP:
        problems.append(f"{kind} shares only {cited_overlap(item):.0%} of its bigrams with the cited passages")
    note = item["note"]
    if not isinstance(note, str) or not note.strip() or "\n" in note:
        problems.append("note must be one non-empty line")
    return problems


def _share_problem(name: str, count: int, total: int, bounds: tuple[float, float]) -> list[str]:
    share = count / total if total else 0.0
    if bounds[0] <= share <= bounds[1]:
        return []
    return [f"{name} is {share:.1%} ({count}/{total}), expected {bounds[0]:.0%}-{bounds[1]:.0%}"]


def set_problems(items: list[Any], corpus: dict[str, str]) -> list[str]:
    """Every failure of the whole set, each a one-line reason naming the item where there is one."""
    problems = []
    ids = [item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else "" for item in items]
    for index, item in enumerate(items):
        label = ids[index] if re.fullmatch(r"v\d{3,}", ids[index]) else f"line {index + 1}"
        if label != ids[index]:
            problems.append(f"{label}: id must look like v001")
        problems.extend(f"{label}: {p}" for p in item_problems(item, corpus))
    problems.extend(f"id {i} is used {n} times" for i, n in Counter(ids).items() if i and n > 1)
    valid = [item for item in items if isinstance(item, dict) and set(item) == FIELDS]
    if len(items) < MIN_ITEMS:
        problems.append(f"{len(items)} items, expected at least {MIN_ITEMS}")
    kinds = Counter(item["kind"] for item in valid if isinstance(item["kind"], str))
    for kind, minimum in KIND_MINIMUMS.items():
        if kinds[kind] < minimum:
            problems.append(f"kind {kind}: {kinds[kind]} items, expected at least {minimum}")
    sentences = Counter(item["sentence"] for item in valid if isinstance(item["sentence"], str))
    problems.extend(f"sentence used {n} times: {s}" for s, n in sentences.items() if n > 1)
    english = sum(isinstance(item["sentence"], str) and is_english(item["sentence"]) for item in valid)
    problems.extend(_share_problem("the share of English sentences", english, len(valid), ENGLISH_SHARE))
    claims = [item["sentence"] for item in valid if item["kind"] != "no_claim" and isinstance(item["sentence"], str)]
    placed = [marker_placement(sentence) for sentence in claims]
    before = placed.count("before")
    problems.extend(_share_problem("the share of markers before the stop", before, len(placed), BEFORE_STOP_SHARE))
    return problems


def summary(items: list[dict[str, Any]]) -> str:
    """Counts per kind and language, and the marker placements, as a small table."""
    rows = Counter((item["kind"], "en" if is_english(item["sentence"]) else "zh") for item in items)
    lines = [f"{'kind':16} {'zh':>4} {'en':>4} {'all':>5}"]
    for kind in KIND_MINIMUMS:
        zh, en = rows[(kind, "zh")], rows[(kind, "en")]
        lines.append(f"{kind:16} {zh:4d} {en:4d} {zh + en:5d}")
    zh_all = sum(n for (_, lang), n in rows.items() if lang == "zh")
    lines.append(f"{'total':16} {zh_all:4d} {len(items) - zh_all:4d} {len(items):5d}")
    placed = Counter(marker_placement(item["sentence"]) for item in items if item["kind"] != "no_claim")
    lines.append(f"markers before the stop {placed['before']}, after it {placed['after']}")
    chinese = [item for item in items if item["kind"] != "no_claim" and not is_english(item["sentence"])]
    for label in (True, False):
        overlaps = [cited_overlap(item) for item in chinese if item["supported"] is label]
        mean = sum(overlaps) / len(overlaps)
        lines.append(f"supported={label}: Chinese sentences share {mean:.0%} of their bigrams with the cited passages")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Check the set; print failures (exit 1) or a summary (exit 0)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=VERIFY_SET, help="the JSONL file to check")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of the corpus files")
    args = parser.parse_args(argv)
    items = load_items(args.set)
    problems = set_problems(items, load_corpus(args.corpus))
    if problems:
        print("\n".join(problems))
        print(f"{len(problems)} failures")
        return 1
    print(summary(items))
    return 0


if __name__ == "__main__":
    sys.exit(main())
