"""Dependencies run one way, ui -> rag -> ingest: no module of ingest/ imports rag/ (nor ui/ or
the app), at module level or inside a function."""

from __future__ import annotations

import ast

from conftest import REPO

ABOVE_INGEST = ("rag", "ui", "app")


def imported_modules(source: str) -> list[str]:
    """Every module an ``import``, a ``from ... import`` or an ``importlib.import_module("...")``
    in ``source`` names (relative imports resolve inside their own package, so they are skipped)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append(node.args[0].value)
    return names


def test_imported_modules_sees_every_form_of_import() -> None:
    source = (
        "import rag.config\nfrom rag import chain\nfrom . import names\n"
        "def f():\n    import ui.chat\n    importlib.import_module('app')\n"
    )
    assert sorted(imported_modules(source)) == ["app", "rag", "rag.config", "ui.chat"]


def test_no_module_in_ingest_imports_from_the_layers_above() -> None:
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / "ingest").rglob("*.py"))
        for name in imported_modules(path.read_text(encoding="utf-8"))
        if name.split(".")[0] in ABOVE_INGEST
    ]
    assert len(list((REPO / "ingest").rglob("*.py"))) > 20
    assert offenders == []
