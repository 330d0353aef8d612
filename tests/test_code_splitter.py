"""Code splitter: chunks follow the syntax of real snippets, cover every line once, and say where they are."""

from __future__ import annotations

import ast
import textwrap
import time
from pathlib import Path

import click.core
import jieba
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.code_splitter import split_code
from ingest.loaders import parse_document
from ingest.splitter import split_sections
from ingest.types import ChunkKind, ChunkText, Section


def chunks_of(text: str, language: str | None, chunk_size: int, kind: ChunkKind = "code") -> list[ChunkText]:
    """split_code, checked: each chunk is exactly its lines, no two share a line, every non-blank
    line is in one, none starts or ends blank, none is over the size unless it is one long line."""
    chunks = split_code(text, language, kind, chunk_size)
    lines = text.split("\n")
    covered: set[int] = set()
    previous = 0
    for chunk in chunks:
        assert chunk.lines is not None and chunk.kind == kind
        first, last = chunk.lines
        piece = first == last and len(lines[first - 1]) > chunk_size  # a piece of one long line
        if piece:
            assert chunk.text.strip() and chunk.text in lines[first - 1] and len(chunk.text) <= chunk_size
        else:
            assert chunk.text == "\n".join(lines[first - 1 : last]) and len(chunk.text) <= chunk_size
            assert lines[first - 1].strip() and lines[last - 1].strip()
        assert first > previous or (piece and first == previous), "chunks overlap or are out of order"
        covered.update(range(first, last + 1))
        previous = last
    assert {n for n, line in enumerate(lines, 1) if line.strip()} <= covered
    return chunks


def outline(chunks: list[ChunkText]) -> list[tuple[tuple[int, int] | None, str | None]]:
    return [(c.lines, c.heading) for c in chunks]


PYTHON_MODULE = '''\
#!/usr/bin/env python3
# Copyright 2024 Example Ltd. Licensed under the MIT License.
"""Word counts for a small tokenizer."""

from __future__ import annotations

import re
from functools import lru_cache

WORD = re.compile(r"\\w+")
MAX_WORDS = 10_000


# Cached: the same text is counted once.
@lru_cache(maxsize=None)
def count_words(text: str) -> dict[str, int]:
    """Count each word of ``text``."""
    counts: dict[str, int] = {}
    for word in WORD.findall(text.lower()):
        counts[word] = counts.get(word, 0) + 1
    return counts


class Tokenizer:
    """Splits text into words and remembers a user dictionary."""

    separator = " "

    def __init__(self, words: list[str] | None = None) -> None:
        self.words = set(words or [])

    # Reads one word per line; blank lines are skipped.
    def load_userdict(self, path: str) -> int:
        added = 0
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    self.words.add(line.strip())
                    added += 1
        return added

    @staticmethod
    def normalise(word: str) -> str:
        return word.strip().lower()


def main() -> None:
    print(count_words("a b a"))


if __name__ == "__main__":
    main()
'''


def test_a_python_module_is_cut_at_its_definitions() -> None:
    chunks = chunks_of(PYTHON_MODULE, "python", 400)
    assert outline(chunks) == [
        ((1, 8), "imports"),  # shebang, license, docstring, imports
        ((10, 11), "WORD, MAX_WORDS"),
        ((14, 21), "count_words"),  # its comment and decorator with it
        ((24, 30), "Tokenizer › __init__"),  # class line, docstring, field and the first method
        ((32, 40), "Tokenizer › load_userdict"),  # with the comment above it
        ((42, 44), "Tokenizer › normalise"),  # with its decorator
        ((47, 52), "main"),  # and the if __name__ block after it
    ]
    assert chunks[2].text.startswith(
        "# Cached: the same text is counted once.\n@lru_cache(maxsize=None)\ndef count_words"
    )


def test_a_class_that_fits_is_one_chunk_and_small_neighbours_are_packed() -> None:
    assert outline(chunks_of(PYTHON_MODULE, "python", 1000)) == [
        ((1, 8), "imports"),
        ((10, 21), "WORD, MAX_WORDS, count_words"),
        ((24, 44), "Tokenizer"),  # over half a chunk: not packed with its neighbours
        ((47, 52), "main"),
    ]


