"""python -m rag keys | users | serve as a person runs them: real subprocesses, a real server, the openai client."""

from __future__ import annotations

import subprocess
import sys

import openai
import pytest
from api_server import serving
from conftest import BOTH_BACKENDS, REPO, cli_env
from openai import OpenAI

from rag.config import Settings
from rag.users import UserStore
from scripts.browser import free_port


def rag(settings: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag", *args],
        cwd=REPO,
        env=cli_env(settings),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@BOTH_BACKENDS
def test_keys_then_serve_then_the_openai_client(settings: Settings, built_kb: str) -> None:
    created = rag(settings, "keys", "create", "--name", "ci")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("kba-") and len(key) > 40
    other = rag(settings, "keys", "create", "--name", "other-team", "--kb", "default", "--read-only")
    limited_key = other.stdout.strip().splitlines()[-1]
    listing = rag(settings, "keys", "list").stdout
    assert "ci\tread-write\t*" in listing and "other-team\tread-only\tdefault" in listing and key not in listing
    with serving(settings, key) as url:
        client = OpenAI(base_url=url, api_key=key, max_retries=0)
        assert {m.id for m in client.models.list()} == {"corpus", "default"}
        stream = client.chat.completions.create(
            model="corpus", messages=[{"role": "user", "content": "conda 怎么列出环境？"}], stream=True
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        cited = [s for s in chunks[-1].model_extra["sources"] if s["cited"]]
        assert "conda" in text and cited[0]["path"] == "setup_notes.md" and "conda" in cited[0]["text"]
        with pytest.raises(openai.AuthenticationError):
            OpenAI(base_url=url, api_key=key[:-2] + "xx", max_retries=0).models.list()
        with pytest.raises(openai.PermissionDeniedError):
            OpenAI(base_url=url, api_key=limited_key, max_retries=0).chat.completions.create(
                model="corpus", messages=[{"role": "user", "content": "conda?"}]
            )
    assert rag(settings, "keys", "revoke", "other-team").returncode == 0
    assert "other-team" not in rag(settings, "keys", "list").stdout


def test_serve_refuses_an_open_network_bind_without_keys(settings: Settings) -> None:
    refused = rag(settings, "serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert refused.returncode == 2
    assert "refusing to listen on 0.0.0.0" in refused.stderr and "keys create" in refused.stderr


def test_users_are_managed_without_passwords_on_the_command_line(settings: Settings) -> None:
    assert rag(settings, "users", "check").returncode == 1
    added = rag(
        settings,
        "users",
        "add",
        "alice",
        "--role",
        "editor",
        "--kb",
        "corpus",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert added.returncode == 0, added.stderr
    assert "editor of corpus" in added.stdout
    no_tty = rag(settings, "users", "add", "bob", stdin="")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    short = rag(settings, "users", "add", "bob", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "too short" in short.stderr
    oidc = rag(settings, "users", "add", "carol", "--no-password", "--email", "Carol@Example.org", "--role", "admin")
    assert oidc.returncode == 0, oidc.stderr
    assert rag(settings, "users", "list").stdout.splitlines() == [
        "alice\tcorpus=editor\t-\tpassword",
        "carol\t*=admin\tcarol@example.org\toidc only",
    ]
    store = UserStore(settings.data_dir)
    assert store.verify("alice", "correct horse battery") is not None
    assert rag(settings, "users", "passwd", "alice", "--password-stdin", stdin="a new long secret\n").returncode == 0
    assert store.verify("alice", "correct horse battery") is None and store.verify("alice", "a new long secret")
    assert b"a new long secret" not in store.path.read_bytes()
    assert rag(settings, "users", "check").returncode == 0
    assert rag(settings, "users", "remove", "alice").returncode == 0
    assert rag(settings, "users", "remove", "alice").returncode == 2
