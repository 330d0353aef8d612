"""People who may sign in to the shared web app, with their roles per knowledge base.

Stored in ``<data_dir>/.auth/users.json``. A password is kept only as scrypt(password, salt)
with a random 16-byte salt per user and the cost parameters beside it (N=2^14, r=8, p=1: about
16 MB and tens of milliseconds per check, so guessing is slow). Checks compare in constant time,
and an unknown name costs the same scrypt as a known one. A user may have no password and sign
in only through the team's identity provider (OIDC), matched by e-mail address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.names import validate_kb_name
from rag.access import EVERY_KB, Principal, Role, parse_role
from rag.authfiles import auth_dir, read_entries, update_entries

USERS_FILE = "users.json"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
KEY_BYTES = 32
MIN_PASSWORD_CHARS = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_DUMMY_SALT = bytes(16)


@dataclass(frozen=True)
class User:
    """A user as the app sees one: never the password hash."""

    name: str
    roles: Mapping[str, Role]
    email: str | None = None
    has_password: bool = True

    def principal(self) -> Principal:
        """The user as a principal for rag.access.allowed."""
        return Principal(self.name, dict(self.roles), "user")


def _scrypt(password: str, salt: bytes, cost: Mapping[str, int]) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=cost["n"],
        r=cost["r"],
        p=cost["p"],
        maxmem=64 * 2**20,
        dklen=KEY_BYTES,
    )


def _password_entry(password: str) -> dict[str, Any]:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password too short: use at least {MIN_PASSWORD_CHARS} characters")
    salt = secrets.token_bytes(16)
    return {"salt": salt.hex(), "scrypt": _scrypt(password, salt, SCRYPT).hex(), **SCRYPT}


def _user(name: str, entry: dict[str, Any]) -> User:
    return User(name, dict(entry.get("roles", {})), entry.get("email"), "scrypt" in entry)


def _checked_roles(roles: Mapping[str, str]) -> dict[str, Role]:
    if not roles:
        raise ValueError("a user needs a role on at least one knowledge base (or '*')")
    return {kb if kb == EVERY_KB else validate_kb_name(kb): parse_role(role) for kb, role in roles.items()}


class UserStore:
    """The users of one data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.path = auth_dir(data_dir) / USERS_FILE

    def _entries(self) -> dict[str, Any]:
        return read_entries(self.path).get("users", {})

    def add(self, name: str, password: str | None, roles: Mapping[str, str], email: str | None = None) -> User:
        """Add a user; ``password`` None makes one who signs in only through OIDC (needs ``email``).

        Raises ValueError for a bad or taken name, a short password, an unknown role.
        """
        if not _NAME.match(name):
            raise ValueError(f"invalid user name {name!r}: letters, digits, '_', '-', '.', '@'; at most 64")
        if password is None and not email:
            raise ValueError("a user without a password signs in through OIDC: give their --email")
        entry: dict[str, Any] = {"roles": _checked_roles(roles)}
        if email:
            entry["email"] = email.strip().lower()
        if password is not None:
            entry.update(_password_entry(password))

        def add(entries: dict[str, Any]) -> None:
            users = entries.setdefault("users", {})
            if name in users:
                raise ValueError(f"user {name!r} exists already")
            users[name] = entry

        update_entries(self.path, add)
        return _user(name, entry)

    def remove(self, name: str) -> bool:
        """Delete a user; False when there was none."""
        return update_entries(self.path, lambda entries: entries.setdefault("users", {}).pop(name, None) is not None)

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password (new salt too); KeyError for an unknown user."""
        fresh = _password_entry(password)

        def change(entries: dict[str, Any]) -> None:
            users = entries.setdefault("users", {})
            if name not in users:
                raise KeyError(name)
            users[name].update(fresh)

        update_entries(self.path, change)

    def list(self) -> list[User]:
        """Every user, by name."""
        return [_user(name, entry) for name, entry in sorted(self._entries().items())]

    def get(self, name: str) -> User | None:
        """The user called ``name``, or None."""
        entry = self._entries().get(name)
        return _user(name, entry) if entry is not None else None

    def by_email(self, email: str) -> User | None:
        """The user whose e-mail is ``email`` (case-insensitive), for OIDC sign-ins; None if nobody."""
        wanted = email.strip().lower()
        found = [name for name, entry in self._entries().items() if entry.get("email") == wanted]
        return self.get(found[0]) if len(found) == 1 else None

    def verify(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else None; the same work either way."""
        entry = self._entries().get(name) or {}
        stored = entry.get("scrypt")
        salt = bytes.fromhex(entry["salt"]) if stored else _DUMMY_SALT
        cost = {k: int(entry[k]) for k in SCRYPT} if stored else SCRYPT
        computed = _scrypt(password, salt, cost)
        if stored and hmac.compare_digest(computed, bytes.fromhex(stored)):
            return _user(name, entry)
        return None