def test_a_method_too_big_is_cut_between_statements() -> None:
    chunks = chunks_of(PYTHON_MODULE, "python", 300)
    assert outline(chunks)[4:6] == [((32, 34), "Tokenizer › load_userdict"), ((35, 40), "Tokenizer › load_userdict")]
    assert chunks[5].text.startswith('        with open(path, encoding="utf-8") as f:')


LONG_FUNCTION = '''\
def preprocess_function_train(examples, tokenizer, args):
    """Tokenise prompts and answers into model inputs with masked labels."""
    max_seq_length = args.max_source_length + args.max_target_length
    model_inputs = {
        "input_ids": [],
        "labels": [],
    }
    for i in range(len(examples[args.prompt_column])):
        if examples[args.prompt_column][i] and examples[args.response_column][i]:
            query, answer = examples[args.prompt_column][i], examples[args.response_column][i]
            history = examples[args.history_column][i] if args.history_column else None
            prompt = tokenizer.build_prompt(query, history)
            prompt = args.source_prefix + prompt
            a_ids = tokenizer.encode(text=prompt, add_special_tokens=True, truncation=True,
                                     max_length=args.max_source_length)
            b_ids = tokenizer.encode(text=answer, add_special_tokens=False, truncation=True,
                                     max_length=args.max_target_length)

            context_length = len(a_ids)
            input_ids = a_ids + b_ids + [tokenizer.eos_token_id]
            labels = [tokenizer.pad_token_id] * context_length + b_ids + [tokenizer.eos_token_id]

            pad_len = max_seq_length - len(input_ids)
            input_ids = input_ids + [tokenizer.pad_token_id] * pad_len
            labels = labels + [tokenizer.pad_token_id] * pad_len
            if args.ignore_pad_token_for_loss:
                labels = [(l if l != tokenizer.pad_token_id else -100) for l in labels]

            model_inputs["input_ids"].append(input_ids)
            model_inputs["labels"].append(labels)
    logger.info(
        "built %d training examples of %d tokens",
        len(model_inputs["input_ids"]),
        max_seq_length,
    )
    return model_inputs
'''


def simple_statements(source: str) -> list[tuple[int, int]]:
    """Line ranges of every statement that holds no other (an assignment, a call, a return)."""
    compound = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)
    return [
        (n.lineno, n.end_lineno or n.lineno)
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.stmt) and not isinstance(n, compound)
    ]


@pytest.mark.parametrize("chunk_size", [200, 300, 500])
def test_a_long_function_is_cut_at_statement_boundaries(chunk_size: int) -> None:
    chunks = chunks_of(LONG_FUNCTION, "python", chunk_size)
    assert len(chunks) > 1 and {c.heading for c in chunks} == {"preprocess_function_train"}
    for first, last in simple_statements(LONG_FUNCTION):
        holding = [c.lines for c in chunks if c.lines and c.lines[0] <= last and first <= c.lines[1]]
        assert len(holding) == 1, f"statement at lines {first}-{last} is cut: {holding}"


def test_a_nested_function_keeps_its_parent_in_the_path() -> None:
    source = "def main():\n    setup()\n\n" + textwrap.indent(LONG_FUNCTION, "    ") + "\n    return train\n"
    headings = [c.heading for c in chunks_of(source, "python", 400)]
    assert headings[:-1] == ["main › preprocess_function_train"] * (len(headings) - 1) and headings[-1] == "main"


def test_one_statement_bigger_than_a_chunk_is_cut_at_line_ends() -> None:
    source = "TABLE = [\n" + "".join(f"    ({n}, 'word{n}'),\n" for n in range(60)) + "]\n"
    chunks = chunks_of(source, "python", 200)
    assert len(chunks) > 5 and all(c.heading == "TABLE" for c in chunks)


def test_a_syntax_error_is_still_chunked() -> None:
    broken = PYTHON_MODULE.replace("def normalise(word: str) -> str:", "def normalise(word: str -> str:")
    chunks = chunks_of(broken, "python", 400)
    assert outline(chunks)[:2] == [((1, 8), "imports"), ((10, 11), "WORD, MAX_WORDS")]
    garbage = "function (( {{ ]] <<< >>> ::: ;;;\n" * 40  # no parse at all: by lines
    assert [c.heading for c in chunks_of(garbage, "javascript", 200)] == [None] * 8


