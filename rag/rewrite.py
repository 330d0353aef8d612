"""Follow-up questions become standalone search queries before retrieval.

"它的参数有多少？" after "ChatGLM2-6B 需要多少显存？" is searched as a query that names
ChatGLM2-6B. With a generative model the model rewrites it; without one a heuristic does:

    A question counts as a follow-up when it is short (under FOLLOW_UP_MAX_CHARS characters) or
    contains a pronoun or a continuation word (它 其 这 那 该 他们 this that it they ...). The
    query is then the previous question followed by the new one, so keyword search finds the
    earlier subject and dense search sees both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.messages import HumanMessage, SystemMessage

from rag.llm.base import LLMHandle
from rag.prompts import message_text

FOLLOW_UP_MAX_CHARS = 12
_REFERRING = re.compile(
    r"(它|它们|其|这个|那个|这些|那些|这种|那种|该|此|他们|她们|上面|上述|前面|刚才|还有|那么|呢[？?]?$)"
    r"|\b(it|its|this|that|these|those|they|them|their|above|what about|and)\b",
    re.IGNORECASE,
)

REWRITE_INSTRUCTION = (
    "根据对话历史，把用户的最后一个问题改写成一个不依赖上下文、可以独立检索的问题。"
    "只输出改写后的问题，不要回答它。If the conversation is in English, rewrite in English."
)


def is_follow_up(question: str) -> bool:
    """Whether ``question`` probably leans on the conversation before it."""
    return len(question.strip()) < FOLLOW_UP_MAX_CHARS or bool(_REFERRING.search(question))


def heuristic_query(question: str, history: Sequence[tuple[str, str]]) -> str:
    """The documented heuristic: previous question + the question, for follow-ups."""
    if not history or not is_follow_up(question):
        return question
    return f"{history[-1][0].strip()} {question.strip()}"


def standalone_query(question: str, history: Sequence[tuple[str, str]], llm: LLMHandle | None) -> str:
    """The query to retrieve with: the model's rewrite when it can write, else the heuristic."""
    if not history or not is_follow_up(question):
        return question
    if llm is None or not llm.generative:
        return heuristic_query(question, history)
    transcript = "\n".join(f"问：{q}\n答：{a[:300]}" for q, a in history[-3:])
    messages = [SystemMessage(REWRITE_INSTRUCTION), HumanMessage(f"{transcript}\n\n最后的问题：{question}")]
    try:
        rewritten = message_text(llm.model.invoke(messages)).strip().splitlines()
    except Exception:  # any backend failure: fall back rather than lose the question
        return heuristic_query(question, history)
    candidate = rewritten[0].strip() if rewritten else ""
    return candidate if 0 < len(candidate) <= 4 * len(question) + 200 else heuristic_query(question, history)
