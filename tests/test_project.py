"""scan_project on trees made in tmp_path, and on two real projects (jieba, click)."""

from __future__ import annotations

import os
import random
import tracemalloc
from pathlib import Path

import pytest
from conftest import PROJECTS

from ingest.errors import KnowledgeBaseError
from ingest.loaders.code import language_of, load_code
from ingest.project import ProjectScan, Skipped, scan_project

SUPPORTED = {".md", ".txt", ".py", ".js", ".css", ".json", ".csv", ".yml", ".yaml", ".log", ".html", ".pdf"}
MB = 1024 * 1024


def supported(name: str, head: bytes = b"") -> bool:
    return Path(name).suffix.lower() in SUPPORTED


def make(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def scan(root: Path, **options: object) -> ProjectScan:
    options = {"is_supported": supported, "max_file_bytes": 100 * MB} | options
    return scan_project(root, **options)  # type: ignore[arg-type]


def taken(result: ProjectScan) -> set[str]:
    return {f.name for f in result.files}


def reasons(result: ProjectScan) -> dict[str, str]:
    return {s.path: s.reason for s in result.skipped}


def test_nested_gitignores_follow_git_semantics(tmp_path: Path) -> None:
    root_rules = [
        "# a comment, not a pattern",
        "*.log",
        "!keep.log",
        "/anchored.md",
        "tmpdir/",
        "**/deep/*.md",
        r"\#hash.md",
        "trailing.md   ",
        "my file.md",
        "docs/**",
        "!docs/keep.md",
        "*.txt",
    ]
    make(
        tmp_path,
        {
            ".gitignore": "\n".join(root_rules) + "\n",
            "a.log": "x",
            "keep.log": "x",
            "anchored.md": "x",
            "sub/anchored.md": "x",
            "tmpdir/x.md": "x",
            "other/tmpdir": "a file, not a folder",
            "deep/x.md": "x",
            "a/b/deep/x.md": "x",
            "a/b/deep/x.py": "x = 1",
            "#hash.md": "x",
            "#other.md": "x",
            "trailing.md": "x",
            "my file.md": "x",
            "docs/a.md": "x",
            "docs/keep.md": "x",
            "docs/sub/keep.md": "x",
            "top.txt": "x",
            "sub/.gitignore": "!notes.txt\nlocal.md\n/only_here.md\n",
            "sub/notes.txt": "x",
            "sub/other.txt": "x",
            "sub/local.md": "x",
            "local.md": "x",
            "sub/only_here.md": "x",
            "sub/inner/only_here.md": "x",
        },
    )
    result = scan(tmp_path)
    assert taken(result) == {
        "keep.log", "sub/anchored.md", "a/b/deep/x.py", "#other.md", "docs/keep.md", "sub/notes.txt",
        "local.md", "sub/inner/only_here.md",
    }  # fmt: skip
    git = "ignored (.gitignore)"
    for path in ["a.log", "anchored.md", "tmpdir/", "deep/x.md", "a/b/deep/x.md", "#hash.md", "trailing.md"]:
        assert reasons(result)[path] == git, path
    for path in ["my file.md", "docs/a.md", "docs/sub/", "top.txt", "sub/other.txt", "sub/local.md"]:
        assert reasons(result)[path] == git, path
    assert reasons(result)["sub/only_here.md"] == git
    assert reasons(result)["other/tmpdir"] == "unsupported type"  # "tmpdir/" matches folders only
    details = {s.path: s.detail for s in result.skipped}
    assert details["sub/local.md"] == "local.md in sub/.gitignore"
    assert details["tmpdir/"] == "tmpdir/ in .gitignore"


def test_kbignore_applies_after_gitignore_and_can_reinclude(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            ".gitignore": "generated/\n*.csv\n",
            ".kbignore": "!generated/\n!data.csv\ndrafts/\n!build/\n",
            "generated/api.md": "x",
            "data.csv": "a,b\n1,2\n",
            "other.csv": "a,b\n",
            "drafts/idea.md": "x",
            "build/notes.md": "a folder named build that the project wants",
            "src/build/x.md": "x",
            "pkg/.kbignore": "*.md\n",
            "pkg/readme.md": "x",
            "pkg/code.py": "x = 1",
        },
    )
    result = scan(tmp_path)
    assert taken(result) == {"generated/api.md", "data.csv", "build/notes.md", "src/build/x.md", "pkg/code.py"}
    assert reasons(result)["other.csv"] == "ignored (.gitignore)"
    assert reasons(result)["drafts/"] == "ignored (.kbignore)"
    assert reasons(result)["pkg/readme.md"] == "ignored (.kbignore)"


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "src/app.py": "x = 1",
            "src/app_old.py": "x = 1",
            "src/notes.txt": "x",
            "docs/guide.md": "x",
            "README.md": "x",
            "tests/test_app.py": "x = 1",
        },
    )
    result = scan(tmp_path, include=["*.py", "docs/"], exclude=["tests/", "*_old.py"])
    assert taken(result) == {"src/app.py", "docs/guide.md"}
    assert reasons(result) == {
        "src/app_old.py": "excluded (--exclude)",
        "tests/": "excluded (--exclude)",
        "src/notes.txt": "not included (--include)",
        "README.md": "not included (--include)",
    }