JAVASCRIPT = """\
// Copyright 2024 Example
import { readFile } from "node:fs/promises";
const path = require("path");

export const LIMIT = 10;

/** Adds two numbers. */
export function add(a, b) {
  return a + b;
}

const double = (x) => x * 2;

class Cache extends Map {
  #hits = 0;
  static create() { return new Cache(); }
  get(key) {
    this.#hits++;
    return super.get(key);
  }
}

module.exports = { add, double, Cache };
"""


def test_javascript_classes_and_arrow_functions() -> None:
    assert outline(chunks_of(JAVASCRIPT, "javascript", 160)) == [
        ((1, 3), "imports"),  # the license comment, an import and a require
        ((5, 12), "LIMIT, add, double"),
        ((14, 21), "Cache"),
        ((23, 23), None),
    ]
    assert outline(chunks_of(JAVASCRIPT, "javascript", 120))[-3:-1] == [
        ((14, 16), "Cache › create"),  # the class line, a field and a one-line method
        ((17, 21), "Cache › get"),  # the class's closing brace goes with its last method
    ]


TYPESCRIPT = """\
import type { Config } from "./config";

export interface User {
  id: number;
  name: string;
}

export type Id = string | number;

@Component({ selector: "app" })
export class Service<T> {
  private items: T[] = [];
  constructor(private readonly cfg: Config) {}
  @Log()
  add(item: T): void {
    this.items.push(item);
  }
}

export const handler = async (req: Request): Promise<Response> => {
  return new Response("ok");
};
"""


def test_typescript_decorators_stay_with_what_they_decorate() -> None:
    chunks = chunks_of(TYPESCRIPT, "typescript", 120)
    assert outline(chunks) == [
        ((1, 1), "imports"),
        ((3, 8), "User, Id"),
        ((10, 12), "Service"),
        ((13, 13), "Service › constructor"),
        ((14, 18), "Service › add"),
        ((20, 22), "handler"),
    ]
    assert chunks[4].text.startswith("  @Log()\n  add(item: T): void {")


JAVA = """\
/*
 * Licensed under the Apache License 2.0.
 */
package com.example.cache;

import java.util.HashMap;
import java.util.Map;

/** A tiny LRU cache. */
@SuppressWarnings("unchecked")
public class LruCache<K, V> {
    private final int capacity;
    private final Map<K, V> items = new HashMap<>();

    public LruCache(int capacity) {
        this.capacity = capacity;
    }

    // Returns null when absent.
    @Override
    public V get(K key) {
        return items.get(key);
    }

    enum Policy { LRU, LFU }
}
"""


def test_java_members_keep_their_class_in_the_path() -> None:
    chunks = chunks_of(JAVA, "java", 150)
    assert outline(chunks) == [
        ((1, 7), "imports"),  # license comment, package line, imports
        ((9, 12), "LruCache"),  # javadoc, annotation, class line, a field
        ((13, 17), "LruCache › items, LruCache"),  # a field and the constructor
        ((19, 23), "LruCache › get"),  # with its comment and annotation
        ((25, 26), "LruCache › Policy"),
    ]


GO = """\
// Package store keeps things.
package store

import (
\t"errors"
\t"fmt"
)

// ErrMissing is returned for unknown keys.
var ErrMissing = errors.New("missing")

// Store maps keys to values.
type Store struct {
\titems map[string]string
}

// Get returns the value of key.
func (s *Store) Get(key string) (string, error) {
\tv, ok := s.items[key]
\tif !ok {
\t\treturn "", fmt.Errorf("%w: %s", ErrMissing, key)
\t}
\treturn v, nil
}

func New() *Store { return &Store{items: map[string]string{}} }
"""


def test_go_functions_types_and_imports() -> None:
    assert outline(chunks_of(GO, "go", 160)) == [
        ((1, 7), "imports"),
        ((9, 10), "ErrMissing"),
        ((12, 15), "Store"),
        ((17, 19), "Get"),  # cut between two statements
        ((20, 24), "Get"),
        ((26, 26), "New"),
    ]


C_HEADER = """\
#ifndef GEO_H
#define GEO_H
#include <stdio.h>

struct point { int x; int y; };
typedef struct point point_t;
static int count = 0;

int add(int a, int b)
{
    return a + b;
}
#endif
"""

