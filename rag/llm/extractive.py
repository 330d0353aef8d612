"""The no-model backend: answers by quoting the sources' best sentences, each with its [n].

It reads its sources from the prompt like any model (rag.prompts.parse_user_turn), so the rest of
the chain does not know the difference. It only ever copies sentences out of the sources, so an
instruction written inside a source can be quoted, when it is relevant, but never obeyed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from rag.config import Settings
from rag.llm.base import LLMHandle
from rag.llm.local_model import LocalChatModel, closing_chunk
from rag.prompts import message_text, parse_user_turn
from rag.tokens import CharEstimate

NOT_FOUND_ZH = "资料中没有找到相关内容。"
NOT_FOUND_EN = "The sources do not contain the answer."
MAX_SENTENCES = 3
MAX_SENTENCE_CHARS = 400
# A sentence must score at least this share of the best one to be quoted beside it.
RELATIVE_THRESHOLD = 0.5
# A source's first line this short, without a sentence end, is its section heading: never quoted.
HEADING_CHARS = 20

# Sentence ends: Chinese and ASCII terminators, line breaks, and an English period before a space.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?])|\n+|(?<=\.)\s+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 也 就 都 而 被 把 对 从 以 为 于 之 其 这 那 这个 那个 这些 那些 有 有没有 没有 "
    "吗 呢 吧 啊 呀 么 什么 怎么 怎样 怎么样 如何 哪 哪些 哪个 哪里 为什么 多少 几 谁 请 请问 问 一个 "
    "我 你 他 她 它 我们 你们 他们 可以 能 能否 会 要 需要 应该 是否 "
    "a an the is are was were be been being am do does did what which who whom whose how why when "
    "where of to in on at for from by with about as and or not no it its this that these those there "
    "can could should would will shall may might must i you he she we they me my your our their "
    "please tell".split()
)


def _words(text: str) -> list[str]:
    """Lower-cased jieba tokens (search mode, so 计算机 also yields 计算), without stopwords."""
    import jieba

    return [
        w
        for w in (t.strip().lower() for t in jieba.cut_for_search(text))
        if w and any(ch.isalnum() for ch in w) and w not in _STOPWORDS
    ]


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` split at 。！？；!?, line breaks and ". "; empty pieces dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _is_heading(line: str) -> bool:
    return len(line) <= HEADING_CHARS and line[-1:] not in "。！？；.!?:：" and "\n" not in line


def not_found(question: str) -> str:
    """'Nothing relevant' in the question's language (Chinese if it has any Chinese character)."""
    return NOT_FOUND_ZH if _CJK.search(question) else NOT_FOUND_EN


def extract_answer(sources: dict[int, str], question: str) -> list[str]:
    """The answer as pieces to stream: up to three quoted sentences, each ending in its [n].

    Sentences score the idf-weighted overlap of their words with the question's. The best one is
    taken, then the next best from sources not yet quoted, then from any source, as long as they
    score at least half the best. Quotes are grouped by source, in reading order within a source.
    """
    wanted = set(_words(question))
    sentences = [
        (number, position, sentence)
        for number in sorted(sources)
        for position, sentence in enumerate(split_sentences(sources[number]))
        if not (position == 0 and _is_heading(sentence))
    ]
    bags = [set(_words(sentence)) for _, _, sentence in sentences]
    frequency = {w: sum(w in bag for bag in bags) for w in wanted}
    idf = {w: math.log(1 + len(bags) / n) for w, n in frequency.items() if n}
    scores = [sum(idf.get(w, 0.0) for w in bag & wanted) for bag in bags]
    ranked = sorted((i for i, score in enumerate(scores) if score > 0), key=lambda i: (-scores[i], i))
    if not ranked:
        return [not_found(question)]
    floor = scores[ranked[0]] * RELATIVE_THRESHOLD
    eligible = [i for i in ranked if scores[i] >= floor]
    chosen: list[int] = []
    seen_text: set[str] = set()
    for distinct_sources_only in (True, False):
        for i in eligible:
            number, _, sentence = sentences[i]
            used = {sentences[j][0] for j in chosen}
            key = re.sub(r"\s+", "", sentence)
            repeats_source = distinct_sources_only and number in used
            if len(chosen) < MAX_SENTENCES and key not in seen_text and not repeats_source:
                chosen.append(i)
                seen_text.add(key)
    source_order = list(dict.fromkeys(sentences[i][0] for i in chosen))
    chosen.sort(key=lambda i: (source_order.index(sentences[i][0]), sentences[i][1]))
    pieces = []
    for k, i in enumerate(chosen):
        number, _, sentence = sentences[i]
        if len(sentence) > MAX_SENTENCE_CHARS:
            sentence = sentence[: MAX_SENTENCE_CHARS - 1] + "…"
        gap = "" if _CJK.search(sentence[-1:]) or sentence[-1:] in "。！？；" else " "
        pieces.append(("\n\n" if k else "") + f"{sentence}{gap}[{number}]")
    return pieces


