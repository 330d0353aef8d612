"""A source folder -> the files worth ingesting, walked the way git sees the project.

Every file and folder left out is listed with a reason label (a fixed set, for counting) and a
detail for people. A skipped folder is one entry (its path ends with "/"), never one per file
inside it. Checks run cheapest first: names and ignore rules, then one stat, then at most the first
64 KB of the file (plus 64 KB from its middle when it is large): nothing is read whole.

Symlinks are resolved, never followed out of the project. A link to something inside the project
is not followed either: its target is walked, and ingested once, under its own path.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

from ingest.errors import InvalidName, KnowledgeBaseError
from ingest.loaders.text import human_size
from ingest.names import safe_relative_name
from ingest.project_content import (
    BINARY,
    BINARY_FORMATS,
    GENERATED,
    HEAD_BYTES,
    MINIFIED,
    SAMPLE_BYTES,
    generated_detail,
    is_minified_name,
    minified_detail,
    suffix_of,
    text_encoding,
)
from ingest.project_rules import (
    LOCK_FILE,
    NOT_INCLUDED,
    SECRETS,
    IgnoreRules,
    builtin_folder_reason,
    glob_spec,
    holds_secrets,
    is_lock_file,
    may_reinclude_builtin,
)
from ingest.types import IncomingFile

TOO_LARGE = "too large"
UNSUPPORTED = "unsupported type"
OUTSIDE = "symlink outside the project"
BROKEN_LINK = "broken symlink"
UNREADABLE = "unreadable"
NO_TEXT = "no text"  # read, but empty or a picture without text (decided by the loaders)
_PROGRESS_EVERY = 200


@dataclass(frozen=True)
class Skipped:
    """A file or folder (path ending in "/") left out, relative to the root, and why."""

    path: str
    reason: str
    detail: str = ""


@dataclass
class ProjectScan:
    """The files to ingest, everything left out, and how many folders were walked (root included)."""

    files: list[IncomingFile]
    skipped: list[Skipped]
    folders_seen: int

    def skipped_by_reason(self) -> dict[str, int]:
        """How many entries each reason left out, most first: for a one-line summary."""
        return dict(Counter(s.reason for s in self.skipped).most_common())


def scan_project(
    root: Path,
    *,
    is_supported: Callable[[str, bytes], bool],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_file_bytes: int,
    generated_limit_bytes: int = 256 * 1024,
    progress: Callable[[int], None] | None = None,
) -> ProjectScan:
    """Walk ``root`` and decide, for every entry, whether it is ingested and why not.

    ``is_supported(file_name, first_bytes)`` is the loaders' verdict on a type; ``include`` (if
    given, only matching files are taken) and ``exclude`` are gitignore-style patterns relative
    to the root. Files are named by their safe posix path relative to the root. ``progress`` gets
    the number of files seen so far, every 200 files and once at the end. A problem with one entry
    (permissions, a file that vanished, a link loop) skips that entry only.
    """
    if not root.is_dir():
        raise KnowledgeBaseError(f"source folder {root} does not exist")
    walk = _Walk(
        os.path.realpath(root), is_supported, glob_spec(include), max_file_bytes, generated_limit_bytes, progress
    )
    walk.run(IgnoreRules.for_root(exclude))
    walk.files.sort(key=lambda f: f.name)
    walk.skipped.sort(key=lambda s: s.path)
    return ProjectScan(walk.files, walk.skipped, walk.folders_seen)


@dataclass
class _Walk:
    root: str
    is_supported: Callable[[str, bytes], bool]
    include: GitIgnoreSpec | None
    max_file_bytes: int
    generated_limit_bytes: int
    progress: Callable[[int], None] | None
    files: list[IncomingFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    folders_seen: int = 0
    files_seen: int = 0
    names: set[str] = field(default_factory=set)

    def run(self, root_rules: IgnoreRules) -> None:
        pending = [(self.root, "", root_rules)]
        while pending:
            folder, rel, rules = pending.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError as error:
                self._skip(f"{rel}/", UNREADABLE, error.strerror or str(error))
                continue
            self.folders_seen += 1
            rules = rules.entering(folder, rel)
            subfolders = [sub for entry in entries if (sub := self._visit(entry, rel, rules)) is not None]
            pending.extend(reversed(subfolders))
        if self.progress and (self.files_seen % _PROGRESS_EVERY or not self.files_seen):
            self.progress(self.files_seen)

    def _visit(self, entry: os.DirEntry[str], parent: str, rules: IgnoreRules) -> tuple[str, str, IgnoreRules] | None:
        """Judge one entry; a folder to walk comes back as (path, relative path, rules)."""
        rel = f"{parent}/{entry.name}" if parent else entry.name
        target, failure, is_dir, is_link = None, None, False, False
        try:
            is_link = entry.is_symlink()
            if is_link:
                target = os.path.realpath(entry.path, strict=True)
                is_dir = os.path.isdir(target)
            else:
                is_dir = entry.is_dir(follow_symlinks=False)
        except OSError as error:
            failure = _link_failure(error) if is_link else (UNREADABLE, error.strerror or str(error))
        if not is_dir:
            self._count_file()
        if by_name := self._name_reason(entry, rel, is_dir, rules):
            self._skip(f"{rel}/" if is_dir else rel, *by_name)
        elif failure is not None:
            self._skip(rel, *failure)
        elif target is not None:
            # A link inside the project is not followed: its target is judged under its own path.
            if os.path.commonpath([self.root, target]) != self.root:
                self._skip(f"{rel}/" if is_dir else rel, OUTSIDE, f"points to {target}")
        elif is_dir:
            return entry.path, rel, rules
        else:
            self._take_file(entry, rel)
        return None

    def _name_reason(
        self, entry: os.DirEntry[str], rel: str, is_dir: bool, rules: IgnoreRules
    ) -> tuple[str, str] | None:
        """(reason, detail) when the entry's path alone leaves it out."""
        if is_dir:
            builtin = builtin_folder_reason(entry.path, entry.name)
            if builtin and not (may_reinclude_builtin(entry.name) and rules.kbignore_reincludes(rel, True)):
                return builtin, ""
            return rules.ignored_by(rel, True)
        if holds_secrets(entry.name):
            return SECRETS, "not read: credentials by convention"
        if is_lock_file(entry.name) and not rules.kbignore_reincludes(rel, False):
            return LOCK_FILE, ""
        if ignored := rules.ignored_by(rel, False):
            return ignored
        if self.include is not None and self.include.check_file(rel).include is not True:
            return NOT_INCLUDED, "matches no --include pattern"
        return None

    def _take_file(self, entry: os.DirEntry[str], rel: str) -> None:
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                self._skip(rel, UNSUPPORTED, "not a regular file")
                return
            if info.st_size > self.max_file_bytes:
                limit = human_size(self.max_file_bytes)
                self._skip(rel, TOO_LARGE, f"{human_size(info.st_size)}, over the {limit} limit")
                return
            if is_minified_name(entry.name):
                self._skip(rel, MINIFIED, "a .min file")
                return
            verdict = self._content_reason(entry.path, entry.name, info.st_size)
        except OSError as error:
            self._skip(rel, UNREADABLE, error.strerror or str(error))
            return
        if verdict is not None:
            self._skip(rel, *verdict)
            return
        try:
            name = safe_relative_name(rel)
        except InvalidName:
            self._skip(rel, UNREADABLE, "its name cannot be a document name")
            return
        if name in self.names:
            self._skip(rel, UNREADABLE, f"its document name {name} is taken by another file")
            return
        self.names.add(name)
        self.files.append(IncomingFile(name, Path(entry.path)))

    def _content_reason(self, path: str, name: str, size: int) -> tuple[str, str] | None:
        """(reason, detail) when the file's content rules it out, from bounded reads only."""
        suffix = suffix_of(name)
        with open(path, "rb") as file:
            head = file.read(HEAD_BYTES)
            if suffix in BINARY_FORMATS:
                return None if self.is_supported(name, head) else (UNSUPPORTED, suffix)
            encodings = text_encoding(head, whole=len(head) < HEAD_BYTES)
            if encodings is None:
                return BINARY, f"{human_size(size)}, not UTF-8, UTF-16 or GB18030 text"
            if not self.is_supported(name, head):
                return UNSUPPORTED, suffix or "no extension"
            text = (head + file.read(SAMPLE_BYTES - HEAD_BYTES)).decode(encodings[0], errors="ignore")
            if detail := minified_detail(name, text):
                return MINIFIED, detail
            if size > self.generated_limit_bytes and size > 2 * SAMPLE_BYTES:
                file.seek((size // 2) & ~1)  # an even offset keeps UTF-16 aligned
                text += "\n" + file.read(SAMPLE_BYTES).decode(encodings[1], errors="ignore")
        if detail := generated_detail(name, text, size, self.generated_limit_bytes):
            return GENERATED, detail
        return None

    def _count_file(self) -> None:
        self.files_seen += 1
        if self.progress and self.files_seen % _PROGRESS_EVERY == 0:
            self.progress(self.files_seen)

    def _skip(self, path: str, reason: str, detail: str = "") -> None:
        self.skipped.append(Skipped(path, reason, detail))


def _link_failure(error: OSError) -> tuple[str, str]:
    if error.errno == errno.ELOOP:
        return BROKEN_LINK, "symlink loop"
    if isinstance(error, FileNotFoundError):
        return BROKEN_LINK, "its target does not exist"
    return UNREADABLE, error.strerror or str(error)