CPP = """\
#include <vector>

namespace geo {
template <typename T>
class Vec {
 public:
  T x;
  Vec operator+(const Vec& o) const { return {x + o.x}; }
};
int norm(const Vec<int>& v) { return v.x; }
}  // namespace geo
"""


def test_c_and_cpp() -> None:
    assert outline(chunks_of(C_HEADER, "c", 100)) == [
        ((1, 3), "imports"),  # the include guard opens the header
        ((5, 7), "point, point_t, count"),
        ((9, 13), "add"),  # the guard's #endif closes the last chunk
    ]
    assert outline(chunks_of(CPP, "cpp", 120)) == [
        ((1, 1), "imports"),
        ((3, 3), "geo"),
        ((4, 9), "geo › Vec"),  # with its template line
        ((10, 11), "geo › norm"),
    ]


CSHARP = """\
using System;
using System.Collections.Generic;

namespace Demo.Shop
{
    /// <summary>A cart.</summary>
    [Serializable]
    public class Cart
    {
        private readonly List<string> _items = new();

        public int Count => _items.Count;

        public void Add(string item)
        {
            _items.Add(item);
        }
    }

    public record Point(int X, int Y);
}
"""


def test_csharp_namespaces_classes_and_members() -> None:
    assert outline(chunks_of(CSHARP, "csharp", 150)) == [
        ((1, 2), "imports"),
        ((4, 5), "Demo.Shop"),
        ((6, 10), "Demo.Shop › Cart"),
        ((12, 12), "Demo.Shop › Cart › Count"),
        ((14, 18), "Demo.Shop › Cart › Add"),
        ((20, 21), "Demo.Shop › Point"),
    ]


RUST = """\
//! Geometry helpers.
use std::fmt;

/// A point.
#[derive(Debug, Clone)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "({}, {})", self.x, self.y)
    }
}

pub fn origin() -> Point {
    Point { x: 0.0, y: 0.0 }
}
"""


def test_rust_attributes_stay_with_their_item() -> None:
    chunks = chunks_of(RUST, "rust", 100)
    assert outline(chunks) == [
        ((1, 2), "imports"),
        ((4, 9), "Point"),
        ((11, 12), "impl fmt::Display for Point › fmt"),
        ((13, 15), "impl fmt::Display for Point › fmt"),
        ((17, 19), "origin"),
    ]
    assert chunks[1].text.startswith("/// A point.\n#[derive(Debug, Clone)]\npub struct Point {")


PHP = """\
<?php
declare(strict_types=1);

namespace App\\Models;

use App\\Support\\Str;

/**
 * A user.
 */
class User extends Model
{
    protected $table = 'users';

    public function fullName(): string
    {
        return Str::title($this->first . ' ' . $this->last);
    }
}
"""

RUBY = """\
# frozen_string_literal: true
require "json"
require_relative "base"

module Shop
  # A cart of items.
  class Cart < Base
    attr_reader :items

    def initialize
      @items = []
    end

    def add(item)
      @items << item
      self
    end
  end
end
"""

KOTLIN = """\
package com.example.app

import kotlin.math.max

/** A counter. */
@Suppress("unused")
class Counter(private var n: Int = 0) {
    val label: String = "c"

    fun inc(by: Int = 1): Int {
        n += by
        return max(n, 0)
    }
}

fun twice(x: Int) = x * 2
"""


def test_php_ruby_and_kotlin() -> None:
    assert outline(chunks_of(PHP, "php", 120)) == [
        ((1, 6), "imports"),  # <?php, declare, namespace and use lines
        ((8, 13), "User"),
        ((15, 19), "User › fullName"),
    ]
    assert outline(chunks_of(RUBY, "ruby", 120)) == [
        ((1, 3), "imports"),  # the magic comment and the requires
        ((5, 8), "Shop › Cart"),
        ((10, 19), "Shop › Cart › initialize, add"),  # both "end"s go with the last method
    ]
    assert outline(chunks_of(KOTLIN, "kotlin", 110)) == [
        ((1, 3), "imports"),
        ((5, 8), "Counter"),
        ((10, 14), "Counter › inc"),
        ((16, 16), "twice"),
    ]


