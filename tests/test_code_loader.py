"""Code loader: languages by name, extension and #! line, text with every line where it was, readable refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from tree_sitter_language_pack import get_parser

from ingest.errors import UnsupportedFile
from ingest.loaders import SUPPORTED_EXTENSIONS, is_supported, load_document, parse_document
from ingest.loaders.code import CODE_EXTENSIONS, language_of, normalize_code
from ingest.types import Section

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("jieba/__init__.py", ("python", "code")),
        ("index.mjs", ("javascript", "code")),
        ("server.cjs", ("javascript", "code")),
        ("App.jsx", ("javascript", "code")),
        ("api.ts", ("typescript", "code")),
        ("App.tsx", ("tsx", "code")),
        ("Main.java", ("java", "code")),
        ("main.go", ("go", "code")),
        ("lib.c", ("c", "code")),
        ("geo.h", ("cpp", "code")),  # C++ parses plain C headers too
        ("geo.HPP", ("cpp", "code")),
        ("vec.cc", ("cpp", "code")),
        ("Cart.cs", ("csharp", "code")),
        ("lib.rs", ("rust", "code")),
        ("index.php", ("php", "code")),
        ("cart.rb", ("ruby", "code")),
        ("Gemfile", ("ruby", "code")),
        ("Counter.kt", ("kotlin", "code")),
        ("build.gradle.kts", ("kotlin", "code")),
        ("deploy.sh", ("bash", "code")),
        ("env.zsh", ("bash", "code")),
        ("schema.sql", ("sql", "code")),
        ("pyproject.toml", ("toml", "config")),
        ("Pipfile", ("toml", "config")),
        ("ci.yml", ("yaml", "config")),
        ("compose.yaml", ("yaml", "config")),
        ("package.json", ("json", "config")),
        ("tsconfig.jsonc", ("json", "config")),
        ("setup.cfg", ("ini", "config")),
        ("tox.ini", ("ini", "config")),
        (".editorconfig", ("ini", "config")),
        ("pom.xml", ("xml", "config")),
        ("app.properties", ("properties", "config")),
        ("Dockerfile", ("dockerfile", "config")),
        ("Dockerfile.dev", ("dockerfile", "config")),
        ("Containerfile", ("dockerfile", "config")),
        ("Makefile", ("make", "config")),
        ("GNUmakefile", ("make", "config")),
        ("CMakeLists.txt", ("cmake", "config")),
        ("requirements.txt", ("requirements", "config")),
        ("requirements-dev.txt", ("requirements", "config")),
        ("base.requirements", ("requirements", "config")),
        ("notes.txt", None),
        ("README.md", None),
        ("photo.png", None),
        ("LICENSE", None),
    ],
)
def test_language_of_a_file_name(name: str, expected: tuple[str, str] | None) -> None:
    assert language_of(name) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"#!/usr/bin/env python3\nimport sys\n", "python"),
        (b"#!/usr/bin/python3.11 -u\n", "python"),
        (b"#!/bin/sh\nset -e\n", "bash"),
        (b"#!/bin/bash\n", "bash"),
        (b"#!/usr/bin/env -S node --no-warnings\n", "javascript"),
        (b"#!/usr/bin/env ruby\n", "ruby"),
        (b"#!/usr/bin/php\n", "php"),
    ],
)
def test_a_script_without_extension_is_known_by_its_shebang(head: bytes, expected: str) -> None:
    assert language_of("deploy", head) == (expected, "code")


def test_a_shebang_does_not_override_an_extension_or_an_unknown_interpreter() -> None:
    assert language_of("notes.txt", b"#!/bin/sh\n") is None
    assert language_of("run", b"#!/usr/bin/awk -f\n") is None
    assert language_of("run", b"just text\n") is None


def test_every_language_named_has_a_grammar_in_the_pack() -> None:
    names = [f"file{ext}" for ext in CODE_EXTENSIONS] + ["Dockerfile", "Makefile", "CMakeLists.txt", "Gemfile"]
    names += ["requirements.txt", "Jenkinsfile", ".bashrc"]
    languages = {found[0] for name in names if (found := language_of(name)) and found[0]}
    languages |= {
        found[0]
        for head in (b"#!/bin/sh", b"#!/usr/bin/env node", b"#!/usr/bin/perl")
        if (found := language_of("x", head)) and found[0]
    }
    assert {"python", "csharp", "bash", "make", "dockerfile", "requirements", "tsx"} <= languages
    for language in languages:
        assert get_parser(language).parse(b"x").root_node is not None  # type: ignore[arg-type]


def test_supported_extensions_hold_documents_and_code() -> None:
    assert isinstance(SUPPORTED_EXTENSIONS, tuple)
    assert {".txt", ".md", ".pdf", ".docx", ".html", ".py", ".ts", ".toml", ".yaml", ".json", ".sql"} <= set(
        SUPPORTED_EXTENSIONS
    )
    assert len(SUPPORTED_EXTENSIONS) == len(set(SUPPORTED_EXTENSIONS))


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("guide.md", b"", True),
        ("src/app.py", b"", True),
        ("Dockerfile", b"", True),
        ("manage", b"#!/usr/bin/env python\n", True),
        ("manage", b"", False),
        ("photo.png", b"", True),  # read by OCR
    ],
)
def test_is_supported(name: str, head: bytes, expected: bool) -> None:
    assert is_supported(name, head) is expected


def test_lines_stay_where_they_were() -> None:
    data = b"import os\r\n\r\n\r\n\r\ndef f():\x07   \r\n\treturn 1\x0c  \rx = 2\r\n\r\n"
    (section,) = parse_document("app.py", data, MB)
    assert section == Section(
        "import os\n\n\n\ndef f():\n\treturn 1\nx = 2", first_line=1, kind="code", language="python"
    )
    assert normalize_code("a\n\n\n\nb\x00c") == "a\n\n\n\nbc"  # blank lines are never collapsed


def test_config_files_and_whole_names_are_read_as_config(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"numpy==2.4.6\n")
    (tmp_path / "Makefile").write_bytes(b"test:\n\tpytest\n")
    assert load_document(tmp_path / "requirements.txt", MB) == [
        Section("numpy==2.4.6", first_line=1, kind="config", language="requirements")
    ]
    assert load_document(tmp_path / "Makefile", MB) == [
        Section("test:\n\tpytest", first_line=1, kind="config", language="make")
    ]


def test_a_script_is_read_by_its_shebang_and_a_bare_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manage").write_bytes(b"#!/usr/bin/env python3\nprint('hi')\n")
    (tmp_path / "runme").write_bytes(b"no shebang here\n")
    assert load_document(tmp_path / "manage", MB)[0].language == "python"
    with pytest.raises(UnsupportedFile, match="file type with no extension is not supported"):
        load_document(tmp_path / "runme", MB)


def test_a_stray_invalid_byte_is_replaced_and_the_rest_kept() -> None:
    data = "# café, written in Latin-1 by an old editor\nNAME = '数据'\n".encode().replace("é".encode(), b"\xe9")
    (section,) = parse_document("names.py", data, MB)
    assert section.text == "# caf\ufffd, written in Latin-1 by an old editor\nNAME = '数据'"


def test_a_gbk_source_file_is_decoded_as_gbk() -> None:
    (section,) = parse_document("main.py", "# 读取用户词典\nprint('你好，世界')\n".encode("gbk"), MB)
    assert section.text == "# 读取用户词典\nprint('你好，世界')"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("logo.py", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "not a text file"),
        ("module.py", b"\x03\xf3\r\n" + bytes(range(256)) * 8, "not a text file"),  # a renamed .pyc
        ("blank.py", b"\n\n   \n\t\n", "contains no text"),
        ("empty.json", b"", "file is empty"),
        ("slides.key", b"PK\x03\x04", "or a source code or config file"),
    ],
)
def test_bad_code_files_are_refused_with_a_reason(name: str, data: bytes, expected: str) -> None:
    with pytest.raises(UnsupportedFile, match=expected):
        parse_document(name, data, MB)
