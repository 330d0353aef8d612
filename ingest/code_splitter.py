"""Source code and config files -> chunks cut along their syntax, each with its lines and symbol path.

A definition (function, method, class, with its decorators, docstring and the comments right above
it) is one chunk when it fits in ``chunk_size`` characters; a bigger one is cut into its members,
each keeping the definition in its symbol path, and a function into runs of whole statements. The
file's header (docstring, imports, package line, license comment) is a chunk of its own; small
neighbours are packed together in file order, ending at a blank line when one lies in the chunk's
second half. Config files are cut the same way at their tables, keys and elements.

A chunk's text is exactly its lines of the input; blank lines between chunks belong to none. Where
there is no grammar, the parser mostly failed, or the file is huge or minified, lines are packed
instead, cut at a blank line near the limit; only a line longer than ``chunk_size`` is cut inside,
into pieces that each carry that one line number.
"""

from __future__ import annotations

import re
from itertools import accumulate

from ingest.code_syntax import Member, Syntax, holds_declarations
from ingest.types import ChunkKind, ChunkText

_PARSE_LIMIT = 4_000_000  # characters; tree-sitter takes ~0.5 s and ~70 MB per MB, lines are enough beyond
_LONG_LINE = 1000  # a file mostly made of lines this long is minified or data
_MAX_NESTING = 100  # definitions inside definitions split by syntax; deeper ones by lines
_HEADER = re.compile(
    r"import|package|using|use_declaration|extern_crate|include|preproc_def|namespace|php_tag|declare|inner_attr|future"
)
_HEADER_LINE = re.compile(  # imports that are calls: require (JS, Ruby, Lua), include (PHP), "use strict"
    r"\s*(?:(?:const|let|var|local)\s+[\w{},\s]+=\s*)?(?:require(?:_once|_relative)?|include(?:_once)?)\b"
    r"|\s*load\s+['\"]|\s*['\"]use (?:strict|client|server)|__\w+__\s*="  # and __version__ = "1.0"
)
_CLOSER = re.compile(r"[\W_]*(?:end\w*|fi|done|esac|</[\w:.-]+>)?[\W_]*")
_SEP = " › "
_Piece = tuple[int, int, str | None, str | None]  # first row, last row, heading, text when not whole rows


def split_code(
    text: str, language: str | None, kind: ChunkKind, chunk_size: int, first_line: int = 1
) -> list[ChunkText]:
    """Chunks of one source or config file along its syntax (``language`` as tree-sitter-language-pack
    names it; None: by lines). Each has ``lines`` (1-based, inclusive, counted from ``first_line``),
    ``kind`` and ``heading``: the symbol path ("Tokenizer › load_userdict"; several packed symbols
    are listed, "a, b, c …"; the file header is "imports" or "header")."""
    if chunk_size < 1:
        raise ValueError(f"need chunk_size >= 1, got {chunk_size}")
    cutter = _Cutter(text, kind, chunk_size)
    offset = first_line - 1
    return [
        ChunkText(
            piece if piece is not None else "\n".join(cutter.lines[first : last + 1]),
            heading=heading,
            lines=(first + 1 + offset, last + 1 + offset),
            kind=kind,
        )
        for first, last, heading, piece in cutter.pieces(language)
    ]


