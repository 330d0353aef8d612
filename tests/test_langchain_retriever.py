"""The knowledge base as a LangChain retriever and the assistant as a Runnable, in LCEL pipelines.

RetrieversIntegrationTests (langchain-tests) runs on the test corpus built into a real knowledge
base with the hashing embedder; nothing is skipped.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import CORPUS
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough
from langchain_tests.integration_tests import RetrieversIntegrationTests

from ingest import pipeline
from rag.chain import Assistant
from rag.config import Settings
from rag.langchain import AnswerRunnable, KnowledgeBaseRetriever, document_citation, documents_prompt
from rag.llm.extractive import ExtractiveChat
from rag.types import Answer

QUESTION = "Self-Consistency 方法把 GSM8K 准确率提高到多少？"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The test corpus in knowledge base 'corpus', answered extractively."""
    root = tmp_path_factory.mktemp("lc-kb")
    settings = Settings(
        data_dir=root / "kb", embedder="hashing", chunk_size=200, chunk_overlap=40, llm_backend="extractive"
    )
    report = pipeline.build_from_folder(settings, "corpus", CORPUS)
    assert not report.failed, report.failed
    return Assistant(settings)


class TestKnowledgeBaseRetriever(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _kb(self, assistant: Assistant) -> None:
        self.assistant = assistant

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return KnowledgeBaseRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"retriever": self.assistant.retriever("corpus")}

    @property
    def retriever_query_example(self) -> str:
        return QUESTION


def test_documents_carry_the_chunk_text_and_where_it_is(assistant: Assistant) -> None:
    documents = assistant.as_retriever("corpus", k=2).invoke(QUESTION)
    assert len(documents) == 2
    best = documents[0]
    assert "74.4%" in best.page_content
    chunk = assistant.retriever("corpus").ranked(QUESTION, 1)[0].chunk
    assert best.id == str(chunk.id) and best.page_content == chunk.text
    assert best.metadata == {
        "source": "emergence.md",
        "path": "emergence.md",
        "location": chunk.location,
        "lines": list(chunk.lines or ()),
        "page": None,
        "symbol": None,
        "section": chunk.heading,
        "kind": "doc",
        "ocr": False,
        "score": 1.0,
        "chunk_id": chunk.id,
        "ordinal": chunk.ordinal,
    }
    assert best.metadata["location"].startswith("emergence.md:")
    assert documents[1].metadata["score"] < 1.0


def test_a_document_turns_back_into_the_source_it_came_from(assistant: Assistant) -> None:
    [document] = assistant.as_retriever("corpus", k=1).invoke(QUESTION)
    chunk = assistant.retriever("corpus").ranked(QUESTION, 1)[0].chunk
    citation = document_citation(3, document)
    assert (citation.number, citation.chunk, citation.score) == (3, chunk, 1.0)
    foreign = document_citation(1, Document(page_content="text", metadata={"source": "https://example.org/a"}))
    assert (foreign.chunk.location, foreign.chunk.text) == ("https://example.org/a", "text")


def test_chain_retriever_format_model_answers_from_the_retrieved_chunk(assistant: Assistant) -> None:
    retriever = assistant.as_retriever("corpus", k=3)
    chain = {"documents": retriever, "question": RunnablePassthrough()} | documents_prompt | ExtractiveChat()
    reply = chain.invoke(QUESTION)
    assert "74.4%" in reply.content
    assert "[1]" in reply.content  # source [1] is the best document
    streamed = "".join(str(chunk.content) for chunk in chain.stream(QUESTION))
    assert streamed == reply.content


def test_runnable_answers_a_question_with_history_and_streams_the_pieces(assistant: Assistant) -> None:
    runnable = assistant.as_runnable("corpus")
    assert isinstance(runnable, AnswerRunnable)
    answer = runnable.invoke({"question": QUESTION, "history": [("你好", "你好！")]})
    assert isinstance(answer, Answer) and "74.4%" in answer.text and answer.cited
    events = list(runnable.stream(QUESTION))
    assert isinstance(events[-1], Answer) and all(isinstance(e, str) for e in events[:-1])
    assert "".join(events[:-1]) == events[-1].text == answer.text
    assert [a.text for a in runnable.batch([QUESTION, {"question": QUESTION}])] == [answer.text] * 2


def test_runnable_is_a_step_of_a_pipeline_streamed_or_not(assistant: Assistant) -> None:
    cited = RunnableLambda(lambda answer: [c.chunk.doc_name for c in answer.cited])
    pipeline_ = assistant.as_runnable("corpus") | cited
    assert pipeline_.invoke(QUESTION) == ["emergence.md"]
    assert list(pipeline_.stream(QUESTION)) == [["emergence.md"]]
    asked = RunnableParallel(question=RunnablePassthrough(), history=RunnableLambda(lambda _: [("你好", "你好！")]))
    streamed = list((asked | assistant.as_runnable("corpus")).stream(QUESTION))  # the input arrives as two dicts
    answer = streamed[-1]
    assert isinstance(answer, Answer) and answer.question == QUESTION and "74.4%" in answer.text
    assert answer.packing is not None and answer.packing.history_turns_used == 1


async def test_runnable_streams_asynchronously(assistant: Assistant) -> None:
    events = [event async for event in assistant.as_runnable("corpus").astream(QUESTION)]
    assert isinstance(events[-1], Answer) and "".join(events[:-1]) == events[-1].text != ""


def test_runnable_says_what_input_it_needs(assistant: Assistant) -> None:
    with pytest.raises(ValueError, match='needs a "question"'):
        assistant.as_runnable("corpus").invoke({"query": QUESTION})
