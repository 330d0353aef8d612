"""Source code and config files: which language a file is in, and its text with every line kept.

Language names are those tree-sitter-language-pack 0.13.0 parses (``get_parser(name)``). A file is
recognised by its whole name (Dockerfile, Makefile, requirements-dev.txt), else its extension, else,
when it has none, by the interpreter on its ``#!`` line.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from ingest.errors import UnsupportedFile
from ingest.loaders.text import decode_text
from ingest.types import ChunkKind, Section

_CODE = {
    "python": ".py .pyi .pyw",
    "javascript": ".js .mjs .cjs .jsx",
    "typescript": ".ts .mts .cts",
    "tsx": ".tsx",
    "java": ".java",
    "go": ".go",
    "c": ".c",
    "cpp": ".h .cc .cpp .cxx .c++ .hpp .hh .hxx .h++ .inl",
    "csharp": ".cs",
    "rust": ".rs",
    "php": ".php",
    "ruby": ".rb .rake .gemspec",
    "kotlin": ".kt .kts",
    "bash": ".sh .bash .zsh .ksh",
    "sql": ".sql",
    "scala": ".scala .sc",
    "swift": ".swift",
    "lua": ".lua",
    "perl": ".pl .pm",
    "r": ".r",
    "dart": ".dart",
    "groovy": ".groovy .gradle",
    "powershell": ".ps1 .psm1",
    "css": ".css",
    "scss": ".scss",
    "vue": ".vue",
    "proto": ".proto",
    "graphql": ".graphql .gql",
}
_CONFIG = {
    "toml": ".toml",
    "yaml": ".yaml .yml",
    "json": ".json .jsonc .json5",
    "ini": ".ini .cfg .conf",
    "xml": ".xml .xsd .xsl .xslt .plist .csproj .vbproj .props .targets",
    "properties": ".properties",
    "dockerfile": ".dockerfile",
    "make": ".mk .mak",
    "cmake": ".cmake",
    "requirements": ".requirements",
    "hcl": ".hcl .tf .tfvars",
}
_EXTENSIONS: dict[str, tuple[str, ChunkKind]] = {
    ext: (language, kind)
    for table, kind in ((_CODE, "code"), (_CONFIG, "config"))
    for language, exts in table.items()
    for ext in exts.split()
}
CODE_EXTENSIONS: tuple[str, ...] = tuple(_EXTENSIONS)
"""Every extension read as code or config, lower case with the dot."""

_NAMES: dict[str, tuple[str, ChunkKind]] = {  # whole file names, lower case
    "dockerfile": ("dockerfile", "config"),
    "containerfile": ("dockerfile", "config"),
    "makefile": ("make", "config"),
    "gnumakefile": ("make", "config"),
    "cmakelists.txt": ("cmake", "config"),
    "pipfile": ("toml", "config"),
    "pipfile.lock": ("json", "config"),
    ".editorconfig": ("ini", "config"),
    ".gitconfig": ("ini", "config"),
    ".gitmodules": ("ini", "config"),
    ".flake8": ("ini", "config"),
    ".pylintrc": ("ini", "config"),
    ".coveragerc": ("ini", "config"),
    ".gitignore": ("gitignore", "config"),
    ".dockerignore": ("gitignore", "config"),
    ".npmignore": ("gitignore", "config"),
    ".kbignore": ("gitignore", "config"),
    ".gitattributes": ("gitattributes", "config"),
    ".babelrc": ("json", "config"),
    "gemfile": ("ruby", "code"),
    "rakefile": ("ruby", "code"),
    "vagrantfile": ("ruby", "code"),
    "jenkinsfile": ("groovy", "code"),
    ".bashrc": ("bash", "code"),
    ".bash_profile": ("bash", "code"),
    ".profile": ("bash", "code"),
    ".zshrc": ("bash", "code"),
}
_NAME_PATTERNS = (  # whole names with a varying part: Dockerfile.dev, requirements-test.txt
    (re.compile(r"(?:docker|container)file\..+"), ("dockerfile", "config")),
    (re.compile(r"requirements[\w.-]*\.(?:txt|in)|constraints[\w.-]*\.txt"), ("requirements", "config")),
)
_SHEBANG = re.compile(rb"#!\s*(?:\S*/)?(?:env\s+(?:-\S+\s+)*)?([A-Za-z]+)")
_INTERPRETERS: dict[str, str] = {
    "python": "python",
    "bash": "bash",
    "sh": "bash",
    "dash": "bash",
    "zsh": "bash",
    "ksh": "bash",
    "node": "javascript",
    "nodejs": "javascript",
    "ruby": "ruby",
    "php": "php",
    "perl": "perl",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline (CR is gone by then)
_BAD_UTF8_SHARE = 0.001  # at most one undecodable byte in a thousand is a stray, not another encoding


def language_of(name: str, head: bytes = b"") -> tuple[str | None, ChunkKind] | None:
    """The parser language and kind of a source or config file, from its name or, for a file
    without an extension, the ``#!`` line at the start of ``head``; None if it is neither."""
    base = PurePath(name).name.lower()
    if base in _NAMES:
        return _NAMES[base]
    for pattern, found in _NAME_PATTERNS:
        if pattern.fullmatch(base):
            return found
    suffix = PurePath(base).suffix
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if not suffix and (shebang := _SHEBANG.match(head)):
        interpreter = shebang.group(1).decode().lower()
        if interpreter in _INTERPRETERS:
            return _INTERPRETERS[interpreter], "code"
    return None


def load_code(data: bytes, name: str, max_bytes: int) -> list[Section]:
    """One Section holding the whole file, every line where it was (line n of the text is line n
    of the file), or none for a file of whitespace."""
    found = language_of(name, data[:256])
    language, kind = found if found else (None, "code")
    text = normalize_code(_decode(data, name))
    if not text.strip():
        return []
    return [Section(text, first_line=1, kind=kind, language=language)]


def normalize_code(text: str) -> str:
    """CRLF and CR become LF, trailing whitespace and control characters other than tab go; the
    number of lines stays (blank lines are kept, only those at the very end are dropped)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip("\n")


def _decode(data: bytes, name: str) -> str:
    """UTF-8 with the odd bad byte replaced by U+FFFD (a Latin-1 "é" in a comment must not turn
    the whole file into a guess); anything else as every text file (GB18030, a best guess)."""
    if b"\x00" not in data:
        text = data.decode("utf-8", "replace")
        bad = text.count("\ufffd") - data.decode("utf-8", "ignore").count("\ufffd")
        if bad <= max(1, _BAD_UTF8_SHARE * len(text)):
            return text.removeprefix("\ufeff")
    text = decode_text(data, name)
    if len(_CONTROL.findall(text)) > 0.05 * len(text):  # control characters: binary that decoded
        raise UnsupportedFile(name, "is not a text file (binary data or unknown encoding; a renamed file?)")
    return text
