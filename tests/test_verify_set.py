"""Every labelled set of the citation checker (bench/verify_set.jsonl, verify_set_2.jsonl,
verify_set_3.jsonl, verify_set_4.jsonl) passes the same checks, and the checks catch broken items in any of them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.check_verify_set import VERIFY_SET, item_problems, load_corpus, load_items, main, set_problems

CORPUS = Path(__file__).parents[2] / "shared" / "corpus"
SETS = [VERIFY_SET, *(VERIFY_SET.with_name(f"verify_set_{n}.jsonl") for n in (2, 3, 4))]

Item = dict[str, Any]


@pytest.fixture(scope="module")
def corpus() -> dict[str, str]:
    return load_corpus(CORPUS)


@pytest.fixture(scope="module", params=SETS, ids=[path.name for path in SETS])
def labelled_set(request: pytest.FixtureRequest) -> Path:
    return request.param


@pytest.fixture(scope="module")
def items(labelled_set: Path) -> list[Item]:
    return load_items(labelled_set)


def test_the_set_passes_every_check(items: list[Item], corpus: dict[str, str]) -> None:
    assert set_problems(items, corpus) == []


def test_the_command_exits_zero_and_prints_the_counts(labelled_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--set", str(labelled_set), "--corpus", str(CORPUS)]) == 0
    printed = capsys.readouterr().out
    assert "half_supported" in printed and "markers before the stop" in printed


def _first(items: list[Item], kind: str) -> Item:
    return copy.deepcopy(next(item for item in items if item["kind"] == kind and "[1]" in item["sentence"]))


def _edit_passage(item: Item) -> None:
    passage = item["sources"]["1"]
    item["sources"]["1"] = passage[: len(passage) // 2] + "地" + passage[len(passage) // 2 :]


def _cut_mid_sentence(item: Item) -> None:
    item["sources"]["1"] = item["sources"]["1"][3:]


def _cite_a_number_not_marked(item: Item) -> None:
    item["cited"] = [*item["cited"], 9]


def _drop_the_stop(item: Item) -> None:
    item["sentence"] = item["sentence"].replace("。", "").replace(".", "")


def _flip_the_label(item: Item) -> None:
    item["supported"] = not item["supported"]


def _rewrite_unlike_the_source(item: Item) -> None:
    item["sentence"] = "据说这个模型在各方面都远远超过了所有已知的对手[1]。"


MUTATIONS: list[tuple[str, Callable[[Item], None], str]] = [
    ("copied", _edit_passage, "not a verbatim excerpt"),
    ("reworded", _cut_mid_sentence, "not cut at sentence boundaries"),
    ("negated", _cite_a_number_not_marked, "differs from the sentence's markers"),
    ("invented", _drop_the_stop, "neither just before nor just after"),
    ("two_source", _flip_the_label, "but kind two_source means True"),
    ("number_changed", _rewrite_unlike_the_source, "of its bigrams with the cited passages"),
]


@pytest.mark.parametrize(("kind", "mutate", "reason"), MUTATIONS, ids=[m[1].__name__ for m in MUTATIONS])
def test_a_broken_item_is_reported(
    items: list[Item], corpus: dict[str, str], kind: str, mutate: Callable[[Item], None], reason: str
) -> None:
    item = _first(items, kind)
    assert item_problems(item, corpus) == []
    mutate(item)
    assert any(reason in problem for problem in item_problems(item, corpus))


def test_a_wrong_source_item_must_leave_a_source_uncited(items: list[Item], corpus: dict[str, str]) -> None:
    item = _first(items, "wrong_source")
    item["sources"] = {str(n): item["sources"][str(n)] for n in range(1, 3)}
    item["sentence"] = item["sentence"].replace("[1]", "[1][2]", 1)
    item["cited"] = [1, 2] if item["cited"] == [1] else item["cited"]
    assert "wrong_source has no uncited source" in item_problems(item, corpus)


def test_set_wide_shares_counts_and_ids_are_checked(items: list[Item], corpus: dict[str, str]) -> None:
    english = [item for item in items if not any("\u4e00" <= ch <= "\u9fff" for ch in item["sentence"])]
    problems = set_problems([*english, english[0]], corpus)
    assert any(p.startswith("the share of English sentences is 100.0%") for p in problems)
    assert any(p.startswith("kind no_claim:") for p in problems)
    assert f"id {english[0]['id']} is used 2 times" in problems
    assert any(p.endswith("expected at least 320") for p in problems)


def test_no_two_sets_share_an_id() -> None:
    """Items are split into halves by the hash of their id (bench/verify_data.py): no id may recur across sets."""
    ids = [{item["id"] for item in load_items(path)} for path in SETS]
    assert all(ids) and sum(map(len, ids)) == len(set().union(*ids))
