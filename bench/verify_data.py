"""The labelled sets the citation checker is fitted and measured on, split once and for all.

Each labelled set (bench/verify_set.jsonl, and bench/verify_set_2.jsonl, verify_set_3.jsonl and
verify_set_4.jsonl, written later and blind by other engineers who saw neither the checker nor its
results) is split
by id, before any result was looked at: items ordered by the SHA-256 of their id, the first half
is the *calibration* half (every fitted constant comes from the calibration halves of every set:
bench/verify_fit.py), the second the *held-out* half (only reported on: bench/verify.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.check_verify_set import VERIFY_SET, load_items
from ingest.embeddings import Embedder


@dataclass(frozen=True)
class LabelledItem:
    """One labelled sentence with its numbered sources."""

    id: str
    kind: str
    sentence: str
    sources: dict[int, str]
    cited: list[int]
    supported: bool | None

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> LabelledItem:
        sources = {int(n): text for n, text in item["sources"].items()}
        return cls(item["id"], item["kind"], item["sentence"], sources, list(item["cited"]), item["supported"])


def split_halves(items: Sequence[LabelledItem]) -> tuple[list[LabelledItem], list[LabelledItem]]:
    """(calibration, held-out): ordered by SHA-256 of the id, first half and second half."""
    ordered = sorted(items, key=lambda item: hashlib.sha256(item.id.encode()).hexdigest())
    half = len(ordered) // 2
    return ordered[:half], ordered[half:]


VERIFY_SETS = {
    "set 1": VERIFY_SET,
    "set 2": VERIFY_SET.with_name("verify_set_2.jsonl"),
    "set 3": VERIFY_SET.with_name("verify_set_3.jsonl"),
    "set 4": VERIFY_SET.with_name("verify_set_4.jsonl"),
}


def load_halves(path: Path = VERIFY_SET) -> tuple[list[LabelledItem], list[LabelledItem]]:
    """One labelled set's (calibration, held-out) halves."""
    return split_halves([LabelledItem.from_json(item) for item in load_items(path)])


def calibration_items() -> list[LabelledItem]:
    """The calibration halves of every labelled set, set 1 first: all that fitting may read."""
    return [item for path in VERIFY_SETS.values() for item in load_halves(path)[0]]


class CachedEmbedder(Embedder):
    """A real embedder that embeds each distinct text once (the set repeats its passages).

    For measuring accuracy only; latency is measured on the embedder itself.
    """

    def __init__(self, base: Embedder) -> None:
        self.base, self.name, self.dim = base, base.name, base.dim
        self._rows: dict[str, np.ndarray] = {}

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._rows]
        if new:
            self._rows.update(zip(new, self.base.encode_passages(new), strict=True))
        return np.stack([self._rows[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.base.encode_query(text)

    def prefill(self, items: Sequence[LabelledItem], batch: int = 64) -> None:
        """Embed every sentence and source sentence of ``items`` in batches of ``batch``."""
        from rag.verify.answer import split_answer
        from rag.verify.sources import read_sources

        texts = [s.claim for item in items for s in split_answer(item.sentence)]
        for item in items:
            texts += [span.text for source in read_sources(item.sources).values() for span in source.spans]
        todo = list(dict.fromkeys(t for t in texts if t not in self._rows))
        for start in range(0, len(todo), batch):
            self.encode_passages(todo[start : start + batch])