ALWAYS_SKIPPED = {
    ".git": "tool or build folder",
    ".hg": "tool or build folder",
    ".svn": "tool or build folder",
    "__pycache__": "tool or build folder",
    ".mypy_cache": "tool or build folder",
    ".pytest_cache": "tool or build folder",
    ".ruff_cache": "tool or build folder",
    ".tox": "tool or build folder",
    ".nox": "tool or build folder",
    ".idea": "tool or build folder",
    ".vscode": "tool or build folder",
    "build": "tool or build folder",
    "dist": "tool or build folder",
    "target": "tool or build folder",
    "out": "tool or build folder",
    ".next": "tool or build folder",
    ".nuxt": "tool or build folder",
    "kb_assistant.egg-info": "tool or build folder",
    "coverage": "tool or build folder",
    "htmlcov": "tool or build folder",
    "node_modules": "vendored",
    "bower_components": "vendored",
    "vendor": "vendored",
    "third_party": "vendored",
    "external": "vendored",
}


def test_every_always_skipped_folder_is_one_entry(tmp_path: Path) -> None:
    files: dict[str, str] = {"keep.py": "x = 1"}
    for name in ALWAYS_SKIPPED:
        files |= {f"{name}/a.py": "x = 1", f"{name}/b/c.md": "x", f"pkg/{name}/a.py": "x = 1"}
    files |= {"myenv/pyvenv.cfg": "home = /usr", "myenv/lib/site.py": "x = 1"}
    files |= {".venv/bin/activate": "", "venv/Scripts/activate": "", "env/bin/activate": "", "env/lib/x.py": ""}
    files |= {"pkg/env/config.md": "an env folder without an activate script is ordinary"}
    make(tmp_path, files)
    result = scan(tmp_path)
    expected = {f"{name}/": reason for name, reason in ALWAYS_SKIPPED.items()}
    expected |= {f"pkg/{name}/": reason for name, reason in ALWAYS_SKIPPED.items()}
    expected |= {path: "virtual environment" for path in ["myenv/", ".venv/", "venv/", "env/"]}
    assert reasons(result) == expected
    assert taken(result) == {"keep.py", "pkg/env/config.md"}
    assert result.skipped_by_reason() == {"tool or build folder": 40, "vendored": 10, "virtual environment": 4}