SHELL = """\
#!/usr/bin/env bash
# Deploy the app.

APP_DIR=/srv/app

# Print usage.
usage() {
  echo "usage: $0 [-v]"
  exit 1
}

deploy() {
  cd "$APP_DIR"
  git pull
}

if [[ $# -gt 1 ]]; then
  usage
fi
deploy
"""

SQL = """\
-- Schema for the shop.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);

-- Orders belong to users.
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER REFERENCES users(id)
);

SELECT u.name, COUNT(o.id) AS n
FROM users u JOIN orders o ON o.user_id = u.id
GROUP BY u.name;
"""


def test_shell_and_sql() -> None:
    assert outline(chunks_of(SHELL, "bash", 80)) == [
        ((1, 2), "header"),
        ((4, 4), "APP_DIR"),
        ((6, 10), "usage"),
        ((12, 19), "deploy"),  # and the if block after it
        ((20, 20), None),
    ]
    assert outline(chunks_of(SQL, "sql", 130)) == [
        ((1, 1), "header"),
        ((3, 6), "users"),
        ((8, 12), "orders"),
        ((14, 16), None),
    ]


PYPROJECT = """\
[project]
name = "demo"
version = "1.0"
dependencies = [
  "numpy>=1.24",
  "jieba==0.42.1",
]

[tool.ruff]
line-length = 120

[tool.ruff.lint]
select = ["E", "F", "I"]
ignore = ["E501"]

[[tool.mypy.overrides]]
module = "jieba.*"
ignore_missing_imports = true
"""


def test_toml_is_cut_at_tables_and_headed_by_their_key_path() -> None:
    chunks = chunks_of(PYPROJECT, "toml", 120, "config")
    assert outline(chunks) == [
        ((1, 7), "project"),
        ((9, 14), "tool › ruff, tool › ruff › lint"),  # two small tables packed
        ((16, 18), "tool › mypy › overrides"),
    ]
    assert outline(chunks_of(PYPROJECT, "toml", 60, "config"))[:2] == [
        ((1, 3), "project"),
        ((4, 7), "project › dependencies"),
    ]


WORKFLOW = """\
# CI for pull requests
name: test
on: [push, pull_request]

jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: ruff check .
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pytest -q
"""


def test_yaml_is_cut_at_keys() -> None:
    assert outline(chunks_of(WORKFLOW, "yaml", 120, "config")) == [
        ((1, 3), "name, on"),
        ((5, 10), "jobs › lint"),
        ((11, 15), "jobs › test"),
    ]


PACKAGE_JSON = """\
{
  // a comment, as tsconfig.json allows
  "name": "demo",
  "scripts": {
    "test": "jest",
    "lint": "eslint ."
  },
  "dependencies": {
    "react": "^18.0.0"
  }
}
"""

SETUP_CFG = """\
; packaging
[metadata]
name = demo
version = 1.0

[options]
packages = find:
install_requires =
    numpy
    jieba
"""

POM = """\
<?xml version="1.0" encoding="UTF-8"?>
<project>
  <modelVersion>4.0.0</modelVersion>
  <dependencies>
    <dependency>
      <groupId>junit</groupId>
      <artifactId>junit</artifactId>
    </dependency>
  </dependencies>
</project>
"""


def test_json_ini_and_xml() -> None:
    assert outline(chunks_of(PACKAGE_JSON, "json", 90, "config")) == [
        ((1, 3), "name"),
        ((4, 7), "scripts"),
        ((8, 11), "dependencies"),
    ]
    assert outline(chunks_of(SETUP_CFG, "ini", 80, "config")) == [((1, 4), "metadata"), ((6, 10), "options")]
    assert outline(chunks_of(POM, "xml", 150, "config")) == [
        ((1, 3), "project"),
        ((4, 10), "project › dependencies"),
    ]


DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt \\
    && rm -rf /root/.cache

FROM build AS run
ENV PORT=8501
CMD ["streamlit", "run", "app.py"]
"""

MAKEFILE = """\
PYTHON ?= python3

.PHONY: test lint

test: lint
\t$(PYTHON) -m pytest -q

lint:
\truff check .
"""

REQUIREMENTS = """\
# Runtime
numpy==2.4.6
jieba==0.42.1

