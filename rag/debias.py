"""What every question shares, taken out of the query vector before the dense search ranks.

An embedder puts a question near passages that read like an answer to *any* question in its
language: a README's 修订历史 section, a changelog, a short Chinese paragraph. On the four-project
bench such passages were among the top ten sources of 26 of 138 questions about other
repositories, mostly by their dense rank. The direction that a handful of generic questions share
("这个函数是做什么的？", "what does it return?") is that pull; ranking by the query vector minus
``query_debias`` of it leaves what the question asks. 0.3 is the strength the choosing questions
favour among those that lose nothing on either dev set (0.5 found three more project questions but
moved a literature dev question from rank 1 to 2). The raw cosine is still what a source's
``dense_score`` reports (the refusal judge's cuts, rag/answerable.py, are fitted on it).
"""

from __future__ import annotations

import threading

import numpy as np

from ingest.embeddings import Embedder
from rag.language import language

# Questions that name nothing: what they share is what every question shares.
GENERIC_QUESTIONS = {
    "zh": (
        "这个函数是做什么的？",
        "这个参数有什么用？",
        "为什么会报错？",
        "应该怎么配置？",
        "这个功能如何使用？",
        "默认值是多少？",
        "出错时会怎样处理？",
        "它是怎么实现的？",
        "有什么区别？",
        "需要满足什么条件？",
        "返回什么结果？",
        "在哪里定义的？",
    ),
    "en": (
        "what does this function do?",
        "what is this parameter for?",
        "why does it raise an error?",
        "how do I configure it?",
        "how is this feature used?",
        "what is the default value?",
        "what happens when it fails?",
        "how is it implemented?",
        "what is the difference?",
        "what conditions must be met?",
        "what does it return?",
        "where is it defined?",
    ),
}

_directions: dict[tuple[str, str], np.ndarray] = {}
_lock = threading.Lock()


def generic_direction(embedder: Embedder, language: str) -> np.ndarray:
    """The mean query vector of the generic questions of ``language`` ("zh" or "en"), once per embedder."""
    key = (embedder.name, language)
    with _lock:
        found = _directions.get(key)
    if found is None:
        found = np.mean([embedder.encode_query(q) for q in GENERIC_QUESTIONS[language]], axis=0)
        with _lock:
            _directions[key] = found
    return found


def debiased(vector: np.ndarray, text: str, embedder: Embedder, strength: float) -> np.ndarray:
    """``vector`` (the query vector of ``text``) less ``strength`` of the generic direction of the
    text's language (rag.language: the one the refusal judge reads it in), unit norm again."""
    shifted = vector - strength * generic_direction(embedder, language(text))
    return (shifted / np.linalg.norm(shifted)).astype(vector.dtype)
