"""Question + history -> streamed answer with numbered citations.

    assistant = Assistant(settings)                       # loads the LLM and embedder once
    for event in assistant.stream(question, history, kb):  # str pieces, then one Answer
        ...

Failures never raise into the UI: the final Answer carries ``error`` (and whatever part of the
answer had streamed, and the retrieved sources).
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from ingest.embeddings import get_embedder
from ingest.errors import KnowledgeBaseError
from ingest.pipeline import open_kb
from ingest.stores import store_identity
from rag.answerable import judge, not_found_stream
from rag.config import Settings
from rag.context import ContextTooSmall, pack
from rag.llm.base import LLMHandle
from rag.options import AnswerOptions, sampling_kwargs
from rag.prompts import CITATION, message_text
from rag.retrieve import Retriever
from rag.rewrite import standalone_query
from rag.types import Answer, Citation, Timings
from rag.verify import check_citations

if TYPE_CHECKING:
    from rag.langchain import AnswerRunnable, KnowledgeBaseRetriever

EXTRACTIVE_NOTICE = (
    "未连接语言模型：以下是资料原文摘录，不是生成的回答。连接 ChatGLM2-6B：设置 KBA_CHATGLM2_PATH=模型目录；"
    "连接 OpenAI 兼容服务（vLLM、FastChat、Ollama）：设置 KBA_OPENAI_BASE_URL=http://主机:端口/v1。\n"
    "No language model connected: these are quotes from the sources, not a written answer. Set "
    "KBA_CHATGLM2_PATH to a ChatGLM2-6B folder, or KBA_OPENAI_BASE_URL to an OpenAI-compatible server."
)
EMPTY_QUESTION = "请输入问题。/ Please type a question."
STOPPED = "已停止生成。/ Stopped."
EMPTY_REPLY = "模型返回了空回答。/ The model returned an empty answer (check the server's logs and model name)."
CUT_BY_SERVER = (
    "回答不完整：模型服务在写完之前断开了连接。/ The answer is cut off: the model server closed the stream "
    "before it finished (no finish_reason)."
)
CUT_BY_LENGTH = (
    "回答不完整：达到了 max_new_tokens 上限。/ The answer is cut off: it reached the max_new_tokens limit "
    "({limit} tokens); raise KBA_MAX_NEW_TOKENS for longer answers."
)
CUT_BY_DEADLINE = (
    "回答不完整：超过了 {seconds:g} 秒的时限，已停止；保留已写出的部分。/ The answer is cut off: it took longer "
    "than {seconds:g} s (KBA_ANSWER_TIMEOUT_S); the part written so far is kept."
)

AnswerEvent = str | Answer
T = TypeVar("T")
CANCEL_POLL_S = 0.05
_END = object()


class BoundedStream(Generic[T]):
    """``items``, read on a helper thread, ending early when ``cancel`` is set or the ``deadline``
    (a time.monotonic() value) passes: within CANCEL_POLL_S, even while the backend waits for its
    next chunk (a stalled server, one that sends keep-alives forever, a long prompt being read).
    ``timed_out`` says whether the deadline ended it. Errors of the backend are re-raised here.
    The helper thread stops pulling at its next chunk.
    """

    def __init__(self, items: Iterator[T], cancel: threading.Event | None, deadline: float) -> None:
        self._items, self._cancel, self._deadline = items, cancel or threading.Event(), deadline
        self._quit = threading.Event()
        self.timed_out = False

    def __iter__(self) -> Iterator[T]:
        box: queue.Queue[object] = queue.Queue()

        def pump() -> None:
            try:
                for item in self._items:
                    box.put(item)
                    if self._quit.is_set():
                        break
            except BaseException as error:  # handed to the consumer, which raises it in its own thread
                box.put(error)
            finally:
                box.put(_END)

        threading.Thread(target=pump, name="kba-llm-stream", daemon=True).start()
        try:
            while not self._cancel.is_set():
                if time.monotonic() >= self._deadline:
                    self.timed_out = True
                    return
                try:
                    item = box.get(timeout=CANCEL_POLL_S)
                except queue.Empty:
                    continue
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]  # everything else in the box came from ``items``
        finally:
            self._quit.set()


def cited_numbers(text: str) -> list[int]:
    """Source numbers cited in ``text`` ([1], [2][3], [1, 2], 【4】), in order of first citation."""
    numbers: list[int] = []
    for match in CITATION.finditer(text):
        numbers += [int(n) for n in re.split(r"\s*[,，、]\s*", match.group(1))]
    return list(dict.fromkeys(numbers))


def _describe_error(error: Exception) -> str:
    from rag.llm.openai_compat import describe_llm_error

    return describe_llm_error(error)


class Assistant:
    """Answers questions over the knowledge bases of one settings object. Thread-safe; build once."""

    def __init__(self, settings: Settings, llm: LLMHandle | None = None, llm_warning: str | None = None) -> None:
        self.settings = settings
        if llm is None:
            from rag.llm.factory import get_llm_or_extractive

            llm, llm_warning = get_llm_or_extractive(settings)
        self.llm = llm
        self.llm_warning = llm_warning
        self._retrievers: dict[str, tuple[str, Retriever]] = {}  # name -> (store identity, retriever)
        self._lock = threading.Lock()

    def retriever(self, kb_name: str) -> Retriever:
        """The retriever of ``kb_name``, opened on first use and kept; opened again when another
        process (the app, the CLI, the API) rebuilt or recreated the knowledge base since, which
        swaps in new files an index opened before would never see."""
        identity = store_identity(self.settings, kb_name)
        with self._lock:
            held = self._retrievers.get(kb_name)
            if held is not None and held[0] == identity:
                return held[1]
            if held is not None:
                held[1].kb.close()
            embedder = get_embedder(self.settings.embedder) if self.settings.retrieval_mode != "keyword" else None
            retriever = Retriever(open_kb(self.settings, kb_name), embedder, self.settings)
            self._retrievers[kb_name] = (identity, retriever)
            return retriever

    def as_retriever(self, kb_name: str, k: int | None = None) -> KnowledgeBaseRetriever:
        """``kb_name``'s search as a LangChain retriever of Documents (rag.langchain)."""
        from rag.langchain import KnowledgeBaseRetriever

        return KnowledgeBaseRetriever(retriever=self.retriever(kb_name), k=k)

    def as_runnable(self, kb_name: str) -> AnswerRunnable:
        """Answers over ``kb_name`` as a LangChain Runnable: question -> Answer (rag.langchain)."""
        from rag.langchain import AnswerRunnable

        return AnswerRunnable(self, kb_name)

    def forget(self, kb_name: str) -> None:
        """Close a knowledge base (after it was deleted or rebuilt)."""
        with self._lock:
            held = self._retrievers.pop(kb_name, None)
        if held is not None:
            held[1].kb.close()

    def ask(self, question: str, history: Sequence[tuple[str, str]], kb_name: str) -> Answer:
        """The whole answer at once."""
        *_, answer = self.stream(question, history, kb_name)
        assert isinstance(answer, Answer)
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[tuple[str, str]],
        kb_name: str,
        cancel: threading.Event | None = None,
        options: AnswerOptions | None = None,
    ) -> Iterator[AnswerEvent]:
        """Yield the answer's text as it is written, then the complete Answer (``options``: one
        caller's sampling, answer length and extra instructions, rag.options)."""
        started = time.perf_counter()
        options = options or AnswerOptions()
        timings = Timings()
        answer = Answer(question, "", [], [], None, timings, self.llm.label)
        if self.llm_warning:
            answer.notices.append(self.llm_warning)
        if not self.llm.generative:
            answer.notices.append(EXTRACTIVE_NOTICE)
        if not question.strip():
            answer.error = EMPTY_QUESTION
            yield answer
            return
        try:
            retriever = self.retriever(kb_name)
            if retriever.kb.is_empty():
                raise KnowledgeBaseError(f"knowledge base '{kb_name}' is empty: add documents first")
            answer.standalone_query = standalone_query(question[: self.settings.max_question_chars], history, self.llm)
            results = retriever.search(answer.standalone_query)
            timings.retrieve = time.perf_counter() - started
            settings = options.settings_for(self.settings)
            packed = pack(question, history, results, self.llm, settings, options.instructions)
        except (KnowledgeBaseError, ContextTooSmall) as error:
            answer.error = str(error)
            timings.total = time.perf_counter() - started
            yield answer
            return
        answer.sources, answer.packing = packed.sources, packed.report
        answer.notices += packed.report.notes
        answer.answerability = judge(answer.standalone_query, results, settings)
        answer.notices += [answer.answerability.reason] if answer.answerability.reason else []
        pieces: list[str] = []
        finish: str | None = None
        if answer.answerability.answerable or self.llm.generative:  # a model reads the weak sources itself
            chunks = self.llm.model.stream(packed.messages, **sampling_kwargs(self.llm, options))
        else:
            chunks = not_found_stream(question)
        stream = BoundedStream(chunks, cancel, time.monotonic() + self.settings.answer_timeout_s)
        try:
            for chunk in stream:
                finish = (chunk.response_metadata or {}).get("finish_reason") or finish
                if getattr(chunk, "usage_metadata", None):
                    answer.output_tokens = chunk.usage_metadata.get("output_tokens", answer.output_tokens)
                piece = message_text(chunk)
                if piece:
                    if timings.first_token is None:
                        timings.first_token = time.perf_counter() - started
                    pieces.append(piece)
                    yield piece
        except Exception as error:  # a backend failing mid-stream: keep what was written, say why
            answer.error = _describe_error(error)
        stopped = cancel is not None and cancel.is_set()
        if stopped:
            answer.notices.append(STOPPED)
        answer.text = "".join(pieces)
        if stream.timed_out:
            answer.cut_off = CUT_BY_DEADLINE.format(seconds=self.settings.answer_timeout_s)
        elif answer.error is None and not stopped and answer.text and finish is None:
            answer.cut_off = CUT_BY_SERVER
        elif finish == "length":
            answer.cut_off = CUT_BY_LENGTH.format(limit=self.settings.max_new_tokens)
        if not answer.text and answer.error is None and not stopped and not stream.timed_out:
            answer.error = EMPTY_REPLY
        by_number = {c.number: c for c in answer.sources}
        numbers = cited_numbers(answer.text)
        answer.cited = [by_number[n] for n in numbers if n in by_number]
        unknown = [n for n in numbers if n not in by_number]
        if unknown:
            answer.notices.append(f"回答引用了不存在的资料编号 / the answer cites unknown sources: {unknown}")
        self._verify(answer, retriever)
        timings.total = time.perf_counter() - started
        yield answer

    def _verify(self, answer: Answer, retriever: Retriever) -> None:
        """Check every cited sentence against its sources (rag.verify); a checker failure is a notice."""
        if not answer.text.strip() or not answer.sources:
            return
        started = time.perf_counter()
        try:
            sources = {c.number: c.chunk.text for c in answer.sources}
            answer.verdicts = check_citations(answer.text, sources, retriever.embedder)
        except Exception as error:  # the answer stands without its check; say why
            answer.notices.append(f"引用核对失败 / citation check failed: {type(error).__name__}: {error}")
        answer.timings.verify = time.perf_counter() - started


def citations_text(citations: Sequence[Citation]) -> str:
    """Plain-text source list for the CLI and Markdown export."""
    return "\n".join(f"[{c.number}] {c.chunk.location} (score {c.score:.2f})" for c in citations)
