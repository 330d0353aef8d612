"""An answer cut into the sentences the checker judges, each with the sources it cites.

Sentences end at 。！？!? and at a "." that ends a sentence (not the one in 3.5 or os.kill); list
items and line breaks end them too. Markers belong to the sentence they touch: "…显存[1]。" and
"…显存。[1]" cite [1] for that sentence, and markers that open a line belong to the sentence
before them (models often put the citation on the next line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.prompts import CITATION
from rag.verify.text import content_units, normalise

_CLOSERS = "”’」』）)\"'*"
# A sentence end: a terminator, closing quotes or brackets, then any markers right after it.
_SENTENCE_END = re.compile(rf"(?:[。！？!?]+|\.(?![\d\w]))[{re.escape(_CLOSERS)}]*(?:\s*{CITATION.pattern})*")
_LIST_PREFIX = re.compile(r"^\s*(?:[-*+•·>]|#{1,6}|\d{1,3}[.)、]|[（(]?\d{1,3}[)）])\s+|^\s*\d{1,3}、")
_LEADING_MARKERS = re.compile(rf"^\s*((?:{CITATION.pattern}\s*)+)[。.,，;；]?\s*")
_SOURCE_WORDS = r"(?:资料|材料|文档|文件|来源|上下文|原文|sources?|passages?|documents?|context|provided)"
_NOT_FOUND = (
    r"(?:没有|未|并未|无|不)(?:.{0,6}?)(?:找到|提到|提及|涉及|包含|给出|说明|说法|答案|信息|记载|描述|相关|这方面|细节)|"
    r"无法(?:回答|确定|找到|得知|判断)|不(?:清楚|知道|确定)|"
    r"(?:could|can|did|do|does|is|are)\s*(?:not|n't)\s*(?:find|say|contain|cover|mention|include|answer|provide|"
    r"address|know|state|specify|discuss|explain|mentioned|covered|stated|given)|"
    r"no (?:information|answer|mention|details?|data)|not (?:mentioned|covered|found|stated|given|specified)|"
    r"cannot (?:answer|find|tell)|unable to (?:answer|find)"
)
_REFUSAL = re.compile(
    rf"{_SOURCE_WORDS}.{{0,40}}?(?:{_NOT_FOUND})|(?:{_NOT_FOUND}).{{0,40}}?{_SOURCE_WORDS}|^(?:{_NOT_FOUND})",
    re.IGNORECASE,
)
_COURTESY = re.compile(r"希望.{0,8}(?:帮助|有用)|hope (?:this|that|it) helps|如有.{0,6}(?:问题|疑问)", re.IGNORECASE)
# Sentences about the answer itself: "以上就是资料中相关的全部信息", "that is all the sources say".
_ABOUT_ANSWER = re.compile(
    rf"^(?:以上|上述|这些|that is all|this is all|those are).{{0,30}}{_SOURCE_WORDS}", re.IGNORECASE
)


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of an answer: as written (markers included), its claim text and its citations."""

    text: str
    claim: str
    cited: list[int]
    makes_claim: bool


def cited_in(text: str) -> list[int]:
    """Source numbers cited in ``text``, in order of first citation (as rag.chain.cited_numbers)."""
    numbers: list[int] = []
    for match in CITATION.finditer(text):
        numbers += [int(n) for n in re.split(r"\s*[,，、]\s*", match.group(1))]
    return list(dict.fromkeys(numbers))


def makes_claim(claim: str, text: str) -> bool:
    """Whether a sentence states something checkable. A sentence with markers does, if it has any
    content words; one without does not if it is a refusal ("资料中没有找到相关内容"), a lead-in
    ending in a colon, a heading, a courtesy line or a remark about the answer itself."""
    norm = normalise(claim).strip()
    if not content_units(norm):
        return False
    if CITATION.search(text):
        return True
    if any(p.search(norm) for p in (_REFUSAL, _COURTESY, _ABOUT_ANSWER)):
        return False
    if norm.endswith(":") or text.lstrip().startswith("#"):
        return False
    bare = norm.strip("*_ ")
    return bare[-1:] in "。.!?！？" or len(bare) > 20


def _inside_quotes(text: str) -> bool:
    return text.count("“") > text.count("”") or text.count("「") > text.count("」") or text.count('"') % 2 == 1


def _pieces(line: str) -> list[str]:
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(line):
        if not _inside_quotes(line[start : match.start()]):
            pieces.append(line[start : match.end()])
            start = match.end()
    pieces.append(line[start:])
    return [p.strip() for p in pieces if p.strip()]


def split_answer(answer: str) -> list[AnswerSentence]:
    """The answer's sentences in order; pieces with nothing but markers or punctuation are dropped."""
    texts: list[str] = []
    for raw_line in answer.splitlines():
        line = _LIST_PREFIX.sub("", raw_line, count=1)
        leading = _LEADING_MARKERS.match(line)
        if leading and texts:
            texts[-1] += leading.group(1).strip()
            line = line[leading.end() :]
        texts += _pieces(line)
    sentences = []
    for text in texts:
        claim = CITATION.sub("", text).strip()
        if not re.search(r"\w", claim):
            continue
        sentences.append(AnswerSentence(text, claim, cited_in(text), makes_claim(claim, text)))
    return sentences
