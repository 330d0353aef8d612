"""The syntax side of code splitting: a parsed text and the members of a node, each on rows of its own.

Everything is counted in rows (0-based lines), which tree-sitter and the text agree on whatever the
encoding; columns are bytes and only ever compared on the encoded rows.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tree_sitter import Node, Parser
from tree_sitter_language_pack import get_parser

_local = threading.local()  # a Parser must not be shared between threads

# Nodes that belong with the member after them when nothing but a line break lies between.
_ATTACHED = re.compile(r"comment|decorator|attribute_item|annotation|^attribute$")
# Kinds of node that are a definition even inside a function body (there, statements go unnamed).
_DEFINITION = re.compile(
    r"function|method|class|struct|interface|trait|impl|enum|module|namespace|macro_def|decorated|export|template"
)
# Kinds of node whose members are declarations (named) rather than statements.
_SCOPE = re.compile(r"class|struct|interface|trait|impl|enum|namespace|module|object|record|union|protocol|mixin")
# Kinds of node worth naming at all: what declares or defines something, or a key of a config file.
_NAMEABLE = re.compile(
    rf"{_DEFINITION.pattern}|definition|declaration|declarator|assignment|item|spec|variable|const|"
    r"property|field|constructor|type|alias|pair|table|section|setting|element|rule|requirement|^statement$"
)
# Kinds of node that only hold others: a body, a block, a list of declarations, a JSON object.
_CONTAINER = re.compile(
    r"(?:body|_list|(?:^|_)block|^body_statement|^content|compound_statement|^object|^array|^block_node|"
    r"^block_mapping|^block_sequence|^flow_node)$"
)
# Kinds of node that wrap others without being anything themselves (include guards, extern "C").
_TRANSPARENT = {"preproc_ifdef", "preproc_if", "preproc_else", "preproc_elif", "linkage_specification"}
_NAME_FIELDS = ("name", "key", "left")
_WRAPPER_FIELDS = ("definition", "declaration", "declarator", "pattern", "type")
# Children that carry the name where a grammar has no "name" field (Kotlin, TOML, INI, XML, SQL, make).
_CARRIER = re.compile(
    r"declarator|variable_declaration|_spec$|section_name|STag|EmptyElemTag|^create_|object_reference"
)
_IDENTIFIER = re.compile(
    r"identifier|^(constant|word|bare_key|quoted_key|dotted_key|Name|setting_name|text|key|targets|package)$"
)
_NAMED_BY_LINE = {"from_instruction", "impl_item"}  # "FROM python:3.11 AS build", "impl Display for Point"
_QUOTES = "\"'`"
_MAX_DEPTH = 200  # nesting opened before the rest is left to lines: no recursion, no runaway stack


def holds_declarations(node_type: str) -> bool:
    """Whether a node of this kind holds declarations (a class body) rather than statements."""
    return _SCOPE.search(node_type) is not None


def parser_for(language: str) -> Parser:
    """The tree-sitter parser of ``language``, made once per thread."""
    parsers: dict[str, Parser] = _local.__dict__.setdefault("parsers", {})
    if language not in parsers:
        parsers[language] = get_parser(language)  # type: ignore[arg-type]
    return parsers[language]


@dataclass(slots=True)
class Member:
    """A run of rows [first, last] that is one unit: a syntax node, or rows between nodes (node None)."""

    first: int
    last: int
    node: Node | None = None
    name: str | None = None


class Syntax:
    """One text parsed by tree-sitter, with the row arithmetic the splitter needs."""

    def __init__(self, text: str, language: str) -> None:
        self.data = text.encode("utf-8", "replace")
        self.rows = self.data.split(b"\n")
        self.root = parser_for(language).parse(self.data).root_node

    def blank(self, row: int) -> bool:
        return not self.rows[row].strip()

    @staticmethod
    def defines(node: Node | None) -> bool:
        """Whether ``node`` is a definition (a function, a class), not a field, key or statement."""
        return node is not None and _DEFINITION.search(node.type) is not None

    def span(self, node: Node) -> tuple[int, int] | None:
        """First and last rows that hold some of ``node``'s text; None for a node of whitespace."""
        (first, start_col), (last, end_col) = node.start_point, node.end_point
        if not self.rows[first][start_col:].strip():
            first += 1
        if last >= len(self.rows) or not self.rows[last][:end_col].strip():
            last -= 1
        while first <= last and self.blank(first):
            first += 1
        while last > first and self.blank(last):
            last -= 1
        return (first, last) if first <= last else None

    def error_rows(self) -> int:
        """How many rows the parser could not make sense of (top-level ERROR nodes)."""
        if self.root.type == "ERROR":
            return len(self.rows)
        spans = (self.span(child) for child in self.root.children if child.is_error)
        return sum(s[1] - s[0] + 1 for s in spans if s)

    def name(self, node: Node, scope: bool) -> str | None:
        """The name ``node`` defines ("load_userdict", "tool › ruff"); in a function body
        (``scope`` false) only definitions are named, so statements stay anonymous."""
        if node.type in _NAMED_BY_LINE:
            return " ".join(self.rows[node.start_point[0]].decode("utf-8", "replace").split()).rstrip("{ ")[:80]
        if (
            node.type in _TRANSPARENT
            or _CONTAINER.search(node.type)
            or not (_NAMEABLE if scope else _DEFINITION).search(node.type)
        ):
            return None
        for _ in range(6):
            for field in _NAME_FIELDS:
                if (found := node.child_by_field_name(field)) is not None:
                    return self._text(found)
            inner = next((c for f in _WRAPPER_FIELDS if (c := node.child_by_field_name(f)) is not None), None)
            if inner is None and node.type == "template_declaration":  # template <typename T> class Vec
                inner = node.named_children[-1]
            if inner is None:  # grammars without fields (Kotlin, TOML, INI, XML): the first fitting child
                inner = next(
                    (c for c in node.named_children[:4] if _CARRIER.search(c.type) or _IDENTIFIER.search(c.type)), None
                )
            if inner is None:
                return None
            if _IDENTIFIER.search(inner.type):
                return self._text(inner)
            node = inner
        return None

    def _text(self, node: Node) -> str | None:
        if node.type == "dotted_key":  # TOML [tool.ruff.lint] is the path tool › ruff › lint
            return " › ".join(filter(None, (self._text(c) for c in node.named_children)))
        text = node.text.decode("utf-8", "replace") if node.end_byte - node.start_byte <= 200 else ""
        return " ".join(text.split()).strip(_QUOTES)[:80] or None

    def unwrap(self, node: Node, name: str | None) -> Node:
        """The node inside decorators, ``export`` or ``template <…>`` that holds the body."""
        for _ in range(4):
            inner = node.child_by_field_name("definition") or node.child_by_field_name("declaration")
            if inner is None and node.named_child_count:
                last = node.named_children[-1]
                same_end = last.end_point[0] == node.end_point[0]  # "template <…> class X {…};" ends at its ";"
                if same_end and name is not None and self.name(last, True) == name:
                    inner = last
            if inner is None:
                return node
            node = inner
        return node

    def opening(self, node: Node) -> int:
        """The row up to which a wrapper opened at the top is taken: an include guard keeps its
        #ifndef line to itself; a document or object starts with its content."""
        span = self.span(node)
        first = span[0] if span else node.start_point[0]
        return first if node.type in _TRANSPARENT else first - 1

    def members(
        self, node: Node, first: int, last: int, claimed: int, fits: Callable[[int, int], bool], scope: bool
    ) -> list[Member]:
        """The parts of rows [first, last] around ``node``, in order: descendants that start on a row
        of their own after row ``claimed`` (a big unnamed one is opened up instead), and the rows
        between them as Members without a node, split at blank lines; comments and decorators join
        the member right below them."""
        found = list(self._children(node, claimed, fits, scope))
        parts: list[Member] = []
        row = first
        for member in [*found, Member(last + 1, last)]:
            while row < member.first:  # the rows in between, one paragraph at a time
                if self.blank(row):
                    row += 1
                    continue
                end = row
                while end + 1 < member.first and not self.blank(end + 1):
                    end += 1
                parts.append(Member(row, end))
                row = end + 1
            if member.first <= last:
                parts.append(member)
            row = member.last + 1
        merged: list[Member] = []  # from the end, so a run of comments joins the member below it
        for part in reversed(parts):
            attached = part.node is not None and _ATTACHED.search(part.node.type) is not None
            if attached and merged and merged[-1].first == part.last + 1:
                merged[-1].first = part.first
            else:
                merged.append(part)
        parts = merged[::-1]
        return parts

    def _children(self, node: Node, claimed: int, fits: Callable[[int, int], bool], scope: bool) -> Iterator[Member]:
        """Members among ``node``'s descendants; rows up to ``claimed`` are taken (the node's own
        first line). A child is opened up instead when it shares a taken row, or has no name and is
        too big or is the body that ends its parent (a class body, the value of a big key)."""
        stack: list[tuple[Iterator[Node], int]] = [(iter(node.named_children), -1)]
        while stack:
            children, end = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                claimed = max(claimed, end)
                continue
            span = self.span(child)
            if span is None or span[1] <= claimed:
                continue
            if len(stack) > _MAX_DEPTH:  # leave the rows to the line-based cut
                claimed = span[1]
                continue
            name = None if span[0] <= claimed else self.name(child, scope)
            if (
                span[0] <= claimed
                or (name is None and child.named_child_count and not fits(*span))
                or (name is None and _CONTAINER.search(child.type) and self._last(child))
            ):
                stack.append((iter(child.named_children), span[1]))
                if child.type in _TRANSPARENT:  # "#ifndef X" is not a member of its own
                    claimed = max(claimed, span[0])
                continue
            content, trailing = self._trailing_comments(child, span)
            yield Member(span[0], content, child, name)
            claimed = content
            for extra in trailing:
                if (extra_span := self.span(extra)) and extra_span[0] > claimed:
                    yield Member(*extra_span, extra)
                    claimed = extra_span[1]
            claimed = max(claimed, span[1])

    @staticmethod
    def _last(child: Node) -> bool:
        """Whether ``child`` is the last of its siblings that is not a comment."""
        later = child.next_named_sibling
        while later is not None and later.is_extra:
            later = later.next_named_sibling
        return later is None

    def _trailing_comments(self, node: Node, span: tuple[int, int]) -> tuple[int, list[Node]]:
        """The last row of ``node``'s own text, and the comments after it that the parser folded
        into the node (they belong with what follows)."""
        trailing: list[Node] = []
        inner = node
        while inner.child_count:
            children = inner.children
            k = len(children)
            while k and children[k - 1].is_extra:
                k -= 1
            trailing[:0] = children[k:]
            if not k:
                break
            inner = children[k - 1]
        inner_span = self.span(inner) if inner is not node else span
        content = inner_span[1] if inner_span else span[1]
        trailing = [t for t in trailing if t.start_point[0] > content]
        return (content, trailing) if trailing else (span[1], [])
