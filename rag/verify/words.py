"""Chinese words of a claim and how specific each is, from jieba's dictionary frequencies.

A reworded sentence swaps common words (通常 for 一般); a false one brings in specific ones (测试人员,
卓有成效): the rarer a word the claim adds, the less a paraphrase explains it.
"""

from __future__ import annotations

import logging
import math
from functools import cache, lru_cache

from ingest.keywords import STOPWORDS
from rag.verify.text import CJK_RUN, FUNCTION_CHARS

# Who says it, not what is said: absent from a source without making the claim false.
ATTRIBUTION = frozenset(
    "作者 笔者 文章 本文 文中 原文 资料 认为 指出 表示 提到 提出 强调 判断 觉得 看来 来看 根据 据此 总之 另外 此外 "
    "同时 其实 实际上 研究 发现 论文".split()
)


@cache
def _dictionary() -> tuple[dict[str, int], float]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.dt.FREQ, float(jieba.dt.total)


def specificity(word: str) -> float:
    """0..1: how rare ``word`` is in jieba's dictionary (1 = not in it at all)."""
    freq, total = _dictionary()
    return math.log(total / (freq.get(word, 0) + 1)) / math.log(total)


@lru_cache(maxsize=4096)
def chinese_words(norm: str) -> tuple[str, ...]:
    """Content words of normalised text: jieba words of two or more Chinese characters."""
    import jieba

    _dictionary()
    return tuple(
        w
        for w in jieba.lcut(norm)
        if len(w) > 1 and CJK_RUN.fullmatch(w) and w not in STOPWORDS | ATTRIBUTION and not set(w) <= FUNCTION_CHARS
    )


def missing_words(norm: str, source_norm: str) -> tuple[float, float, list[str]]:
    """(specificity-weighted share of the claim's words absent from the source text, specificity of
    the rarest absent word, the absent words) for normalised claim and source texts."""
    words = chinese_words(norm)
    if not words:
        return 0.0, 0.0, []
    absent = [w for w in words if w not in source_norm]
    weights = {w: specificity(w) for w in words}
    share = sum(weights[w] for w in absent) / sum(weights[w] for w in words)
    return share, max((weights[w] for w in absent), default=0.0), absent
