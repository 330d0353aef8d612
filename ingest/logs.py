"""Library log lines go to a log file, not to the terminal: the CLIs' output stays their own.

pypdf, for one, logs "invalid pdf header" and "EOF marker not found" for damaged files, and
Python prints such records on stderr when nobody configured logging, beside the one-line reason
the CLI gives for the same file. ``route_library_logs`` sends every log record and every Python
warning to ``<data_dir>/.logs/kba.log`` instead (or drops them when that cannot be written).
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOG_NAME = "kba.log"


def route_library_logs(data_dir: Path) -> Path | None:
    """Configure logging for a command-line run; returns the log file, or None when none could be opened."""
    logging.captureWarnings(True)
    path: Path | None = data_dir / ".logs" / LOG_NAME
    handler: logging.Handler
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2**20, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    except OSError:
        handler, path = logging.NullHandler(), None
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    return path
