"""API keys for the HTTP API: created and revoked on the command line, checked on every request.

A key is ``kba-`` + 32 random bytes (URL-safe base64), shown once when it is made. Only its
SHA-256 is stored (in ``<data_dir>/.auth/api_keys.json``): enough for a 256-bit random secret,
which no one can guess or search for, so a slow password hash would add nothing. Checking
compares the digest with every stored one in constant time. A key may be limited to some
knowledge bases and to reading.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.names import validate_kb_name
from rag.access import EVERY_KB, Principal, Role, is_loopback
from rag.authfiles import auth_dir, read_entries, update_entries

KEY_PREFIX = "kba-"
KEYS_FILE = "api_keys.json"
OPEN_BIND = (
    "refusing to listen on {host}: no API key exists, so anyone on the network could read and change "
    "every knowledge base. Create a key first (python -m rag keys create --name NAME), or listen on 127.0.0.1."
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True)
class ApiKey:
    """What is known about a key without the key itself."""

    name: str
    kbs: tuple[str, ...]  # empty: every knowledge base
    read_only: bool
    created_at: str

    def principal(self) -> Principal:
        """The key as a principal: reader when read-only, else admin, of its knowledge bases."""
        role: Role = "reader" if self.read_only else "admin"
        return Principal(self.name, {kb: role for kb in self.kbs or (EVERY_KB,)}, "key")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _key(name: str, entry: dict[str, Any]) -> ApiKey:
    return ApiKey(name, tuple(entry.get("kbs", ())), bool(entry.get("read_only")), str(entry.get("created_at", "")))


class KeyStore:
    """The API keys of one data dir. Reads are cached until the file changes."""

    def __init__(self, data_dir: Path) -> None:
        self.path = auth_dir(data_dir) / KEYS_FILE
        self._seen: tuple[int, int, int] | None = None
        self._keys: dict[str, Any] = {}

    def _entries(self) -> dict[str, Any]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            self._keys, self._seen = read_entries(self.path).get("keys", {}), seen
        return self._keys

    def create(self, name: str, kbs: tuple[str, ...] = (), read_only: bool = False) -> str:
        """Make a key called ``name`` and return it: the only time it exists outside the caller's hands.

        Raises ValueError for a bad or taken name and InvalidName for a bad knowledge-base name.
        """
        if not _NAME.match(name):
            raise ValueError(f"invalid key name {name!r}: letters, digits, '_', '-', '.', '@'; at most 64")
        kbs = tuple(dict.fromkeys(validate_kb_name(kb) for kb in kbs if kb != EVERY_KB))
        token = KEY_PREFIX + secrets.token_urlsafe(32)

        def add(entries: dict[str, Any]) -> None:
            keys = entries.setdefault("keys", {})
            if name in keys:
                raise ValueError(f"a key named {name!r} exists already: revoke it first or pick another name")
            keys[name] = {
                "sha256": _digest(token),
                "kbs": list(kbs),
                "read_only": read_only,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }

        update_entries(self.path, add)
        return token

    def revoke(self, name: str) -> bool:
        """Delete the key called ``name``; False when there was none."""
        return update_entries(self.path, lambda entries: entries.setdefault("keys", {}).pop(name, None) is not None)

    def list(self) -> list[ApiKey]:
        """Every key, by name."""
        return [_key(name, entry) for name, entry in sorted(self._entries().items())]

    def exists(self) -> bool:
        """Whether any key has been created (then every request must carry one)."""
        return bool(self._entries())

    def verify(self, token: str) -> ApiKey | None:
        """The key ``token`` is, or None. Every stored digest is compared, in constant time."""
        digest = _digest(token)
        found: ApiKey | None = None
        for name, entry in self._entries().items():
            if hmac.compare_digest(digest, str(entry.get("sha256", ""))):
                found = _key(name, entry)
        return found


def bind_refusal(keys: KeyStore, host: str) -> str | None:
    """Why the API may not listen on ``host`` (no key exists and it is not loopback), or None."""
    if is_loopback(host) or keys.exists():
        return None
    return OPEN_BIND.format(host=host)
