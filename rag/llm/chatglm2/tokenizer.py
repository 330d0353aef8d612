"""ChatGLM2's tokenizer: its SentencePiece model plus five special tokens appended after it.

The ids must match the original ``tokenization_chatglm.py`` exactly, because the context packer
counts prompt tokens with this class and the model was trained on these ids: the SentencePiece
vocabulary first, then [MASK], [gMASK], [sMASK], sop, eop (for the real model [gMASK]=64790,
sop=64792). Every prompt starts with [gMASK] sop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

SPECIAL_TOKENS = ("[MASK]", "[gMASK]", "[sMASK]", "sop", "eop")


def build_prompt(query: str, history: Sequence[tuple[str, str]] = ()) -> str:
    """ChatGLM2's chat prompt text (without the [gMASK] sop prefix)."""
    rounds = [f"[Round {i}]\n\n问：{asked}\n\n答：{answered}\n\n" for i, (asked, answered) in enumerate(history, 1)]
    return "".join(rounds) + f"[Round {len(history) + 1}]\n\n问：{query}\n\n答："


class ChatGLM2Tokenizer:
    """Encode and decode text the way ChatGLM2 does, from its ``tokenizer.model``."""

    def __init__(self, tokenizer_model_path: str | Path) -> None:
        import sentencepiece

        path = Path(tokenizer_model_path)
        if not path.is_file():
            raise FileNotFoundError(f"no SentencePiece model at {path}")
        self.path = path
        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
        self.sp_size: int = self.sp.vocab_size()
        self.special_ids: dict[str, int] = {name: self.sp_size + i for i, name in enumerate(SPECIAL_TOKENS)}
        self.vocab_size: int = self.sp_size + len(SPECIAL_TOKENS)
        self.eos_id: int = self.sp.eos_id()
        self.bos_id: int = self.sp.bos_id()
        self.pad_id: int = self.sp.unk_id()
        self.gmask_id = self.special_ids["[gMASK]"]
        self.sop_id = self.special_ids["sop"]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` with no special tokens added."""
        return list(self.sp.encode(text))

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``; special, control and padding ids are dropped, as ChatGLM2 does."""
        control = {self.eos_id, self.bos_id, self.pad_id}
        return self.sp.decode([int(i) for i in ids if 0 <= int(i) < self.sp_size and int(i) not in control])

    def count(self, text: str) -> int:
        """Number of tokens ``text`` becomes (no special tokens)."""
        return len(self.encode(text))

    def build_chat_ids(self, query: str, history: Sequence[tuple[str, str]] = ()) -> list[int]:
        """Ids of the whole chat prompt: [gMASK] sop, then past rounds, then the new question."""
        return [self.gmask_id, self.sop_id, *self.encode(build_prompt(query, history))]

    def __repr__(self) -> str:
        return f"ChatGLM2Tokenizer({str(self.path)!r}, vocab_size={self.vocab_size})"
