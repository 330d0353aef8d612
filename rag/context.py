"""The token budget: instruction + numbered sources + trimmed history + question, within the window.

Every count comes from the backend's own ``count_prompt`` over the exact messages that will be
sent, so the final check is exact for models whose tokenizer we have. Sources are placed best
first and get priority over history; history is kept newest first and gets at most
``HISTORY_SHARE`` of the budget while sources are waiting; the answer's room is reserved up front.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from langchain_core.messages import BaseMessage, HumanMessage

from rag.config import Settings
from rag.llm.base import LLMHandle
from rag.prompts import build_messages, render_source, system_text
from rag.types import Citation, PackingReport, RetrievedChunk

HISTORY_SHARE = 0.25
MIN_SOURCE_TOKENS = 32  # a source cut shorter than this is not worth showing
TRUNCATION_MARK = "…"
# Allowance per piece for tokens that joining pieces adds (separators, round headers); the exact
# count of the whole prompt is checked at the end either way.
SOURCE_MARGIN = 2
TURN_MARGIN = 8


class ContextTooSmall(ValueError):
    """The window cannot hold the instruction, the question and one source; says the numbers."""


@dataclass
class PackedPrompt:
    messages: list[BaseMessage]
    sources: list[Citation]
    question: str  # as sent, possibly truncated
    report: PackingReport


class _Counter:
    """Token counts of plain texts and whole prompts through the backend's count_prompt."""

    def __init__(self, llm: LLMHandle) -> None:
        self.llm = llm
        self._empty = llm.count_prompt([HumanMessage("")])

    def prompt(self, messages: list[BaseMessage]) -> int:
        return self.llm.count_prompt(messages)

    def text(self, text: str) -> int:
        return max(0, self.llm.count_prompt([HumanMessage(text)]) - self._empty)


def _cut_to_tokens(text: str, limit: int, counter: _Counter) -> str:
    """The longest prefix of ``text`` (plus a mark) that counts at most ``limit`` tokens."""
    if counter.text(text) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:  # binary search on characters; token counts grow with prefix length
        middle = (low + high + 1) // 2
        if counter.text(text[:middle] + TRUNCATION_MARK) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low] + TRUNCATION_MARK if low else ""


def pack(
    question: str,
    history: Sequence[tuple[str, str]],
    candidates: Sequence[RetrievedChunk],
    llm: LLMHandle,
    settings: Settings,
    instructions: str = "",
) -> PackedPrompt:
    """Fit the prompt into ``llm.context_window - settings.max_new_tokens`` tokens (``instructions``:
    a caller's own, added to the system message)."""
    counter = _Counter(llm)
    window, reserve = llm.context_window, settings.max_new_tokens
    budget = window - reserve
    report = PackingReport(window, reserve, exact=llm.exact, tokenizer=llm.tokenizer_name)

    question = question.strip()
    if len(question) > settings.max_question_chars:
        question = question[: settings.max_question_chars] + TRUNCATION_MARK
        report.question_truncated = True
    question_room = max(budget // 4, 16)
    if counter.text(question) > question_room:
        question = _cut_to_tokens(question, question_room, counter)
        report.question_truncated = True
    if report.question_truncated:
        report.notes.append(f"问题过长，已截断 / question cut to {counter.text(question)} tokens")

    base = counter.prompt(build_messages([], [], question, instructions))
    if base + MIN_SOURCE_TOKENS > budget and candidates:
        raise ContextTooSmall(
            f"context window of {window} tokens minus {reserve} reserved for the answer leaves {budget}; "
            f"the instruction and question alone take {base}, so no source fits "
            f"(a source needs at least {MIN_SOURCE_TOKENS}). Use a larger window or a smaller max_new_tokens."
        )

    turns = list(history)[-settings.history_turns :] if settings.history_turns else []
    turn_tokens = [counter.text(q) + counter.text(a) for q, a in turns]
    history_cost = [tokens + TURN_MARGIN for tokens in turn_tokens]
    history_claim = min(sum(history_cost), int(budget * HISTORY_SHARE))

    sources: list[Citation] = []
    source_tokens: list[int] = []  # rendered block of each kept source
    used = base
    for candidate in candidates:
        number = len(sources) + 1
        tokens = counter.text(render_source(number, candidate.chunk.location, candidate.chunk.text))
        room = budget - history_claim - used
        if tokens + SOURCE_MARGIN <= room:
            sources.append(Citation(number, candidate.chunk, candidate.score))
            source_tokens.append(tokens)
            used += tokens + SOURCE_MARGIN
        elif not sources and room >= MIN_SOURCE_TOKENS:
            overhead = tokens + SOURCE_MARGIN - counter.text(candidate.chunk.text)
            cut = _cut_to_tokens(candidate.chunk.text, room - overhead, counter)
            if cut:
                sources.append(Citation(number, replace(candidate.chunk, text=cut), candidate.score))
                source_tokens.append(counter.text(render_source(number, candidate.chunk.location, cut)))
                used += source_tokens[-1] + SOURCE_MARGIN
                report.notes.append(f"资料 [1] 过长，已截断 / source [1] cut to fit the {window}-token window")
    report.sources_dropped = len(candidates) - len(sources)

    kept: list[tuple[str, str]] = []
    kept_tokens: list[int] = []
    for turn, tokens in zip(reversed(turns), reversed(turn_tokens), strict=True):
        if used + tokens + TURN_MARGIN > budget:
            break
        kept.insert(0, turn)
        kept_tokens.insert(0, tokens)
        used += tokens + TURN_MARGIN

    messages = build_messages(sources, kept, question, instructions)
    total = counter.prompt(messages)
    while total > budget and (kept or len(sources) > 1):
        # Part counts are summed per piece; the exact count of the whole decides, trimming if needed.
        if kept:
            kept.pop(0)
            kept_tokens.pop(0)
        else:
            sources.pop()
            source_tokens.pop()
            report.sources_dropped += 1
        messages = build_messages(sources, kept, question, instructions)
        total = counter.prompt(messages)
    if total > budget:
        raise ContextTooSmall(
            f"context window of {window} tokens minus {reserve} reserved leaves {budget}; the smallest "
            f"prompt with one source takes {total}. Use a larger window or a smaller max_new_tokens."
        )

    report.history_turns_used = len(kept)
    report.history_turns_dropped = len(list(history)) - len(kept)
    report.sources_used = len(sources)
    report.instruction_tokens = counter.text(system_text(instructions))
    report.question_tokens = counter.text(question)
    report.source_tokens = sum(source_tokens)
    report.history_tokens = sum(kept_tokens)
    report.total_tokens = total
    if report.sources_dropped:
        report.notes.append(f"{report.sources_dropped} 条资料放不下 / sources left out for lack of room")
    if report.history_turns_dropped:
        report.notes.append(f"省略了 {report.history_turns_dropped} 轮较早的对话 / older turns left out")
    return PackedPrompt(messages, sources, question, report)
