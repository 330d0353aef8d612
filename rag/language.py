"""Which language a question or passage is written in, as the retriever and the refusal judge see it."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def language(text: str) -> str:
    """ "zh" when ``text`` has at least as many CJK characters as Latin words, else "en": a Chinese
    question naming Click or ChatGLM2 stays Chinese, an English one quoting a Chinese term stays English."""
    cjk = len(_CJK.findall(text))
    return "zh" if cjk and cjk >= len(_LATIN_WORD.findall(text)) else "en"
