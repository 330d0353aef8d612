"""A multipart/form-data request body -> files staged by ingest.uploads.stage_uploads, as it arrives.

The body is parsed as it is read (python-multipart's streaming parser) and each file part is
handed to ``stage_uploads`` as a stream of its own, so nothing is buffered whole and the
staging rules are the browser's: safe names, supported types, no duplicates, partial copies
deleted. A part, file or not, that grows past ``max_bytes`` stops the whole upload at once
(UploadTooLarge) before more of it is read; its partial copy is already gone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header

from ingest.pipeline import IncomingFile
from ingest.uploads import stage_uploads

ReadBlock = Callable[[], bytes]
"""Returns the next block of the request body; b"" at its end."""

MAX_FILES = 100


class UploadTooLarge(Exception):
    """A part of the upload is larger than the limit; says which and the limit."""


class NotMultipart(ValueError):
    """The request is not multipart/form-data with a boundary."""


def _boundary(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise NotMultipart("send the files as multipart/form-data, one part per file (field name 'files')")
    return options[b"boundary"]


class _PartStream:
    """The data of one part as a file-like ``read`` that pulls the body on demand."""

    def __init__(self, parts: _Parts) -> None:
        self._parts = parts
        self.ended = False

    def read(self, size: int = -1) -> bytes:
        """The next piece of the part (any length), b"" once it has ended."""
        while not self.ended:
            event = self._parts.next_event()
            if event is None or event[0] == "end":
                self.ended = True
            elif event[0] == "data":
                return event[1]
        return b""


class _Parts:
    """Pull adapter over the push parser: a queue of (kind, payload) events, refilled from the body."""

    def __init__(self, read_block: ReadBlock, boundary: bytes, max_bytes: int) -> None:
        self._read_block = read_block
        self._max_bytes = max_bytes
        self._events: deque[tuple[str, object]] = deque()
        self._header = [b"", b""]
        self._headers: dict[bytes, bytes] = {}
        self._size = 0
        self._finished = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": lambda data, start, end: self._add_header(0, data[start:end]),
                "on_header_value": lambda data, start, end: self._add_header(1, data[start:end]),
                "on_header_end": self._header_end,
                "on_headers_finished": lambda: self._events.append(("headers", dict(self._headers))),
                "on_part_data": self._data,
                "on_part_end": lambda: self._events.append(("end", None)),
            },
        )

    def _begin(self) -> None:
        self._headers, self._size = {}, 0

    def _add_header(self, which: int, data: bytes) -> None:
        self._header[which] += data

    def _header_end(self) -> None:
        self._headers[self._header[0].strip().lower()] = self._header[1].strip()
        self._header = [b"", b""]

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._size > self._max_bytes:
            name = self._file_name(self._headers) or "a form field"
            raise UploadTooLarge(f"{name}: larger than the {self._max_bytes / 2**20:g} MB limit; upload refused")
        self._events.append(("data", data[start:end]))

    @staticmethod
    def _file_name(headers: dict[bytes, bytes]) -> str | None:
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        raw = options.get(b"filename")
        return raw.decode("utf-8", "replace") if raw is not None else None

    def next_event(self) -> tuple[str, object] | None:
        """The next parser event, reading more of the body when none is queued; None at the end."""
        while not self._events and not self._finished:
            block = self._read_block()
            if block:
                self._parser.write(block)
            else:
                self._parser.finalize()
                self._finished = True
        return self._events.popleft() if self._events else None

    def files(self) -> Iterator[tuple[str, _PartStream]]:
        """(uploaded file name, its stream) per file part; other parts and unread data are skipped."""
        stream: _PartStream | None = None
        count = 0
        while True:
            while stream is not None and not stream.ended:
                stream.read()  # what stage_uploads did not read: a rejected file, or a form field
            event = self.next_event()
            if event is None:
                return
            if event[0] != "headers":
                continue
            name = self._file_name(event[1])  # type: ignore[arg-type]  # headers events carry the dict
            stream = _PartStream(self)
            if name is not None:
                count += 1
                if count > MAX_FILES:
                    raise UploadTooLarge(f"more than {MAX_FILES} files in one upload; send fewer at a time")
                yield name, stream


def stage_multipart(
    read_block: ReadBlock, content_type: str, folder: Path, max_bytes: int
) -> tuple[list[IncomingFile], list[tuple[str, str]]]:
    """Stage the files of a multipart body into ``folder``: (files to ingest, rejected (name, reason)).

    Raises NotMultipart, UploadTooLarge, or python-multipart's ParseError for a broken body.
    """
    parts = _Parts(read_block, _boundary(content_type), max_bytes)
    files = ((name, max_bytes, stream) for name, stream in parts.files())
    return stage_uploads(files, folder, max_bytes)