def test_lock_files_are_skipped(tmp_path: Path) -> None:
    locks = ["package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "uv.lock", "Cargo.lock"]
    locks += ["composer.lock", "Gemfile.lock", "go.sum", "web/package-lock.json"]
    make(tmp_path, {name: "{}" for name in locks} | {"package.json": '{"name": "x"}'})
    result = scan(tmp_path)
    assert reasons(result) == dict.fromkeys(locks, "lock file")
    assert taken(result) == {"package.json"}


def test_dot_files_are_content_as_in_git_but_credentials_are_never_read(tmp_path: Path) -> None:
    secrets = [".env", ".env.local", ".env.production", ".npmrc", ".pypirc", ".netrc", "app/.env"]
    content = [".env.example", ".env.sample", ".gitlab-ci.yml", ".pre-commit-config.yaml", ".gitignore"]
    content += [".editorconfig", ".github/workflows/ci.yml", ".github/FUNDING.yml", ".github/ISSUE_TEMPLATE/bug.md"]
    content += [".devcontainer/devcontainer.json", "docs/.draft.md", "app/.gitattributes"]
    caches = [".cache/", ".gradle/", ".ipynb_checkpoints/", "web/.turbo/"]
    files = {name: "SECRET=1" for name in secrets} | {name: "x: 1" for name in content}
    make(tmp_path, files | {f"{folder}a.json": "{}" for folder in caches})
    result = scan(tmp_path, is_supported=lambda name, head: True)
    assert taken(result) == set(content)  # document names keep their leading dots: .github is not github
    assert reasons(result) == dict.fromkeys(secrets, "may hold secrets") | dict.fromkeys(caches, "tool or build folder")


def test_a_kbignore_cannot_bring_credentials_back(tmp_path: Path) -> None:
    make(tmp_path, {".env": "SECRET=1", ".kbignore": "!.env\n", "a.md": "x"})
    result = scan(tmp_path, is_supported=lambda name, head: True)
    assert reasons(result) == {".env": "may hold secrets"}
    assert taken(result) == {"a.md", ".kbignore"}


def test_git_dot_files_are_read_as_config() -> None:
    for name, language in [(".gitignore", "gitignore"), (".gitattributes", "gitattributes"), (".flake8", "ini")]:
        assert language_of(f"pkg/{name}") == (language, "config")
    sections = load_code(b"# build output\ndist/\n*.egg-info/\n", ".gitignore", 10_000)
    assert [(s.kind, s.language, s.first_line) for s in sections] == [("config", "gitignore", 1)]


def test_binary_is_decided_by_content(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "compiled.py": b"\x00\x01\x02 not python" * 100,
            "noise.md": bytes(random.Random(7).randrange(256) for _ in range(4000)),
            "latin1.txt": "café au lait, déjà vu".encode("latin-1"),
            "utf16.txt": "UTF-16 text with a BOM".encode("utf-16"),
            "chinese.txt": "结巴中文分词：做最好的 Python 中文分词组件。".encode("gb18030"),
            "utf8.md": "# 标题\n正文".encode(),
            "scan.pdf": b"%PDF-1.4\x00\x00binary body",
            "photo.png": b"\x89PNG\r\n\x1a\n\x00\x00",
            "Makefile": "all:\n\techo hi\n",
        },
    )
    result = scan(tmp_path)
    assert taken(result) == {"utf16.txt", "chinese.txt", "utf8.md", "scan.pdf"}
    assert reasons(result) == {
        "compiled.py": "binary",
        "noise.md": "binary",
        "latin1.txt": "binary",
        "photo.png": "unsupported type",  # a binary format: the predicate alone decides
        "Makefile": "unsupported type",
    }


def test_the_predicate_sees_the_first_bytes(tmp_path: Path) -> None:
    make(tmp_path, {"bin/deploy": "#!/bin/sh\necho deploy\n", "bin/notes": "plain words\n"})
    result = scan_project(tmp_path, is_supported=lambda name, head: head.startswith(b"#!"), max_file_bytes=MB)
    assert taken(result) == {"bin/deploy"}
    assert reasons(result) == {"bin/notes": "unsupported type"}


