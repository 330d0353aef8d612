"""An LLMHandle that counts prompt tokens exactly as ChatGLM2-6B sees them, without loading the model.

The count is the length of ChatGLM2's chat ids ([gMASK] sop + "[Round N]\\n\\n问：...\\n\\n答：" over the
SentencePiece model), built from the same messages ``pack`` produces. When the repository's own
ChatGLM2 code (rag.llm.chatglm2) is importable it is used; otherwise the same format is rebuilt
here from the tokenizer file, so the benchmark does not depend on the model package.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from rag.llm.base import LLMHandle
from rag.prompts import message_text

_PREFIX_IDS = 2  # [gMASK] and sop


class _FallbackCounter:
    """ChatGLM2's prompt format over its SentencePiece model (mirrors rag.llm.chatglm2)."""

    name = "sentencepiece + ChatGLM2 prompt format (bench fallback)"

    def __init__(self, path: Path) -> None:
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(path))

    def count(self, messages: Sequence[BaseMessage]) -> int:
        system = [message_text(m) for m in messages if isinstance(m, SystemMessage)]
        turns = [m for m in messages if not isinstance(m, SystemMessage)]
        history = [
            (message_text(a), message_text(b))
            for a, b in zip(turns[:-1:2], turns[1:-1:2], strict=True)
            if isinstance(a, HumanMessage) and isinstance(b, AIMessage)
        ]
        query = "\n\n".join([*system, message_text(turns[-1])])
        rounds = "".join(f"[Round {i}]\n\n问：{q}\n\n答：{a}\n\n" for i, (q, a) in enumerate(history, 1))
        prompt = rounds + f"[Round {len(history) + 1}]\n\n问：{query}\n\n答："
        return _PREFIX_IDS + len(self.sp.encode(prompt))


def chatglm2_counting_handle(tokenizer_path: Path, window: int) -> LLMHandle:
    """A handle for ``pack``: ChatGLM2's exact prompt token counts, a ``window``-token context."""
    from rag.llm.extractive import ExtractiveChat

    try:
        from rag.llm.chatglm2 import ChatGLM2Tokenizer, chatglm2_prompt_ids

        tokenizer = ChatGLM2Tokenizer(tokenizer_path)

        def count(messages: list[BaseMessage]) -> int:
            return len(chatglm2_prompt_ids(tokenizer, messages))

        name = f"ChatGLM2Tokenizer ({tokenizer_path.name}, rag.llm.chatglm2)"
    except ImportError:
        fallback = _FallbackCounter(tokenizer_path)
        count = fallback.count
        name = fallback.name
    return LLMHandle(
        label="token counter only",
        model=ExtractiveChat(),
        context_window=window,
        count_prompt=count,
        tokenizer_name=name,
        exact=True,
        generative=False,
    )