class _Cutter:
    """One text being cut: its lines, their sizes and, once parsed, its syntax tree."""

    def __init__(self, text: str, kind: ChunkKind, chunk_size: int) -> None:
        self.text, self.kind, self.limit = text, kind, chunk_size
        self.lines = text.split("\n")
        self.offsets = [0, *accumulate(len(line) + 1 for line in self.lines)]
        self.syntax: Syntax | None = None

    def size(self, first: int, last: int) -> int:
        return self.offsets[last + 1] - self.offsets[first] - 1

    def fits(self, first: int, last: int) -> bool:
        return self.size(first, last) <= self.limit

    def pieces(self, language: str | None) -> list[_Piece]:
        last = len(self.lines) - 1
        long_chars = sum(len(line) for line in self.lines if len(line) > _LONG_LINE)
        if language is None or len(self.text) > _PARSE_LIMIT or 2 * long_chars > len(self.text):
            return self._by_lines(0, last, None)
        syntax = self.syntax = Syntax(self.text, language)
        if 2 * syntax.error_rows() > sum(1 for line in self.lines if line.strip()):
            return self._by_lines(0, last, None)
        parts = syntax.members(syntax.root, 0, last, -1, self.fits, True)
        while len(parts) == 1 and (node := parts[0].node) is not None and not parts[0].name and node.named_child_count:
            parts = syntax.members(node, 0, last, syntax.opening(node), self.fits, True)  # a lone document, guard
        head, label = self._header(parts) if self.kind == "code" else (0, "")
        return self._pack(parts[:head], (), None, 0, label) + self._pack(parts[head:], (), None, 0)

    def _header(self, parts: list[Member]) -> tuple[int, str]:
        """How many leading parts are the file's header (comments, a docstring, imports, a package
        line), and its heading: "imports" when it has some, else "header"."""
        imports = False
        for count, part in enumerate(parts):
            kind = part.node.type if part.node else ""
            line = self.lines[part.node.start_point[0] if part.node else part.first]
            docstring = kind in {"string", "expression_statement"} and line.lstrip("rRuUbBfF")[:1] in {'"', "'"}
            docstring &= all(p.node is not None and "comment" in p.node.type for p in parts[:count])
            opening = not count and part.node is None  # e.g. an include guard's #ifndef
            one_line = part.first == part.last or "namespace" not in kind  # PHP's "namespace App;", not a block
            imported = (_HEADER.search(kind) is not None and one_line) or _HEADER_LINE.match(line) is not None
            if not (opening or "comment" in kind or docstring or imported):
                return count, "imports" if imports else "header"
            imports |= imported
        return len(parts), "imports" if imports else "header"

    def _pack(
        self, parts: list[Member], path: tuple[str, ...], head: int | None, depth: int, label: str | None = None
    ) -> list[_Piece]:
        """Pieces of ``parts`` (siblings under ``path``): a part too big is split, small neighbours are
        packed; ``head`` is the first row of the definition being split, whose piece is headed by its path."""
        pieces: list[_Piece] = []
        group: list[Member] = []
        named = alone = False  # whether ``group`` holds a named part, a part that must stay alone

        def flush(count: int) -> None:
            nonlocal named, alone
            if count:
                pieces.append(
                    (group[0].first, group[count - 1].last, self._heading(group[:count], path, head, label), None)
                )
                del group[:count]
                named, alone = any(g.name for g in group), any(self._alone(g) for g in group)

        split_statement = False  # the last piece ends a statement split in two: more statements may follow on
        for part in parts:
            if not self.fits(part.first, part.last):
                split = self._split(part, path, depth, label)
                if split and group and not named and split[0][3] is None and self.fits(group[0].first, split[0][1]):
                    split[0] = (group[0].first, *split[0][1:])  # "module Shop" goes with the start of its class
                    group.clear()
                flush(len(group))
                pieces += split
                split_statement = part.name is None
                continue
            follows = self._closer(part) or (split_statement and part.name is None)
            if not group and pieces and pieces[-1][3] is None and follows and self.fits(pieces[-1][0], part.last):
                pieces[-1] = (pieces[-1][0], part.last, *pieces[-1][2:])  # the "end" after a split class
                continue
            while group and (count := self._cut(group, part, named, alone)):
                flush(count)
            group.append(part)
            named, alone = named or part.name is not None, alone or self._alone(part)
        flush(len(group))
        return pieces

    def _alone(self, part: Member) -> bool:
        """A named part over half a chunk is a chunk of its own, not packed with its neighbours."""
        return part.name is not None and 2 * self.size(part.first, part.last) > self.limit

    def _closer(self, part: Member) -> bool:
        """Closing lines ("}", "end", "</dependencies>") go with what they close, whatever its size."""
        return part.last - part.first < 2 and all(
            _CLOSER.fullmatch(line.strip()) for line in self.lines[part.first : part.last + 1]
        )

    def _cut(self, group: list[Member], part: Member, named: bool, alone: bool) -> int:
        """How many of ``group`` (which holds a named part, one that must stay alone) to emit before
        ``part``: all when a named part over half a chunk would share a chunk with another named one
        (unnamed lines, such as a closing brace or the class line before it, go with anything); none
        when ``part`` joins the group; else up to the last blank line in the chunk's second half, if
        the rest goes on with ``part`` (a "for" line left alone had better close the chunk before)."""
        if part.name is not None and (alone or (named and self._alone(part))):
            return len(group)
        if self.fits(group[0].first, part.last):
            return 0
        for count in range(len(group) - 1, 0, -1):
            if 2 * self.size(group[0].first, group[count - 1].last) < self.limit:
                break
            if group[count].first > group[count - 1].last + 1:  # a blank line: cut there if what is left
                return count if self.fits(group[count].first, part.last) else len(group)  # can go on with part
        return len(group)

    def _heading(self, group: list[Member], path: tuple[str, ...], head: int | None, label: str | None) -> str | None:
        if label:
            return label
        # The piece that opens a definition: its path, and what it holds beyond one-line fields.
        own = group[0].first == head
        names = [g.name for g in group if g.name and (not own or g.last > g.first or Syntax.defines(g.node))]
        names = list(dict.fromkeys(names))
        if names:
            shown = 1 + sum(1 for k in range(1, min(3, len(names))) if len(", ".join(names[: k + 1])) <= 80)
            path += (", ".join(names[:shown]) + (" …" if len(names) > shown else ""),)
        return _SEP.join(path) or None

    def _split(self, part: Member, path: tuple[str, ...], depth: int, label: str | None) -> list[_Piece]:
        """Pieces of one part bigger than a chunk: its members, else its lines."""
        path += (part.name,) if part.name else ()
        syntax = self.syntax
        if part.node is None or syntax is None or depth >= _MAX_NESTING:
            return self._by_lines(part.first, part.last, label or _SEP.join(path) or None)
        node = syntax.unwrap(part.node, part.name)
        span = syntax.span(node)
        claimed = span[0] if span else part.first
        scope = self.kind == "config" or holds_declarations(node.type)
        members = syntax.members(node, part.first, part.last, claimed, self.fits, scope)
        if len(members) <= 1:
            return self._by_lines(part.first, part.last, label or _SEP.join(path) or None)
        return self._pack(members, path, part.first, depth + 1, label)

    def _by_lines(self, first: int, last: int, heading: str | None) -> list[_Piece]:
        """Rows [first, last] packed into pieces, each ending at a blank line in its second half if
        there is one; a row longer than a chunk is cut inside."""
        pieces: list[_Piece] = []
        row = first
        while row <= last:
            if not self.lines[row].strip():
                row += 1
                continue
            if len(self.lines[row]) > self.limit:
                pieces += self._cut_row(row, heading)
                row += 1
                continue
            start = end = row
            paragraph, full = None, False
            row += 1
            while row <= last and len(self.lines[row]) <= self.limit:
                if not self.lines[row].strip():
                    if row - 1 == end:  # the first blank line after some text
                        paragraph = end
                elif self.fits(start, row):
                    end = row
                else:
                    full = True
                    break
                row += 1
            if full and paragraph is not None and paragraph != end and 2 * self.size(start, paragraph) >= self.limit:
                end = paragraph
            pieces.append((start, end, heading, None))
            row = end + 1
        return pieces

    def _cut_row(self, row: int, heading: str | None) -> list[_Piece]:
        """A row longer than a chunk, in pieces that end at a space in their second half if there is one."""
        line, pieces, start = self.lines[row], [], 0
        while start < len(line):
            end = min(start + self.limit, len(line))
            if end < len(line):
                space = line.rfind(" ", start + self.limit // 2, end)
                end = space if space > start else end
            piece = line[start:end].strip()
            if piece:
                pieces.append((row, row, heading, piece))
            start = end
        return pieces