class ExtractiveChat(LocalChatModel):
    """A chat model that quotes the best sentences of the numbered sources in the last user turn.

    Its tokens are characters (as its context budget counts them): ``max_tokens`` cuts the quote
    at that many characters and usage_metadata counts characters. ``stop`` ends the quote at the
    first stop string. Nothing is sampled, so it has no temperature.
    """

    model_name: str = "extractive"

    @property
    def _llm_type(self) -> str:
        return "extractive"

    def _pieces(self, messages: list[BaseMessage]) -> list[str]:
        last = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
        sources, question = parse_user_turn(message_text(last)) if last is not None else ({}, "")
        return extract_answer(sources, question)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        limit = self.options(kwargs).get("max_tokens", self.max_tokens)
        pieces, finish = limited(self._pieces(messages), self.stop_strings(stop), limit)
        for piece in pieces:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        read = sum(len(message_text(m)) for m in messages)
        written = sum(map(len, pieces))
        usage = {"input_tokens": read, "output_tokens": written, "total_tokens": read + written}
        yield ChatGenerationChunk(message=closing_chunk(self, finish, usage), generation_info={"finish_reason": finish})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunks = list(self._stream(messages, stop, run_manager, **kwargs))
        merged = sum(chunks[1:], chunks[0])
        message = AIMessage(
            content=merged.message.content,
            usage_metadata=merged.message.usage_metadata,
            response_metadata=merged.message.response_metadata,
        )
        return ChatResult(generations=[ChatGeneration(message=message, generation_info=merged.generation_info)])


def limited(pieces: list[str], stop: list[str], max_chars: int | None) -> tuple[list[str], str]:
    """``pieces`` cut before the first stop string and after ``max_chars`` characters, with the
    finish reason: "stop" (whole, or ended by a stop string) or "length"."""
    text = "".join(pieces)
    end, finish = len(text), "stop"
    hits = [text.find(s) for s in stop if s in text]
    if hits:
        end = min(hits)
    if max_chars is not None and max_chars < end:
        end, finish = max_chars, "length"
    kept: list[str] = []
    for piece in pieces:
        room = end - sum(map(len, kept))
        if room <= 0:
            break
        kept.append(piece[:room])
    return kept, finish


def extractive_handle(settings: Settings) -> LLMHandle:
    """The extractive backend: no model, counts one token per character."""
    counter = CharEstimate()

    def count_prompt(messages: list[BaseMessage]) -> int:
        return sum(counter.count(message_text(m)) for m in messages)

    return LLMHandle(
        label="extractive (no language model)",
        model=ExtractiveChat(),
        context_window=settings.context_window or 8192,
        count_prompt=count_prompt,
        tokenizer_name=counter.name,
        exact=False,
        generative=False,
    )