def test_minified_files(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "app.min.js": "var a=1;",
            "site.min.css": "a{b:c}",
            "wide.js": "\n".join("var x = 1; " * 46 for _ in range(20)),
            "normal.js": "function add(a, b) {\n  return a + b;\n}\n" * 200,
            "essay.md": "One very long paragraph of prose. " * 200,
        },
    )
    with (tmp_path / "bundle.js").open("w") as file:  # 40 MB on one line
        for _ in range(40):
            file.write("function f(){return 1};" * (MB // 23))
    tracemalloc.start()
    result = scan(tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert taken(result) == {"normal.js", "essay.md"}
    assert reasons(result) == dict.fromkeys(["app.min.js", "site.min.css", "wide.js", "bundle.js"], "minified")
    assert peak < 4 * MB  # classified from its first 64 KB, never read whole


def test_generated_data_against_real_looking_code(tmp_path: Path) -> None:
    rng = random.Random(3)
    table = "TABLE = [\n" + "".join(f"    {rng.random():.12f}, {rng.randint(0, 9999)},\n" for _ in range(14000)) + "]\n"
    module = "".join(
        f"def weighted_total_{i}(items, factor):\n"
        f'    """Sum the weighted prices of the items above threshold {i % 7}."""\n'
        "    total = 0\n"
        "    for item in items:\n"
        f"        if item.price > {i % 7}:\n"
        "            total += item.price * factor\n"
        "    return total\n\n\n"
        for i in range(1500)
    )
    make(
        tmp_path,
        {
            "tables.py": table,
            "module.py": module,
            "registry.py": "register(handler)\n" * 18000,
            "small_table.py": "P = {'B': -0.26, 'E': -3.14e100, 'M': -3.14e100, 'S': -1.46}\n",
            "settings.py": '"""Defaults."""\nDEBUG = True\nPORT = 8000\nNAME = "kb"\n',
            "__init__.py": '"""A package whose only content is this docstring."""\n',
            "small_data.csv": "".join(f"{rng.random()},{rng.random()}\n" for _ in range(200)),
            "small_data.json": "[\n" + ",\n".join(str(rng.random()) for _ in range(300)) + "\n]\n",
        },
    )
    assert len(table) > 300 * 1024 and len(module) > 300 * 1024
    result = scan(tmp_path)
    assert taken(result) == {"module.py", "settings.py", "__init__.py", "small_data.csv", "small_data.json"}
    assert reasons(result) == dict.fromkeys(["tables.py", "registry.py", "small_table.py"], "generated data")
    detail = next(s.detail for s in result.skipped if s.path == "tables.py")
    assert detail.endswith("100 % literal values")


def test_too_large_is_skipped_before_reading(tmp_path: Path) -> None:
    with (tmp_path / "huge.txt").open("wb") as file:
        file.truncate(3 * MB)  # sparse: nothing to read, only its size
    make(tmp_path, {"small.txt": "x"})
    result = scan(tmp_path, max_file_bytes=MB)
    assert result.skipped == [Skipped("huge.txt", "too large", "3.0 MB, over the 1.0 MB limit")]
    assert taken(result) == {"small.txt"}


def test_symlinks_never_leave_the_project_nor_duplicate_it(tmp_path: Path) -> None:
    outside = make(tmp_path / "outside", {"secret.md": "x", "folder/x.md": "x"})
    root = make(tmp_path / "project", {"real/doc.md": "x", "README.md": "x"})
    (root / "secret.md").symlink_to(outside / "secret.md")
    (root / "folder").symlink_to(outside / "folder")
    (root / "a.md").symlink_to(root / "b.md")
    (root / "b.md").symlink_to(root / "a.md")
    (root / "dangling.md").symlink_to(root / "nowhere.md")
    (root / "docs").mkdir()
    (root / "docs" / "README.md").symlink_to(root / "README.md")
    (root / "alias").symlink_to(root / "real")
    (root / "real" / "up").symlink_to(root)
    result = scan(root)
    assert taken(result) == {"README.md", "real/doc.md"}
    assert reasons(result) == {
        "secret.md": "symlink outside the project",
        "folder/": "symlink outside the project",
        "a.md": "broken symlink",
        "b.md": "broken symlink",
        "dangling.md": "broken symlink",
    }
    assert {s.detail for s in result.skipped if s.path in {"a.md", "b.md"}} == {"symlink loop"}


def test_an_unreadable_entry_skips_only_itself(tmp_path: Path) -> None:
    # Root ignores permissions, so the paths are made too long for the system to open instead.
    make(tmp_path, {"fine.md": "x"})
    deep = tmp_path
    while len(str(deep)) < 4000:
        deep = deep / ("d" * min(250, 4000 - len(str(deep))))
        deep.mkdir()
    fd = os.open(deep, os.O_RDONLY)
    try:
        with open(os.open("f" * 200 + ".md", os.O_CREAT | os.O_WRONLY, dir_fd=fd), "w") as file:
            file.write("x")
        os.mkdir("g" * 200, dir_fd=fd)
    finally:
        os.close(fd)
    result = scan(tmp_path)
    assert taken(result) == {"fine.md"}
    prefix = deep.relative_to(tmp_path).as_posix()
    assert reasons(result) == {f"{prefix}/{'f' * 200}.md": "unreadable", f"{prefix}/{'g' * 200}/": "unreadable"}
    assert {s.detail for s in result.skipped} == {"File name too long"}


def test_names_are_safe_paths_relative_to_the_root(tmp_path: Path) -> None:
    make(tmp_path, {"README.md": "top", "docs/README.md": "docs", "docs/a:b.md": "x"})
    result = scan(tmp_path)
    assert {f.name: f.path.read_text() for f in result.files if f.name.endswith("README.md")} == {
        "README.md": "top",
        "docs/README.md": "docs",
    }
    assert taken(result) == {"README.md", "docs/README.md", "docs/a_b.md"}


def test_a_missing_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="does not exist"):
        scan(tmp_path / "nope")


def test_twenty_thousand_files_with_progress(tmp_path: Path) -> None:
    for d in range(100):
        folder = tmp_path / f"pkg{d:03d}"
        folder.mkdir()
        for f in range(200):
            (folder / f"m{f:03d}.{'py' if f % 2 else 'md'}").write_bytes(b"x = 1\n")
    seen: list[int] = []
    result = scan(tmp_path, progress=seen.append)
    assert len(result.files) == 20000 and result.folders_seen == 101
    assert seen == list(range(200, 20001, 200))


def test_jieba_generated_tables_are_skipped_and_its_code_kept() -> None:
    jieba = PROJECTS / "jieba"
    result = scan(jieba)
    generated = {s.path for s in result.skipped if s.reason == "generated data"}
    assert generated == {
        f"jieba/{part}"
        for part in [
            *("finalseg/prob_emit.py", "finalseg/prob_start.py", "finalseg/prob_trans.py"),
            *("posseg/prob_emit.py", "posseg/prob_start.py", "posseg/prob_trans.py", "posseg/char_state_tab.py"),
        ]
    }
    python = {p.relative_to(jieba).as_posix() for p in jieba.rglob("*.py")}
    assert python - generated <= taken(result)
    assert {"README.md", "jieba/__init__.py", "jieba/posseg/__init__.py", "test/test.py"} <= taken(result)


def test_click_has_no_generated_data() -> None:
    result = scan(PROJECTS / "click")
    assert "generated data" not in result.skipped_by_reason()
    assert {"src/click/core.py", "docs/options.md", "tests/test_options.py", "README.md"} <= taken(result)
    assert reasons(result)["uv.lock"] == "lock file"
