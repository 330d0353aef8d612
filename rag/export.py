"""A conversation as plain text: the status line under an answer, and the Markdown export."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rag.chain import EXTRACTIVE_NOTICE, STOPPED
from rag.markup import markdown_answer, markdown_inert
from rag.types import Answer, Citation, Verdict


@dataclass(frozen=True)
class Turn:
    """One question and its answer, with the knowledge base it was asked of."""

    kb: str
    answer: Answer


def history_pairs(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    """(question, answer) pairs for the chain's history; turns without answer text are left out."""
    return [(t.answer.question, t.answer.text) for t in turns if t.answer.text.strip()]


def source_record(citation: Citation, cited: bool) -> dict[str, Any]:
    """One source as plain data (for --json and the HTTP API): where it is, how relevant, its text."""
    chunk = citation.chunk
    code = chunk.kind in {"code", "config"}
    return {
        "number": citation.number,
        "path": chunk.doc_name,
        "location": chunk.location,
        "lines": list(chunk.lines) if chunk.lines else None,
        "page": chunk.page,
        "symbol": chunk.heading if code else None,
        "section": None if code else chunk.heading,
        "kind": chunk.kind,
        "ocr": chunk.ocr,
        "score": round(citation.score, 4),
        "cited": cited,
        "text": chunk.text,
    }


def verdict_record(verdict: Verdict) -> dict[str, Any]:
    """One sentence's citation check as plain data."""
    return {
        "sentence": verdict.sentence,
        "cited": verdict.cited,
        "supported": verdict.supported,
        "score": round(verdict.score, 3),
        "evidence": list(verdict.evidence) if verdict.evidence else None,
        "missing": verdict.missing,
        "source": verdict.source,
    }


def support_summary(answer: Answer) -> tuple[int, int] | None:
    """(supported, claims) over the sentences that make a claim; None when nothing was checked."""
    claims = [v for v in answer.verdicts if v.supported is not None]
    return (sum(1 for v in claims if v.supported), len(claims)) if claims else None


def answer_record(answer: Answer) -> dict[str, Any]:
    """The whole answer as plain data: text, sources, state, timings and the context budget."""
    cited = {c.number for c in answer.cited}
    return {
        "question": answer.question,
        "answer": answer.text,
        "backend": answer.backend,
        "standalone_query": answer.standalone_query,
        "sources": [source_record(c, c.number in cited) for c in answer.sources],
        "cited": [c.number for c in answer.cited],
        "notices": answer.notices,
        "error": answer.error,
        "cut_off": answer.cut_off,
        "verdicts": [verdict_record(v) for v in answer.verdicts],
        "timings": dataclasses.asdict(answer.timings),
        "packing": dataclasses.asdict(answer.packing) if answer.packing else None,
    }


def was_stopped(answer: Answer) -> bool:
    """Whether the person stopped the answer before it was complete."""
    return STOPPED in answer.notices


def answer_notices(answer: Answer) -> list[str]:
    """Notices to show beside one answer: not the extractive banner, the stop mark or packing cuts.

    Those three are shown elsewhere (a page banner, a badge, the status line).
    """
    shown_elsewhere = {EXTRACTIVE_NOTICE, STOPPED, *(answer.packing.notes if answer.packing else [])}
    return [n for n in answer.notices if n not in shown_elsewhere]


def support_line(answer: Answer) -> str:
    """One line on the citation check, e.g. "出处核对 3 / 4 句有出处支持 / sentences supported"; "" when none ran."""
    summary = support_summary(answer)
    if summary is None:
        return ""
    supported, claims = summary
    return f"出处核对 / Citations checked: {supported} / {claims} 句有出处支持 / sentences supported"


def status_line(answer: Answer) -> str:
    """Model, times and how the context window was spent, e.g. for a caption under the answer."""
    t = answer.timings
    parts = [f"模型 model: {answer.backend}", f"检索 retrieval {t.retrieve:.2f} s"]
    if t.first_token is not None:
        parts.append(f"首字 first token {t.first_token:.2f} s")
    parts.append(f"总计 total {t.total:.2f} s")
    p = answer.packing
    if p is not None:
        estimate = "" if p.exact else " (估算 estimated)"
        parts.append(
            f"上下文 context {p.total_tokens}/{p.window} tokens{estimate}: "
            f"资料 sources {p.source_tokens} ({p.sources_used}), "
            f"历史 history {p.history_tokens} ({p.history_turns_used} turns), "
            f"问题 question {p.question_tokens}, 回答预留 answer {p.reserved_for_answer}"
        )
        if p.notes:
            parts.append("已截断 cut: " + "; ".join(p.notes))
    return " · ".join(parts)


def turn_markdown(number: int, turn: Turn) -> str:
    """One exported question with its answer, state and sources."""
    answer = turn.answer
    lines = [f"## {number}. {markdown_inert(answer.question)}", "", f"*知识库 / Knowledge base: {turn.kb}*", ""]
    lines += [markdown_answer(answer.text.strip()) or "*（没有回答 / no answer）*", ""]
    if was_stopped(answer):
        lines += ["> 已停止 / Stopped before the answer was complete.", ""]
    if answer.cut_off:
        lines += [f"> 不完整 / Cut off: {markdown_inert(answer.cut_off)}", ""]
    if support_line(answer):
        lines += [f"> {support_line(answer)}", ""]
        lines += [
            f"> - 未找到出处 / not supported: {markdown_inert(v.sentence)} ({markdown_inert('; '.join(v.missing))})"
            for v in answer.verdicts
            if v.supported is False
        ]
    if answer.error:
        lines += [f"> 错误 / Error: {markdown_inert(answer.error)}", ""]
    lines += [f"> {markdown_inert(n)}" for n in answer_notices(answer)]
    if answer_notices(answer):
        lines.append("")
    cited = {c.number for c in answer.cited}
    others = [c for c in answer.sources if c.number not in cited]
    if answer.cited:
        lines += ["**引用的资料 / Cited sources**", "", *_bullets(answer.cited), ""]
    if others:
        lines += ["**其他检索到的资料 / Other retrieved sources**", "", *_bullets(others), ""]
    lines += [f"<sub>{markdown_inert(status_line(answer))}</sub>", ""]
    return "\n".join(lines)


def _bullets(citations: Sequence[Citation]) -> list[str]:
    return [f"- [{c.number}] {markdown_inert(c.chunk.location)} (score {c.score:.2f})" for c in citations]


def conversation_markdown(turns: Sequence[Turn], exported_at: datetime | None = None) -> str:
    """The whole conversation as a Markdown document, ready to download."""
    when = (exported_at or datetime.now()).strftime("%Y-%m-%d %H:%M")
    parts = ["# 知识库问答记录 / Conversation", "", f"导出时间 / Exported: {when}", ""]
    if not turns:
        parts += ["*（还没有提问 / no questions yet）*", ""]
    parts += [turn_markdown(number, turn) for number, turn in enumerate(turns, start=1)]
    return "\n".join(parts).rstrip() + "\n"
