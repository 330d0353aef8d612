"""Which paths of a project are left out by name: ignore files, --include/--exclude, and the
folders and files no project wants in its knowledge base (tool output, caches, dependencies, lock
files, files that hold secrets). Dot-files and dot-folders are content otherwise, as they are to
git: ``.gitignore``, ``.editorconfig``, ``.readthedocs.yaml``, ``.github/`` say how a project works.

Ignore files use git's syntax through pathspec's GitIgnoreSpec. Each folder's ``.gitignore``
applies to its own subtree, a deeper file overriding a shallower one; ``.kbignore`` files are
consulted after every ``.gitignore`` (so ``!pattern`` there re-includes what git ignores), and
``--exclude`` patterns after both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pathspec import GitIgnoreSpec

IGNORED_GIT = "ignored (.gitignore)"
IGNORED_KB = "ignored (.kbignore)"
EXCLUDED = "excluded (--exclude)"
NOT_INCLUDED = "not included (--include)"
TOOL_FOLDER = "tool or build folder"
VIRTUAL_ENV = "virtual environment"
VENDORED = "vendored"
LOCK_FILE = "lock file"
SECRETS = "may hold secrets"

_VCS_FOLDERS = frozenset({".git", ".hg", ".svn"})
_TOOL_FOLDERS = frozenset(
    {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox", ".idea", ".vscode"}
    | {"build", "dist", "target", "out", ".next", ".nuxt", "coverage", "htmlcov"}
    | {".cache", ".eggs", ".hypothesis", ".ipynb_checkpoints", ".gradle", ".terraform", ".direnv"}
    | {".npm", ".yarn", ".pnpm-store", ".parcel-cache", ".turbo", ".svelte-kit", ".angular", ".dart_tool"}
)
_VENDORED_FOLDERS = frozenset({"node_modules", "bower_components", "vendor", "third_party", "external"})
_VENV_NAMES = frozenset({".venv", "venv", "env"})
_LOCK_FILES = frozenset(
    {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "uv.lock", "Cargo.lock"}
    | {"composer.lock", "Gemfile.lock", "go.sum"}
)
# Credentials by convention: never read, whatever the ignore files say. A .env template is kept.
_SECRET_FILES = frozenset({".npmrc", ".pypirc", ".netrc", ".git-credentials", ".pgpass", ".htpasswd"})
_ENV_TEMPLATES = frozenset({"example", "sample", "template", "dist", "defaults"})
_IGNORE_FILE_LIMIT = 1024 * 1024


def builtin_folder_reason(path: str, name: str) -> str | None:
    """Why folder ``name`` (at ``path`` on disk) is never part of a project's content, or None."""
    if name in _VCS_FOLDERS or name in _TOOL_FOLDERS or name.endswith(".egg-info"):
        return TOOL_FOLDER
    if name in _VENDORED_FOLDERS:
        return VENDORED
    if os.path.isfile(os.path.join(path, "pyvenv.cfg")):
        return VIRTUAL_ENV
    if name in _VENV_NAMES and any(os.path.isfile(os.path.join(path, d, "activate")) for d in ("bin", "Scripts")):
        return VIRTUAL_ENV
    return None


def is_lock_file(name: str) -> bool:
    """True for the dependency lock files package managers write."""
    return name in _LOCK_FILES


def may_reinclude_builtin(name: str) -> bool:
    """Whether a .kbignore ``!pattern`` may bring back this built-in skip (never a VCS folder)."""
    return name not in _VCS_FOLDERS


def holds_secrets(name: str) -> bool:
    """Files that by convention hold credentials: ``.env`` and ``.env.local`` (not ``.env.example``),
    ``.npmrc``, ``.pypirc``, ``.netrc`` and the like."""
    if name in _SECRET_FILES or name == ".env":
        return True
    return name.startswith(".env.") and name.removeprefix(".env.") not in _ENV_TEMPLATES