# Code chunked by its syntax
tree-sitter==0.26.1
tree-sitter-language-pack==0.13.0
-r requirements-dev.txt
"""


def test_dockerfile_makefile_and_requirements() -> None:
    assert outline(chunks_of(DOCKERFILE, "dockerfile", 200, "config")) == [
        ((1, 6), "FROM python:3.11-slim AS build"),
        ((8, 10), "FROM build AS run"),
    ]
    assert outline(chunks_of(MAKEFILE, "make", 40, "config")) == [
        ((1, 3), "PYTHON, .PHONY"),
        ((5, 6), "test"),
        ((8, 9), "lint"),
    ]
    assert outline(chunks_of(REQUIREMENTS, "requirements", 120, "config")) == [
        ((1, 7), "numpy, jieba, tree-sitter …"),
        ((8, 8), None),
    ]


def test_without_a_grammar_lines_are_cut_at_blank_lines() -> None:
    text = "\n\n".join("\n".join(f"line {p}.{n}" for n in range(5)) for p in range(6))  # six paragraphs
    chunks = chunks_of(text, None, 100)
    assert [c.lines for c in chunks] == [(1, 11), (13, 23), (25, 35)]  # two paragraphs a chunk, never a part
    assert {c.heading for c in chunks} == {None}


def test_first_line_offsets_the_line_numbers() -> None:
    chunks = split_code("a = 1\n\nb = 2", "python", "code", 5, first_line=41)
    assert [(c.lines, c.text) for c in chunks] == [((41, 41), "a = 1"), ((43, 43), "b = 2")]


def test_a_bad_chunk_size_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        split_code("x = 1", "python", "code", 0)


def test_a_40_mb_minified_file_is_cut_in_seconds() -> None:
    data = b"var a=function(b){return b+1};" * 1_400_000  # 42 MB on one line
    started = time.perf_counter()
    chunks = split_sections(parse_document("app.min.js", data, 64 * 2**20), 800, 100)
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert len(chunks) > 50_000 and all(c.lines == (1, 1) and 0 < len(c.text) <= 800 for c in chunks)
    # cut at a space or between characters: only the spaces at the cuts are gone
    assert "".join(c.text for c in chunks).replace(" ", "") == data.decode().replace(" ", "")


def test_split_sections_sends_code_to_the_code_splitter_and_prose_to_the_prose_one() -> None:
    sections = [
        Section("Intro. More prose.", heading="Guide"),
        Section("\ndef f():\n    return 1", first_line=1, kind="code", language="python"),
    ]
    chunks = split_sections(sections, 200, 20)
    assert [(c.text, c.heading, c.lines, c.kind) for c in chunks] == [
        ("Intro. More prose.", "Guide", None, "doc"),
        ("def f():\n    return 1", "f", (2, 3), "code"),
    ]


@pytest.mark.parametrize("module", [jieba, click.core], ids=["jieba", "click.core"])
def test_real_modules_are_covered_and_named(module: object) -> None:
    source = Path(module.__file__).read_text(encoding="utf-8")  # type: ignore[attr-defined]
    chunks = chunks_of(source, "python", 800)
    headings = {c.heading for c in chunks}
    assert chunks[0].heading == "imports"
    expected = (
        {"Tokenizer › load_userdict", "Tokenizer › cut"} if module is jieba else {"Context › invoke", "Command › main"}
    )
    assert expected <= headings
    assert sum(len(c.text) for c in chunks) > 0.9 * len(source)


CODE_LINES = [
    "def f(x):",
    "    return x",
    "class A:",
    "    pass",
    "",
    "}",
    "{",
    "if (a) {",
    "  b();",
    "x = [",
    "  1,",
    "]",
    "# comment",
    "// comment",
    '"""doc"""',
    "@deco",
    "fn main() {",
    "SELECT 1;",
    "[table]",
    "key = 1",
    "- item",
    "<a>",
    "</a>",
    "   ",
    "é 中文 😀",
    "x" * 90,
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(CODE_LINES), max_size=60),
    st.sampled_from(["python", "javascript", "c", "rust", "sql", "toml", "yaml", "xml", None]),
    st.integers(10, 200),
)
def test_any_text_in_any_language_is_covered_exactly_once(lines: list[str], language: str | None, size: int) -> None:
    chunks_of("\n".join(lines), language, size)
