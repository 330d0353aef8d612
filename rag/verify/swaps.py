"""Swapped slots: the source says the same words around a spot where the claim put something else.

"百度“文心”规模为 200B" against "百度“文心”规模260B", or "最能体现 DeepMind 技术眼光" against
"最能体现Google技术眼光": the claim's neighbours are found in the source with a different number,
name or word between them. The fact alone may still occur elsewhere in the source (200B is
华为“盘古”'s size), which is why a plain presence test misses these.
"""

from __future__ import annotations

import re

_STOP = "。！？!?;；,，、:：()（）\n|"
_STOP_RUN = re.compile(f"[{re.escape(_STOP)}]")
CONTEXTS = ((3, 3), (2, 2), (1, 2), (2, 1))  # characters of context (left, right), tried in turn


def compact(norm: str) -> str:
    """Normalised text without what writers vary freely around the same words: whitespace ("规模
    260B" / "规模260B"), quote marks and the particles 的了为是."""
    return re.sub(r"[\s\"“”'‘’「」『』的了为是]+", "", norm)


def _kind(text: str) -> str:
    if re.search(r"\d|[零〇一二两三四五六七八九十百千万亿]", text):
        return "number"
    return "latin" if re.search(r"[a-z]", text) else "cjk"


def _core(fill: str, kind: str) -> str:
    """The part of a fill that is of the token's kind ("只能4096" -> "4096")."""
    pattern = {"number": r"[\d.]+|[零〇一二两三四五六七八九十百千万亿]+", "latin": r"[a-z][\w.\-]*"}.get(kind)
    found = re.findall(pattern, fill) if pattern else []
    return max(found, key=len) if found else fill


def _context(claim: str, start: int, end: int, sizes: tuple[int, int]) -> tuple[str, str]:
    left = _STOP_RUN.split(claim[max(0, start - sizes[0]) : start])[-1]
    right = _STOP_RUN.split(claim[end : end + sizes[1]])[0]
    return left, right


def _fills(source: str, left: str, right: str, longest: int) -> list[str]:
    """What ``source`` has between ``left`` and the nearest ``right`` after it (1..longest
    characters, none of them ending a clause)."""
    fills, at = [], source.find(left)
    while at != -1:
        start = at + len(left)
        end = source.find(right, start + 1, start + longest + len(right))
        if end != -1 and not _STOP_RUN.search(source, start, end):
            fills.append(source[start:end])
        at = source.find(left, at + 1)
    return fills


def swapped(claim: str, source: str, token: str) -> str | None:
    """What ``source`` has in ``token``'s place in ``claim`` (compact, normalised texts), or None when
    the source has the token there too, or has no such place. The place is the token's neighbours
    in the claim, three characters on each side, else fewer (at least three in all)."""
    token = compact(token)
    if not token:
        return None
    at = claim.find(token)
    while at != -1:
        for sizes in CONTEXTS:
            left, right = _context(claim, at, at + len(token), sizes)
            if len(left) + len(right) < 3 or not left or not right:
                continue
            if left + token + right in source:  # the nearest-right search cannot see a right inside the token
                return None
            fills = _fills(source, left, right, len(token) + 8)
            if token in fills:
                return None
            others = [f for f in fills if _kind(f) == _kind(token) and token not in f and f not in token]
            if others:
                return _core(others[0], _kind(token))
        at = claim.find(token, at + 1)
    return None
