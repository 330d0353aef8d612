"""The knowledge base and the assistant as LangChain parts, for LCEL pipelines.

    retriever = assistant.as_retriever("default")          # BaseRetriever -> list[Document]
    chain = {"documents": retriever, "question": RunnablePassthrough()} | documents_prompt | model
    answer = assistant.as_runnable("default").invoke({"question": "...", "history": []})  # Answer

A Document's page_content is the chunk's text; its metadata is the source as the CLI's --json
and the HTTP API show it (rag.export.source_record: path, location, lines, page, symbol,
section, kind, ocr, score), plus LangChain's usual ``source`` (the path) and ``chunk_id``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field

from ingest.types import StoredChunk
from rag.export import source_record
from rag.prompts import build_messages
from rag.retrieve import Retriever
from rag.types import Answer, Citation, RetrievedChunk

if TYPE_CHECKING:
    from rag.chain import AnswerEvent, Assistant

QuestionInput = str | Mapping[str, Any]
"""A question, or {"question": str, "history": [(question, answer), ...]} (history optional)."""


def chunk_document(result: RetrievedChunk, rank: int) -> Document:
    """One retrieved chunk as a Document (``rank``: its 1-based place in the results)."""
    chunk = result.chunk
    record = source_record(Citation(rank, chunk, result.score), cited=False)
    for key in ("number", "cited", "text"):
        record.pop(key)
    metadata = {"source": chunk.doc_name, **record, "chunk_id": chunk.id, "ordinal": chunk.ordinal}
    return Document(page_content=chunk.text, metadata=metadata, id=str(chunk.id))


def document_citation(number: int, document: Document) -> Citation:
    """A Document as source [number] of a prompt; Documents of other retrievers work too (their
    ``source`` metadata, if any, names them)."""
    meta = document.metadata
    lines = meta.get("lines")
    chunk = StoredChunk(
        id=int(meta.get("chunk_id", number)),
        doc_name=str(meta.get("source") or f"document {number}"),
        ordinal=int(meta.get("ordinal", 0)),
        text=document.page_content,
        page=meta.get("page"),
        heading=meta.get("symbol") or meta.get("section"),
        lines=(int(lines[0]), int(lines[1])) if lines else None,
        kind=meta.get("kind", "doc"),
        ocr=bool(meta.get("ocr", False)),
    )
    return Citation(number, chunk, float(meta.get("score", 0.0)))


def documents_messages(inputs: Mapping[str, Any]) -> list[BaseMessage]:
    """{"documents": [...], "question": str, "history": optional pairs} -> the messages our chat
    models expect: the instruction, the history, then the numbered sources and the question."""
    citations = [document_citation(n, d) for n, d in enumerate(inputs["documents"], start=1)]
    return build_messages(citations, inputs.get("history", []), inputs["question"])


documents_prompt = RunnableLambda(documents_messages, name="documents_prompt")
"""documents_messages as a pipeline step: ``{"documents": retriever, "question": ...} | documents_prompt | model``."""


class KnowledgeBaseRetriever(BaseRetriever):
    """A knowledge base's hybrid search (rag.retrieve.Retriever.ranked) as a LangChain retriever.

    ``k`` (constructor or per call): how many Documents; None keeps the settings' ``top_k``.
    Chunks come unmerged, best first, each with its own id.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever = Field(description="The opened knowledge base's retriever (Assistant.retriever).")
    k: int | None = Field(None, ge=1, description="Documents returned; None: the settings' top_k.")

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        results = self.retriever.ranked(query, k or self.k)
        return [chunk_document(result, rank) for rank, result in enumerate(results, start=1)]


def _question(input_: QuestionInput) -> tuple[str, list[tuple[str, str]]]:
    if isinstance(input_, str):
        return input_, []
    if "question" not in input_:
        raise ValueError('the input needs a "question" (a string, or {"question": ..., "history": [...]})')
    history = [(str(asked), str(answered)) for asked, answered in input_.get("history") or []]
    return str(input_["question"]), history


class AnswerRunnable(Runnable[QuestionInput, "AnswerEvent"]):
    """Assistant.stream over one knowledge base as a Runnable.

    ``invoke`` returns the Answer; ``stream`` yields the answer's text pieces, then the Answer
    (a later step of a pipeline receives the Answer: LangChain keeps the last chunk that cannot be
    added to the ones before).
    """

    def __init__(self, assistant: Assistant, kb_name: str) -> None:
        self.assistant = assistant
        self.kb_name = kb_name

    @property
    def InputType(self) -> Any:
        return QuestionInput

    @property
    def OutputType(self) -> Any:
        return Answer

    def _events(self, input_: QuestionInput) -> Iterator[AnswerEvent]:
        question, history = _question(input_)
        return self.assistant.stream(question, history, self.kb_name)

    def _answer(self, input_: QuestionInput) -> Answer:
        *_, answer = self._events(input_)
        assert isinstance(answer, Answer)  # Assistant.stream always ends with its Answer
        return answer

    def invoke(self, input: QuestionInput, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        """The whole Answer."""
        return self._call_with_config(self._answer, input, config, run_type="chain")

    def _transform(self, inputs: Iterator[QuestionInput]) -> Iterator[AnswerEvent]:
        whole: Any = None
        for piece in inputs:  # a step before may stream: text pieces, or a parallel step's dicts
            try:
                whole = piece if whole is None else whole + piece
            except TypeError:
                whole = piece
        yield from self._events(whole)

    def transform(
        self, input: Iterator[QuestionInput], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AnswerEvent]:
        """The text pieces of the answer to the question ``input`` adds up to, then its Answer."""
        yield from self._transform_stream_with_config(input, self._transform, config, run_type="chain")

    def stream(
        self, input: QuestionInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AnswerEvent]:
        """The answer's text pieces as they are written, then the Answer."""
        yield from self.transform(iter([input]), config)

    async def astream(
        self, input: QuestionInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AnswerEvent]:
        """``stream``, each piece awaited off the event loop."""
        events = self.stream(input, config)
        done = object()
        while (event := await run_in_executor(config, next, events, done)) is not done:
            yield event  # type: ignore[misc]  # everything but ``done`` came from ``events``
