"""Reaching Milvus: which one the settings name, one shared client per process, one-line errors.

``milvus_uri`` that starts with http://, https://, tcp:// or unix: is a server or a cluster; any
other value is a Milvus Lite file (a path ending in .db), which pymilvus serves from a gRPC server
inside this process. Milvus Lite locks its file, so one process at a time can use it: when the last
store of a process closes, its Lite server is stopped and the file unlocked for the next process
(the CLI while no app runs, a test's subprocess).

Every call goes through ``Milvus``, which turns pymilvus's exceptions into KnowledgeBaseError with
one line naming the URI: the CLI and the HTTP API show that line, never a traceback.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ingest.errors import KnowledgeBaseError
from ingest.settings import IngestSettings

SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")
TIMEOUT_S = 30.0  # per call: a server that does not answer is reported instead of waited for
QUERY_BATCH = 16_384  # Milvus returns at most this many rows per query
IN_BATCH = 1_000  # values per "field in [...]" filter
# pymilvus pings every 10 s even when idle; Lite's in-process gRPC server allows one ping per 5 minutes
# without calls and answers more with GOAWAY "too_many_pings", printed on stderr by the C core (a CLI
# build that embeds for minutes showed it). In one process keepalive finds nothing to detect.
LITE_CHANNEL = {"grpc.keepalive_time_ms": 2**31 - 1, "grpc.keepalive_permit_without_calls": False}
T = TypeVar("T")
_PLAIN = re.compile(r"[\w.\-]+")


@dataclass(frozen=True)
class Target:
    """One Milvus: its URI (for Lite, the absolute path of its file) and credentials."""

    uri: str
    token: str = ""

    @property
    def lite(self) -> bool:
        return not self.uri.startswith(SERVER_SCHEMES)

    def describe(self) -> str:
        return f"the Milvus Lite file {self.uri}" if self.lite else f"Milvus at {self.uri}"


def target_of(settings: IngestSettings) -> Target:
    """The Milvus these settings name (Milvus Lite in <data_dir>/milvus.db when none is set)."""
    uri = settings.milvus_uri.strip() or str(settings.data_dir / "milvus.db")
    if not uri.startswith(SERVER_SCHEMES):
        if not uri.endswith(".db"):
            raise KnowledgeBaseError(
                f"KBA_MILVUS_URI {uri!r} is neither a server address (http://host:19530) nor a Milvus Lite "
                "file (a path ending in .db)"
            )
        uri = str(Path(uri).expanduser().resolve())
    return Target(uri, settings.milvus_token or "")


class Milvus:
    """A shared pymilvus client for one target; every method raises KnowledgeBaseError on failure."""

    def __init__(self, target: Target, client: Any) -> None:
        self.target, self.client = target, client

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``client.<method>(*args, **kwargs)``, its failure said in one line."""
        return guarded(self.target, lambda: getattr(self.client, method)(*args, **kwargs))

    def rows(self, collection: str, expr: str, fields: list[str]) -> list[dict]:
        """Every row matching ``expr`` (one query when they are few, an iterator past QUERY_BATCH)."""
        found = self.call("query", collection, filter=expr, output_fields=fields, limit=QUERY_BATCH)
        if len(found) < QUERY_BATCH:
            return found
        iterator = self.call("query_iterator", collection, batch_size=QUERY_BATCH, filter=expr, output_fields=fields)
        found = []
        try:
            while batch := guarded(self.target, iterator.next):
                found += batch
        finally:
            iterator.close()
        return found

    def rows_in(
        self, collection: str, field: str, values: Iterable[int | str], fields: list[str], also: str = ""
    ) -> list[dict]:
        """Rows whose ``field`` is one of ``values`` (and that match ``also``), IN_BATCH values a query."""
        distinct = sorted(set(values))
        found: list[dict] = []
        for start in range(0, len(distinct), IN_BATCH):
            part = ", ".join(_rendered(v) for v in distinct[start : start + IN_BATCH])
            found += self.rows(collection, f"{field} in [{part}]" + (f" and ({also})" if also else ""), fields)
        return found


def literal(value: str) -> str:
    """``value`` as a string literal of a filter expression. Only knowledge-base names and hex
    digests are ever put in one (document names never are), and nothing else is accepted."""
    if not _PLAIN.fullmatch(value):
        raise ValueError(f"not a plain name or digest: {value!r}")
    return f'"{value}"'


def _rendered(value: int | str) -> str:
    return literal(value) if isinstance(value, str) else str(int(value))


_clients: dict[Target, tuple[Any, int]] = {}
_clients_lock = threading.Lock()


def connect(target: Target) -> Milvus:
    """The process's client for ``target`` (opened on first use); pair every call with ``disconnect``."""
    with _clients_lock:
        client, users = _clients.get(target, (None, 0))
        if client is None:
            client = _open_client(target)
        _clients[target] = (client, users + 1)
        return Milvus(target, client)


def disconnect(target: Target) -> None:
    """Give back a client from ``connect``; the last one closes it (and unlocks a Lite file)."""
    with _clients_lock:
        client, users = _clients.get(target, (None, 0))
        if client is None:
            return
        if users > 1:
            _clients[target] = (client, users - 1)
            return
        del _clients[target]
        # still under the lock: a connect racing this would get the stopping server, or find the
        # Lite file still locked by it
        client.close()
        if target.lite:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(target.uri)


def guarded(target: Target, work: Callable[[], T]) -> T:
    """Run ``work``; a pymilvus or gRPC failure becomes one KnowledgeBaseError line naming ``target``."""
    from pymilvus.exceptions import MilvusException

    try:
        return work()
    except MilvusException as error:
        raise KnowledgeBaseError(f"{target.describe()} failed: {_reason(error)}") from None
    except (OSError, RuntimeError) as error:  # grpc's errors derive from these
        raise KnowledgeBaseError(f"{target.describe()} failed: {' '.join(str(error).split())}") from None


def _open_client(target: Target) -> Any:
    from pymilvus import MilvusClient

    _quiet_pymilvus()
    if target.lite:
        Path(target.uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        options = LITE_CHANNEL if target.lite else {}
        return MilvusClient(uri=target.uri, token=target.token, timeout=TIMEOUT_S, grpc_options=options)
    except Exception as error:  # pymilvus raises several unrelated types for one cause: cannot connect
        if target.lite and _lite_file_in_use(Path(target.uri)):
            raise KnowledgeBaseError(
                f"cannot open {target.describe()}: another process is using it (Milvus Lite serves one "
                "process at a time; stop the other one, or use a Milvus server to share knowledge bases)"
            ) from None
        raise KnowledgeBaseError(f"cannot reach {target.describe()}: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error)
    return " ".join(str(message).split())


def _lite_file_in_use(path: Path) -> bool:
    """Whether another process holds Milvus Lite's lock on ``path``."""
    lock = path / "LOCK"
    try:
        import fcntl
    except ImportError:  # Windows: Milvus Lite locks with msvcrt there; say the general reason
        return False
    if not lock.is_file():
        return False
    descriptor = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return False
    finally:
        os.close(descriptor)


def _quiet_pymilvus() -> None:
    """pymilvus gives its loggers their own stderr handlers when imported; send their records to the
    root logger instead, so ingest.logs routes them to the log file like every library's."""
    for name in ("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