def glob_spec(patterns: Sequence[str]) -> GitIgnoreSpec | None:
    """A gitignore-style spec for --include or --exclude patterns (relative to the root); None if empty."""
    return GitIgnoreSpec.from_lines(patterns) if patterns else None


@dataclass(frozen=True)
class _Layer:
    base: str  # folder the patterns are relative to ("" for the root)
    files: GitIgnoreSpec
    folders: GitIgnoreSpec
    label: str
    source: str  # where the patterns come from, for people: "docs/.gitignore", "--exclude"


def _folder_lines(lines: Iterable[str]) -> list[str]:
    # pathspec lets "x/**" match the folder "x" itself; git matches only what is inside it, which
    # is what keeps "x/**" + "!x/keep.md" working. As a folder test, "x/**/*" says exactly that.
    return [f"{line.rstrip(' ')}/*" if line.rstrip(" ").endswith("/**") else line for line in lines]


def _layer(base: str, lines: list[str], label: str, source: str) -> _Layer:
    folders = GitIgnoreSpec.from_lines(_folder_lines(lines))
    return _Layer(base, GitIgnoreSpec.from_lines(lines), folders, label, source)


@dataclass(frozen=True)
class IgnoreRules:
    """The ignore patterns in force in one folder: .gitignore layers (root first), .kbignore layers,
    then --exclude. The last layer with a matching pattern decides."""

    git: tuple[_Layer, ...] = ()
    kb: tuple[_Layer, ...] = ()
    exclude: tuple[_Layer, ...] = ()

    @classmethod
    def for_root(cls, exclude: Sequence[str]) -> IgnoreRules:
        """Rules before any ignore file is read: only the --exclude patterns."""
        return cls(exclude=(_layer("", list(exclude), EXCLUDED, "--exclude"),) if exclude else ())

    def entering(self, folder: str, rel: str) -> IgnoreRules:
        """The rules inside ``folder`` (relative path ``rel``), adding its .gitignore and .kbignore."""
        git, kb = self.git, self.kb
        prefix = f"{rel}/" if rel else ""
        if lines := _read_lines(os.path.join(folder, ".gitignore")):
            git = (*git, _layer(rel, lines, IGNORED_GIT, f"{prefix}.gitignore"))
        if lines := _read_lines(os.path.join(folder, ".kbignore")):
            kb = (*kb, _layer(rel, lines, IGNORED_KB, f"{prefix}.kbignore"))
        return IgnoreRules(git, kb, self.exclude)

    def ignored_by(self, rel: str, is_dir: bool) -> tuple[str, str] | None:
        """(reason label, the pattern and its file) of the rule that leaves ``rel`` out, or None."""
        decision = self._decide((*self.git, *self.kb, *self.exclude), rel, is_dir)
        if decision is None or not decision[0]:
            return None
        _, layer, index = decision
        return layer.label, f"{layer.files.patterns[index].pattern.strip()} in {layer.source}"

    def kbignore_reincludes(self, rel: str, is_dir: bool) -> bool:
        """True when a .kbignore ``!pattern`` is the last word on ``rel``."""
        decision = self._decide(self.kb, rel, is_dir)
        return decision is not None and not decision[0]

    @staticmethod
    def _decide(layers: Iterable[_Layer], rel: str, is_dir: bool) -> tuple[bool, _Layer, int] | None:
        decision = None
        for layer in layers:
            sub = rel[len(layer.base) + 1 :] if layer.base else rel
            result = (layer.folders if is_dir else layer.files).check_file(f"{sub}/" if is_dir else sub)
            if result.include is not None and result.index is not None:
                decision = (result.include, layer, result.index)
        return decision


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, "rb") as file:
            data = file.read(_IGNORE_FILE_LIMIT)
    except OSError:  # absent, a folder, or unreadable: no patterns from it
        return []
    return data.decode("utf-8", errors="replace").splitlines()
