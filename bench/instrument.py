"""Stage timers around the real ingest pipeline, installed for the duration of a ``with`` block.

The pipeline is not changed: its module-level names (``parse_document``, ``split_sections``,
``fts_document``, ``EmbeddedStore.apply``) and the embedder behind ``get_embedder`` are wrapped
with timers and restored afterwards. ``store`` time includes the jieba ``keywords`` time spent
inside it; ``StageTimes.exclusive`` splits them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest import pipeline
from ingest.embeddings import Embedder, embedders_replaced, get_embedder
from ingest.stores import embedded as store_module
from ingest.stores import sqlite_rows


@dataclass
class StageTimes:
    """Seconds per stage plus the pipeline's progress events (stage -> [(seconds since start, done, total)])."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("parse", "split", "embed", "store"), 0.0))
    keywords: float = 0.0
    chunks_embedded: int = 0
    events: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def progress(self, stage: str, done: int, total: int) -> None:
        """The pipeline's progress callback: remembers when each stage reported."""
        self.events.setdefault(stage, []).append((time.perf_counter() - self.started, done, total))

    def exclusive(self, total: float) -> dict[str, float]:
        """Non-overlapping stages that add up to ``total``: store without jieba, keywords, other."""
        out = dict(self.seconds)
        out["store"] = max(out["store"] - self.keywords, 0.0)
        out["keywords"] = self.keywords
        out["other"] = max(total - sum(out.values()), 0.0)
        return out


class _TimedEmbedder(Embedder):
    def __init__(self, inner: Embedder, times: StageTimes) -> None:
        self.inner, self.times = inner, times
        self.name, self.dim = inner.name, inner.dim

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.encode_passages(texts)
        finally:
            self.times.seconds["embed"] += time.perf_counter() - started
            self.times.chunks_embedded += len(texts)

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_query(text)


def _timed(function: Callable[..., Any], add: Callable[[float], None]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            add(time.perf_counter() - started)

    return wrapper


@contextlib.contextmanager
def stage_timers(embedder_spec: str) -> Iterator[StageTimes]:
    """Time parse, split, embed, store (and jieba inside store) of every ingest run in the block."""
    times = StageTimes()

    def adder(stage: str) -> Callable[[float], None]:
        def add(seconds: float) -> None:
            times.seconds[stage] += seconds

        return add

    def add_keywords(seconds: float) -> None:
        times.keywords += seconds

    saved = (pipeline.parse_document, pipeline.split_sections, sqlite_rows.fts_document)
    saved_apply = store_module.EmbeddedStore.apply
    pipeline.parse_document = _timed(pipeline.parse_document, adder("parse"))
    pipeline.split_sections = _timed(pipeline.split_sections, adder("split"))
    sqlite_rows.fts_document = _timed(sqlite_rows.fts_document, add_keywords)
    store_module.EmbeddedStore.apply = _timed(saved_apply, adder("store"))  # type: ignore[method-assign]
    try:
        with embedders_replaced({embedder_spec: _TimedEmbedder(get_embedder(embedder_spec), times)}):
            yield times
    finally:
        pipeline.parse_document, pipeline.split_sections, sqlite_rows.fts_document = saved
        store_module.EmbeddedStore.apply = saved_apply  # type: ignore[method-assign]
