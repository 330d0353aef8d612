"""Token counters: how many tokens a text costs in the model's own tokenizer, or an honest estimate.

The context packer spends the model's window in tokens, so every LLM backend hands it a counter.
``counter_from_path`` turns the ``tokenizer_path`` setting into one:

    None                        -> CharEstimate (one token per character, exact=False)
    a tokenizer.model file      -> SentencePieceCounter (ChatGLM2's own tokenizer when it is ChatGLM2's)
    a ChatGLM2 model folder     -> SentencePieceCounter on its tokenizer.model
    a Hugging Face tokenizer    -> HFTokenizerCounter (tokenizer.json / tokenizer_config.json, local only)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

# ChatGLM2's SentencePiece model has 64789 pieces; its special tokens ([gMASK], sop, ...) sit above.
_CHATGLM2_PIECES = 64789


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens of a text. ``exact`` is False when the count is an estimate."""

    name: str
    exact: bool

    def count(self, text: str) -> int:
        """Number of tokens ``text`` costs."""
        ...


class CharEstimate:
    """One token per character: an estimate, used when no tokenizer is configured.

    For Chinese text on ChatGLM/LLaMA-style SentencePiece tokenizers this is an upper bound
    (common characters are one token or part of a multi-character token; ChatGLM2 spends about
    0.7 tokens per Chinese character), so a prompt packed with it fits. English costs roughly a
    quarter of its characters, so the estimate wastes window there. Rare characters that the
    vocabulary lacks fall back to UTF-8 bytes and can cost more than one token each.
    """

    name = "1 token per character (estimate)"
    exact = False

    def count(self, text: str) -> int:
        """Number of characters in ``text``."""
        return len(text)


class SentencePieceCounter:
    """Exact counts from a SentencePiece ``tokenizer.model``.

    When the file is ChatGLM2's (its folder's config.json says ``model_type: chatglm``, or it has
    ChatGLM2's piece count) the counting is delegated to ChatGLM2's own tokenizer class.
    """

    exact = True

    def __init__(self, model_path: str | Path) -> None:
        import sentencepiece

        path = Path(model_path).expanduser()
        try:
            processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
        except (OSError, RuntimeError) as exc:
            raise ValueError(f"{path} is not a SentencePiece tokenizer model: {exc}") from exc
        self._count: Callable[[str], int]
        if _is_chatglm_folder(path.parent) or processor.get_piece_size() == _CHATGLM2_PIECES:
            from rag.llm.chatglm2 import ChatGLM2Tokenizer

            self._count = ChatGLM2Tokenizer(path).count
            self.name = f"ChatGLM2 tokenizer ({path})"
        else:
            self._count = lambda text: len(processor.encode(text))
            self.name = f"SentencePiece ({path})"

    def count(self, text: str) -> int:
        """Number of SentencePiece tokens in ``text`` (no special tokens added)."""
        return self._count(text)


class HFTokenizerCounter:
    """Exact counts from a local Hugging Face tokenizer folder; never downloads, never runs remote code."""

    exact = True

    def __init__(self, folder: str | Path) -> None:
        from transformers import AutoTokenizer

        path = Path(folder).expanduser()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"cannot load a Hugging Face tokenizer from {path}: {exc}") from exc
        self.name = f"{type(self._tokenizer).__name__} ({path})"

    def count(self, text: str) -> int:
        """Number of tokens in ``text``, without the tokenizer's special tokens."""
        return len(self._tokenizer.encode(text, add_special_tokens=False))


def _is_chatglm_folder(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("model_type") == "chatglm"


def counter_from_path(path: str | Path | None) -> TokenCounter:
    """The counter for a ``tokenizer_path`` setting (see the module docstring).

    Raises ValueError, with what to give instead, for a path that is neither a SentencePiece
    model nor a tokenizer folder.
    """
    if path is None or str(path) == "":
        return CharEstimate()
    p = Path(path).expanduser()
    what = "a SentencePiece tokenizer.model or a Hugging Face tokenizer folder"
    if not p.exists():
        raise ValueError(f"tokenizer path {p} does not exist: give {what}")
    if p.is_file():
        return SentencePieceCounter(p)
    if _is_chatglm_folder(p) and (p / "tokenizer.model").is_file():
        return SentencePieceCounter(p / "tokenizer.model")
    if (p / "tokenizer.json").is_file() or (p / "tokenizer_config.json").is_file():
        return HFTokenizerCounter(p)
    if (p / "tokenizer.model").is_file():
        return SentencePieceCounter(p / "tokenizer.model")
    raise ValueError(
        f"tokenizer path {p} holds no tokenizer.model, tokenizer.json or tokenizer_config.json: give {what}"
    )
