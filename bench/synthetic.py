"""Synthetic corpora and stores built from the shared corpus's own sentences.

Texts: random runs of real sentences from the shared corpus, so term frequencies (what BM25 and
FTS5 cost depends on) look like the real thing. Vectors: mixtures of real chunk embeddings plus
noise with the real embeddings' covariance, so they have the topical clusters and the anisotropy
that make approximate search easy or hard (uniform random vectors would make every ANN index look
bad). A store is written through ``KnowledgeBase.create`` + ``apply`` with these vectors; only
jieba is bypassed, by looking the (jieba-made) terms of each sentence up instead of re-cutting
every chunk, which would take most of the build time at a million chunks.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.cache import cached_embedders
from ingest.embeddings import Embedder, get_embedder
from ingest.keywords import keyword_tokens
from ingest.loaders import load_document
from ingest.splitter import split_sections
from ingest.stores import PreparedDocument
from ingest.stores import sqlite_rows as store_module
from ingest.stores.embedded import EmbeddedStore as KnowledgeBase
from ingest.types import ChunkText

_SENTENCE = re.compile(r"[^。！？；!?\n]+[。！？；!?]?")
CHUNKS_PER_DOC = 100
BASE_CHUNKINGS = ((250, 40), (500, 80), (800, 120))  # the quality part's chunkings: cached vectors


@dataclass
class SentencePool:
    """The corpus's sentences with their keyword terms (jieba, computed once)."""

    sentences: list[str]
    terms: list[str]

    @classmethod
    def from_folder(cls, folder: Path, limit: int | None = None) -> SentencePool:
        sentences: list[str] = []
        for path in sorted(folder.iterdir()):
            text = path.read_text(encoding="utf-8", errors="replace")
            # Markdown markers are dropped: a "sentence" that is a heading would make a synthetic
            # document of headings only, which the loader rightly rejects as having no text.
            stripped = (s.strip().lstrip("#>*-•|` ").strip() for s in _SENTENCE.findall(text))
            sentences += [s for s in stripped if len(s) >= 8]
        sentences = list(dict.fromkeys(sentences))[:limit]
        return cls(sentences, [" ".join(keyword_tokens(s)) for s in sentences])


def synthetic_texts(
    pool: SentencePool, count: int, target_chars: int, rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    """``count`` chunk texts of about ``target_chars`` characters, and their FTS term strings."""
    lengths = np.array([len(s) for s in pool.sentences])
    per_chunk = max(1, round(target_chars / max(float(lengths.mean()), 1.0)))
    picks = rng.integers(0, len(pool.sentences), size=(count, per_chunk))
    texts = ["".join(pool.sentences[i] for i in row) for row in picks]
    terms = [" ".join(pool.terms[i] for i in row) for row in picks]
    return texts, terms


def synthetic_vectors(base: np.ndarray, count: int, rng: np.random.Generator, noise: float = 0.5) -> np.ndarray:
    """``count`` unit vectors: Dirichlet mixtures of 3 rows of ``base`` plus correlated noise.

    ``noise`` scales Gaussian noise drawn with the covariance of ``base`` (so it lies in the
    directions real embeddings vary in). Generated in blocks to keep memory at one output matrix.
    """
    base = np.asarray(base, np.float32)
    centred = base - base.mean(axis=0)
    # Noise with base's covariance: z @ L.T, L from the SVD of the centred rows.
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    scale = (singular / np.sqrt(max(len(base) - 1, 1)))[:, None] * vt
    out = np.empty((count, base.shape[1]), np.float32)
    block = 65536
    for start in range(0, count, block):
        n = min(block, count - start)
        weights = rng.dirichlet([0.6, 0.6, 0.6], size=n).astype(np.float32)
        rows = rng.integers(0, len(base), size=(n, 3))
        mixed = np.einsum("nk,nkd->nd", weights, base[rows])
        mixed += noise * (rng.standard_normal((n, scale.shape[0])).astype(np.float32) @ scale.astype(np.float32))
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        out[start : start + n] = mixed
    return out


@contextlib.contextmanager
def precomputed_terms(lookup: dict[str, str]) -> Iterator[None]:
    """While inside, the store indexes a chunk with its precomputed terms instead of re-running jieba."""
    original = store_module.fts_document

    def fts_document(text: str) -> str:
        path, heading, body = split_keyword_text(text)
        found = lookup.get(body) if not heading else None
        return f"{original(path)} {found}" if found is not None else original(text)

    store_module.fts_document = fts_document
    try:
        yield
    finally:
        store_module.fts_document = original


def split_keyword_text(whole: str) -> tuple[str, str, str]:
    """(path, heading, text) of what a store indexes a chunk by (ingest.stores.base.keyword_text)."""
    path, heading, text = whole.split("\n", 2)
    return path, heading, text


def synthetic_documents(texts: list[str], vectors: np.ndarray) -> list[PreparedDocument]:
    """``texts`` with their ``vectors`` (one window each) as documents of CHUNKS_PER_DOC chunks."""
    docs: list[PreparedDocument] = []
    for number, start in enumerate(range(0, len(texts), CHUNKS_PER_DOC)):
        part = texts[start : start + CHUNKS_PER_DOC]
        content = f"synthetic document {number}".encode()
        docs.append(
            PreparedDocument(
                name=f"doc{number:06d}.txt",
                kind="txt",
                size_bytes=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                chunks=[ChunkText(t) for t in part],
                vectors=[row[None, :] for row in vectors[start : start + len(part)]],
                content=content,
            )
        )
    return docs


def build_store(
    folder: Path,
    embedder_name: str,
    texts: list[str],
    terms: list[str],
    vectors: np.ndarray,
    batch_chunks: int = 250_000,
) -> KnowledgeBase:
    """A knowledge base holding ``texts`` with ``vectors``, written through the store's own apply().

    Each synthetic chunk has one window (its text is about one window long), so the FAISS index
    holds one vector per chunk.
    """
    kb = KnowledgeBase.create(folder, embedder_name, vectors.shape[1])
    docs = synthetic_documents(texts, vectors)
    per_batch = max(1, batch_chunks // CHUNKS_PER_DOC)
    with precomputed_terms(dict(zip(texts, terms, strict=True))):
        for start in range(0, len(docs), per_batch):
            kb.apply(docs[start : start + per_batch])
    return kb


def corpus_chunk_vectors(embedder: Embedder, folder: Path | None = None) -> np.ndarray:
    """Passage vectors of the shared corpus's chunks at 250, 500 and 800 characters (the synthetic base)."""
    from bench.common import CORPUS

    docs = [load_document(p, 10**9) for p in sorted((folder or CORPUS).iterdir())]
    texts = [c.text for size, overlap in BASE_CHUNKINGS for d in docs for c in split_sections(d, size, overlap)]
    return embedder.encode_passages(texts)


def embedder_base(spec: str) -> tuple[str, np.ndarray]:
    """Embedder ``spec``'s name and its vectors of the corpus chunks (through the bench cache):
    what a synthetic store is labelled with and mixed from."""
    with cached_embedders([] if spec == "hashing" else [spec]):
        embedder = get_embedder(spec)
        return embedder.name, corpus_chunk_vectors(embedder)
