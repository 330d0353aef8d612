"""Errors that carry a one-line reason fit to show a person."""

from __future__ import annotations


class KnowledgeBaseError(Exception):
    """Base class: str(error) is the whole message a person needs."""


class InvalidName(KnowledgeBaseError):
    """A knowledge-base or file name that could escape its folder or is empty."""


class UnsupportedFile(KnowledgeBaseError):
    """A file the loaders cannot read (type, size, content)."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


class NoText(UnsupportedFile):
    """A readable file with nothing to index (empty, blank, a picture without text): left out of a
    project build without counting as a failure; still reported when it was added by name."""


class KnowledgeBaseNotFound(KnowledgeBaseError):
    """The named knowledge base has no folder or no index."""


class IndexMismatch(KnowledgeBaseError):
    """The index was written by another embedder or another version of this program."""


class KnowledgeBaseBusy(KnowledgeBaseError):
    """Another process holds the write lock for longer than the configured wait."""


class KnowledgeBaseReadOnly(KnowledgeBaseError):
    """A change was asked of a knowledge base this process may only read."""
