"""Roles, keys and users: the rules both faces enforce, and how secrets are kept."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from rag.access import LOCAL, Principal, allowed, is_loopback, readable
from rag.apikeys import KeyStore, bind_refusal
from rag.server.limits import Admission, Busy
from rag.users import UserStore


def test_roles_grow_from_reader_to_admin_and_configure_needs_admin_of_everything() -> None:
    reader = Principal("r", {"docs": "reader"})
    editor = Principal("e", {"docs": "editor", "*": "reader"})
    admin = Principal("a", {"docs": "admin"})
    assert allowed(reader, "read", "docs") and not allowed(reader, "write", "docs")
    assert not allowed(reader, "read", "other")
    assert allowed(editor, "write", "docs") and not allowed(editor, "manage", "docs")
    assert allowed(editor, "read", "other") and not allowed(editor, "write", "other")
    assert allowed(admin, "manage", "docs") and not allowed(admin, "configure")  # admin of one KB only
    assert allowed(Principal("root", {"*": "admin"}), "configure") and allowed(LOCAL, "manage", "anything")
    assert allowed(Principal("x", {"*": "admin", "docs": "reader"}), "write", "docs")  # the higher role counts
    assert not allowed(admin, "read", None)
    assert readable(editor, ["docs", "other"]) == ["docs", "other"] and readable(reader, ["other", "docs"]) == ["docs"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("example.org", False),
        (None, False),
    ],
)
def test_loopback_addresses(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_keys_map_to_principals_and_gate_the_bind(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    assert bind_refusal(keys, "0.0.0.0") and bind_refusal(keys, "127.0.0.1") is None
    full = keys.verify(keys.create("full"))
    scoped = keys.verify(keys.create("scoped", ("a", "b"), read_only=True))
    assert full is not None and allowed(full.principal(), "manage", "anything")
    assert scoped is not None and scoped.principal().roles == {"a": "reader", "b": "reader"}
    assert keys.verify("kba-guessed") is None and bind_refusal(keys, "0.0.0.0") is None
    with pytest.raises(ValueError, match="exists already"):
        keys.create("full")
    with pytest.raises(ValueError, match="invalid key name"):
        keys.create("../x")


def test_concurrent_key_creation_loses_none(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    threads = [threading.Thread(target=keys.create, args=(f"k{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(k.name for k in KeyStore(tmp_path).list()) == sorted(f"k{i}" for i in range(8))


def test_passwords_are_salted_scrypt_hashes(tmp_path: Path) -> None:
    users = UserStore(tmp_path)
    users.add("ann", "same password", {"*": "reader"})
    users.add("ben", "same password", {"docs": "editor"}, email="Ben@Example.org")
    stored = json.loads(users.path.read_text())["users"]
    assert stored["ann"]["salt"] != stored["ben"]["salt"] and stored["ann"]["scrypt"] != stored["ben"]["scrypt"]
    assert stored["ann"]["n"] >= 2**14 and b"same password" not in users.path.read_bytes()
    assert users.verify("ann", "same password") is not None
    assert users.verify("ann", "Same password") is None and users.verify("nobody", "same password") is None
    assert users.by_email("ben@EXAMPLE.org").name == "ben"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown role"):
        users.add("cy", "long enough", {"*": "owner"})
    with pytest.raises(ValueError, match="--email"):
        users.add("dee", None, {"*": "reader"})


def test_admission_queues_then_refuses_with_a_retry_time() -> None:
    admission = Admission(writers=1, queued=1)
    first, second = admission.admit(), admission.admit()
    with pytest.raises(Busy) as busy:
        admission.admit()
    assert busy.value.retry_after_s >= 1 and admission.inside == 2
    first.release()
    first.release()  # twice is harmless
    assert admission.inside == 1
    admission.admit().release()
    second.release()
    assert admission.inside == 0
