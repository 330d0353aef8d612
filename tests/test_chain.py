"""The answer chain: streamed text, citations mapped to the right chunks, failures as messages."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import BOTH_BACKENDS
from fake_openai_server import FakeOpenAIServer
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from ingest.pipeline import IncomingFile, add_files, rebuild
from rag.chain import EMPTY_QUESTION, EXTRACTIVE_NOTICE, Assistant, cited_numbers
from rag.config import Settings
from rag.llm.base import LLMHandle
from rag.prompts import message_text, parse_user_turn
from rag.types import Answer


class CitingModel(BaseChatModel):
    """At the edge of the chain: a model that cites the source whose text contains ``target``.

    It reads the numbered sources from the prompt like a real model would, so the test checks
    that the number it cites maps back to the right chunk.
    """

    target: str
    fail_after: int | None = None

    @property
    def _llm_type(self) -> str:
        return "citing-test-model"

    def _pieces(self, messages: list[BaseMessage]) -> list[str]:
        sources, _ = parse_user_turn(message_text(messages[-1]))
        numbers = [n for n, text in sources.items() if self.target in text]
        return ["答案在这里", f"[{numbers[0]}]", "。", "另见[99]。"]

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage("".join(self._pieces(messages))))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[ChatGenerationChunk]:
        for index, piece in enumerate(self._pieces(messages)):
            if self.fail_after is not None and index >= self.fail_after:
                raise ConnectionError("connection reset by peer")
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        yield ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata={"finish_reason": "stop"}))


def _handle(model: BaseChatModel) -> LLMHandle:
    return LLMHandle("citing test model", model, 4096, lambda ms: sum(len(message_text(m)) for m in ms), "chars")


def _run(
    assistant: Assistant, question: str, kb: str, history: list[tuple[str, str]] | None = None
) -> tuple[str, Answer]:
    pieces, answer = [], None
    for event in assistant.stream(question, history or [], kb):
        if isinstance(event, Answer):
            answer = event
        else:
            pieces.append(event)
    assert answer is not None
    return "".join(pieces), answer


def test_cited_numbers_reads_every_citation_form() -> None:
    assert cited_numbers("甲[2]乙[1][3]丙【4】丁[2, 5]戊[1，6]") == [2, 1, 3, 4, 5, 6]


def test_cited_number_maps_to_the_chunk_the_model_used(settings: Settings, built_kb: str) -> None:
    assistant = Assistant(settings, _handle(CitingModel(target="conda env list")))
    streamed, answer = _run(assistant, "如何查看本机有哪些 conda 虚拟环境？", built_kb)
    assert streamed == answer.text
    [cited] = answer.cited
    assert "conda env list" in cited.chunk.text and cited.chunk.doc_name == "setup_notes.md"
    assert answer.sources[cited.number - 1] is cited
    assert any("[99]" in n for n in answer.notices)  # a number with no source is reported, not mapped
    assert answer.packing is not None and answer.packing.total_tokens <= 4096 - settings.max_new_tokens
    assert answer.timings.total >= answer.timings.retrieve > 0 and answer.timings.first_token is not None


def test_extractive_answer_quotes_and_cites_and_says_so(settings: Settings, built_kb: str) -> None:
    assistant = Assistant(settings)
    assert not assistant.llm.generative
    _, answer = _run(assistant, "Self-Consistency 方法把 GSM8K 准确率提高到多少？", built_kb)
    assert "74.4%" in answer.text and answer.cited
    assert any("74.4%" in c.chunk.text for c in answer.cited)
    assert EXTRACTIVE_NOTICE in answer.notices and answer.error is None


def test_follow_up_question_retrieves_the_earlier_subject(settings: Settings, built_kb: str) -> None:
    assistant = Assistant(settings)
    history = [("Self-Consistency 方法是什么？", "它对同一道题采样多条推理路径 [1]。")]
    _, answer = _run(assistant, "它是哪一年提出的？", built_kb, history)
    assert "Self-Consistency" in answer.standalone_query
    assert any("2022" in c.chunk.text for c in answer.sources)


def test_model_failing_mid_stream_keeps_partial_answer_and_sources(settings: Settings, built_kb: str) -> None:
    assistant = Assistant(settings, _handle(CitingModel(target="conda env list", fail_after=2)))
    streamed, answer = _run(assistant, "如何查看 conda 环境？", built_kb)
    assert streamed == answer.text and answer.text.startswith("答案在这里[")
    assert answer.error and "connection reset" in answer.error
    assert answer.sources and answer.cited


def test_server_down_is_a_message_with_sources_still_shown(settings: Settings, built_kb: str) -> None:
    with FakeOpenAIServer() as server:
        url = server.base_url
    down = settings.model_copy(update={"openai_base_url": url, "context_window": 4096, "openai_timeout_s": 2})
    _, answer = _run(Assistant(down), "如何查看 conda 环境？", built_kb)
    assert answer.error and "cannot reach" in answer.error.lower()
    assert answer.sources and answer.text == ""


def test_openai_server_streams_an_answer_with_citation(settings: Settings, built_kb: str) -> None:
    with FakeOpenAIServer(pieces=["conda env list 可以列出环境", "[1]。"]) as server:
        configured = settings.model_copy(update={"openai_base_url": server.base_url})
        streamed, answer = _run(Assistant(configured), "如何查看 conda 环境？", built_kb)
        sent = server.chat_requests[-1].body
    assert streamed == "conda env list 可以列出环境[1]。" and answer.cited[0].number == 1
    assert answer.error is None and "资料" in sent["messages"][-1]["content"]


def test_empty_question_missing_kb_and_empty_kb(settings: Settings, built_kb: str) -> None:
    assistant = Assistant(settings)
    assert _run(assistant, "   ", built_kb)[1].error == EMPTY_QUESTION
    assert "does not exist" in (_run(assistant, "问题", "nope")[1].error or "")
    from ingest.pipeline import create_kb

    create_kb(settings, "empty").close()
    assert "is empty" in (_run(assistant, "问题", "empty")[1].error or "")


def test_fifty_thousand_character_question_is_cut_with_a_notice(settings: Settings, built_kb: str) -> None:
    _, answer = _run(Assistant(settings), "conda 环境怎么查看？" * 5000, built_kb)
    assert answer.error is None and answer.packing is not None and answer.packing.question_truncated
    assert any("截断" in n for n in answer.notices)
    assert answer.packing.total_tokens <= answer.packing.window - answer.packing.reserved_for_answer


def test_window_too_small_names_the_numbers(settings: Settings, built_kb: str) -> None:
    tiny = settings.model_copy(update={"context_window": 700, "max_new_tokens": 300})
    _, answer = _run(Assistant(tiny), "如何查看 conda 环境？", built_kb)
    assert answer.error and "700" in answer.error and "300" in answer.error and "400" in answer.error


def test_cancel_stops_the_stream(settings: Settings, built_kb: str) -> None:
    assistant = Assistant(settings, _handle(CitingModel(target="conda env list")))
    cancel = threading.Event()
    events = assistant.stream("如何查看 conda 环境？", [], built_kb, cancel)
    first = next(events)
    cancel.set()
    rest = list(events)
    answer = rest[-1]
    assert isinstance(answer, Answer) and answer.text == first and "已停止" in answer.notices[-1]


def test_stop_takes_effect_while_the_server_stalls_mid_stream(settings: Settings, built_kb: str) -> None:
    """The server sends its first piece, then goes quiet for 20 s; stop must not wait for it."""
    with FakeOpenAIServer(mode="stall", delay_s=20) as server:
        configured = settings.model_copy(update={"openai_base_url": server.base_url, "openai_timeout_s": 60})
        cancel = threading.Event()
        events = Assistant(configured).stream("如何查看 conda 环境？", [], built_kb, cancel)
        streamed = [next(events)]
        threading.Timer(0.5, cancel.set).start()  # the user clicks stop while the server is silent
        started = time.monotonic()
        rest = list(events)
        waited = time.monotonic() - started
    answer = rest[-1]
    assert isinstance(answer, Answer) and answer.text == "".join(streamed)
    assert "已停止" in answer.notices[-1] and answer.error is None
    assert waited < 10, f"stop waited {waited:.1f} s for a server that stalls 20 s"


def test_a_stream_the_server_closes_early_is_marked_cut_off(settings: Settings, built_kb: str) -> None:
    with FakeOpenAIServer(mode="cut", pieces=["第一段", "第二段", "第三段", "第四段"]) as server:
        configured = settings.model_copy(update={"openai_base_url": server.base_url})
        _, answer = _run(Assistant(configured), "如何查看 conda 环境？", built_kb)
    assert answer.text == "第一段第二段" and answer.error is None
    assert answer.cut_off is not None and "closed the stream" in answer.cut_off


def test_a_whole_stream_is_not_marked(settings: Settings, built_kb: str) -> None:
    with FakeOpenAIServer() as server:
        configured = settings.model_copy(update={"openai_base_url": server.base_url})
        _, answer = _run(Assistant(configured), "如何查看 conda 环境？", built_kb)
    assert answer.text and answer.cut_off is None and answer.error is None
    _, extractive = _run(Assistant(settings), "如何查看 conda 环境？", built_kb)
    assert extractive.text and extractive.cut_off is None


def test_keep_alives_forever_end_at_the_answer_deadline_with_the_partial_answer(
    settings: Settings, built_kb: str
) -> None:
    with FakeOpenAIServer(mode="keepalive", delay_s=30, pieces=["第一段", "第二段", "第三段", "第四段"]) as server:
        configured = settings.model_copy(
            update={"openai_base_url": server.base_url, "openai_timeout_s": 5, "answer_timeout_s": 2}
        )
        started = time.monotonic()
        _, answer = _run(Assistant(configured), "如何查看 conda 环境？", built_kb)
        took = time.monotonic() - started
    assert answer.text == "第一段第二段" and answer.cut_off is not None and "2 s" in answer.cut_off
    assert took < 10, f"the answer took {took:.1f} s with a 2 s deadline"


def test_chatglm2_from_local_weights_answers_through_the_chain(settings: Settings, built_kb: str, tmp_path) -> None:
    """The whole path with a tiny random checkpoint in ChatGLM2's format: factory, exact packing, streaming."""
    from chatglm2_checkpoint import make_tiny_chatglm2

    from rag.llm.chatglm2 import chatglm2_prompt_ids
    from rag.prompts import build_messages

    model_dir = make_tiny_chatglm2(tmp_path / "chatglm2", seq_length=2048)
    configured = settings.model_copy(
        update={"chatglm2_path": model_dir, "max_new_tokens": 24, "chatglm2_device": "cpu"}
    )
    assistant = Assistant(configured)
    assert assistant.llm.generative and assistant.llm_warning is None and "ChatGLM2" in assistant.llm.label
    streamed, answer = _run(assistant, "如何查看 conda 环境？", built_kb)
    assert answer.error is None and streamed == answer.text and answer.timings.first_token is not None
    packing = answer.packing
    assert packing is not None and packing.window == 2048 and packing.exact
    fed = chatglm2_prompt_ids(assistant.llm.model.tokenizer, build_messages(answer.sources, [], answer.question))
    assert len(fed) == packing.total_tokens <= 2048 - 24


@BOTH_BACKENDS
def test_a_knowledge_base_rebuilt_elsewhere_is_opened_again(settings: Settings, built_kb: str, tmp_path: Path) -> None:
    assistant = Assistant(settings)
    opened = assistant.retriever(built_kb)
    assert assistant.retriever(built_kb) is opened  # kept while nothing changed
    rebuild(settings, built_kb)  # as the CLI would (Milvus Lite serves one process): new files swapped in
    note = tmp_path / "长颈鹿.md"
    note.write_text("# 笔记\n\n紫色长颈鹿住在命令行里。", encoding="utf-8")
    add_files(settings, built_kb, [IncomingFile("长颈鹿.md", note)])
    assert assistant.retriever(built_kb) is not opened
    assert assistant.ask("紫色长颈鹿住在哪里？", [], built_kb).sources[0].chunk.doc_name == "长颈鹿.md"
