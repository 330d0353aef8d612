"""Result types at the core/UI boundary: the core orders and deduplicates, the UI only shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.types import StoredChunk


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk with why it was retrieved.

    ``score`` is the fused relevance on a 0..1 scale (1 = best rank in every retriever used);
    ranks are 1-based, None when that retriever did not return the chunk. ``keyword_score`` (BM25)
    and ``dense_score`` (cosine) are that retriever's raw scores: unlike ``score`` they mean the
    same from one query to the next, within one knowledge base and embedder (rag.answerable).
    """

    chunk: StoredChunk
    score: float
    keyword_rank: int | None = None
    dense_rank: int | None = None
    rerank_score: float | None = None
    keyword_score: float | None = None
    dense_score: float | None = None


@dataclass(frozen=True)
class Citation:
    """Source [number] as shown to the model and cited in the answer."""

    number: int
    chunk: StoredChunk
    score: float


@dataclass
class PackingReport:
    """How the model's context window was spent, and what did not fit."""

    window: int
    reserved_for_answer: int
    instruction_tokens: int = 0
    source_tokens: int = 0
    history_tokens: int = 0
    question_tokens: int = 0
    total_tokens: int = 0
    sources_used: int = 0
    sources_dropped: int = 0
    history_turns_used: int = 0
    history_turns_dropped: int = 0
    question_truncated: bool = False
    exact: bool = True  # False when tokens are estimated (no tokenizer for the model)
    tokenizer: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Timings:
    """Seconds spent, for the status line."""

    retrieve: float = 0.0
    first_token: float | None = None
    total: float = 0.0
    verify: float = 0.0  # checking the answer's citations (rag.verify), part of total


@dataclass(frozen=True)
class Verdict:
    """Whether the sources a sentence cites support all of it.

    ``supported`` is None for a sentence that makes no claim. ``score`` is the fitted probability
    of support (0 for no claim). ``evidence`` is (source number, start, end) of the best-matching
    span in that source's text: the support, or for an unsupported sentence what it was compared
    with. ``missing`` lists, for people, what was not found where it was cited. ``source`` is set
    for a claim without markers that a source supports.
    """

    sentence: str
    cited: list[int]
    supported: bool | None
    score: float
    evidence: tuple[int, int, int] | None
    missing: list[str]
    source: int | None = None


@dataclass(frozen=True)
class Answerability:
    """Whether the retrieved sources seem to hold an answer, and why (rag.answerable).

    ``signal`` names what was compared ("dense": the best raw cosine of a source, for English
    questions plus a fitted weight times the share of their words found; "words": the share of the
    question's content words found in the sources), ``value`` against ``threshold``.
    ``signals`` holds every measured signal, for people and the bench. ``reason`` is one line for
    the UI, in both languages: empty when answerable.
    """

    answerable: bool
    signal: str
    value: float
    threshold: float
    signals: dict[str, float] = field(default_factory=dict)
    reason: str = ""


@dataclass
class Answer:
    """Everything the UI and the CLI show for one question."""

    question: str
    text: str
    sources: list[Citation]  # every numbered source offered to the model, [1]..[n]
    cited: list[Citation]  # the sources the answer actually cites, in order of first citation
    packing: PackingReport | None
    timings: Timings
    backend: str
    standalone_query: str = ""
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    cut_off: str | None = None  # why the answer stopped before the model finished it (None: it is whole)
    verdicts: list[Verdict] = field(default_factory=list)  # per sentence: do its cited sources support it
    output_tokens: int | None = None  # tokens the model says it generated, when it says
    answerability: Answerability | None = None  # None: not judged (no retrieval happened)
