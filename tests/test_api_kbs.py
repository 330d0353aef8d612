"""Knowledge-base management over HTTP: create, upload (hostile names, oversize), jobs, search, delete."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_server import running_api
from conftest import BOTH_BACKENDS

from ingest.pipeline import IncomingFile, add_files, open_kb, rebuild
from rag.apikeys import KeyStore
from rag.config import Settings

NOTE = "# 蓝鲸手册\n\n蓝鲸项目的发布窗口是每周四下午三点，发布前需要值班经理签字。\n".encode()
OTHER = "# 运维\n\n备份每天凌晨两点开始，保留三十天。\n".encode()


@pytest.fixture
def keys(settings: Settings) -> KeyStore:
    return KeyStore(settings.data_dir)


@pytest.fixture
def client(settings: Settings, built_kb: str, keys: KeyStore) -> Iterator[httpx.Client]:
    token = keys.create("admin")
    with running_api(settings) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        yield http


def _finished(client: httpx.Client, job: dict) -> dict:
    deadline = time.monotonic() + 30
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = client.get(f"/jobs/{job['id']}").json()
    assert job["state"] == "succeeded", job
    return job


def _upload(client: httpx.Client, kb: str, *files: tuple[str, bytes]) -> httpx.Response:
    return client.post(f"/kbs/{kb}/documents", files=[("files", (name, data, "text/plain")) for name, data in files])


def _raw_multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "kba-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n\r\n'.encode()
        + data
        + b"\r\n"
        for name, data in files
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _names(client: httpx.Client, kb: str) -> list[str]:
    return [doc["name"] for doc in client.get(f"/kbs/{kb}/documents").json()["data"]]


@BOTH_BACKENDS
def test_create_upload_search_delete_and_rebuild(client: httpx.Client) -> None:
    created = client.post("/kbs", json={"name": "项目_a"})
    assert created.status_code == 201 and created.json()["documents"] == 0
    assert client.post("/kbs", json={"name": "项目_a"}).status_code == 409
    assert client.post("/kbs", json={"name": "../etc"}).json()["error"]["code"] == "invalid_name"
    accepted = _upload(client, "项目_a", ("蓝鲸.md", NOTE), ("ops.txt", OTHER))
    assert accepted.status_code == 202
    job = _finished(client, accepted.json())
    assert sorted(job["result"]["added"]) == ["ops.txt", "蓝鲸.md"] and job["failures"] == []
    assert job["kind"] == "upload" and job["stage"] == "index" and job["done"] == job["total"]
    assert job["progress"] == 1.0
    assert sorted(_names(client, "项目_a")) == ["ops.txt", "蓝鲸.md"]
    assert {kb["name"] for kb in client.get("/kbs").json()["data"]} == {"corpus", "项目_a"}

    found = client.post("/kbs/项目_a/search", json={"query": "蓝鲸项目什么时候发布", "top_k": 2}).json()["data"]
    assert found[0]["path"] == "蓝鲸.md" and found[0]["rank"] == 1 and "每周四" in found[0]["text"]
    assert found[0]["score"] >= found[-1]["score"] and {"location", "lines", "chunk_id"} <= set(found[0])

    assert client.delete("/kbs/项目_a/documents/ops.txt").json()["deleted"]
    assert _names(client, "项目_a") == ["蓝鲸.md"]
    rebuilt = _finished(client, client.post("/kbs/项目_a/rebuild").json())
    assert rebuilt["result"]["added"] == ["蓝鲸.md"]
    assert client.delete("/kbs/项目_a").json()["deleted"]
    assert [kb["name"] for kb in client.get("/kbs").json()["data"]] == ["corpus"]


def test_hostile_file_names_stay_inside_the_knowledge_base(client: httpx.Client, settings: Settings) -> None:
    hostile = [
        ("../../etc/passwd", b"root:x:0:0"),
        ("../../etc/passwd.txt", NOTE),
        ("a\x00b\x07c.txt", OTHER),
        ("x" * 300 + ".txt", OTHER),
        ("蓝" * 300 + ".md", NOTE),
        ("CON.txt", OTHER),
        ("..\\..\\windows\\win.md", NOTE),
    ]
    body, content_type = _raw_multipart(hostile)  # raw bytes: httpx would percent-encode the control characters
    job = _finished(
        client, client.post("/kbs/corpus/documents", content=body, headers={"Content-Type": content_type}).json()
    )
    names = _names(client, "corpus")
    assert {"passwd.txt", "a_b_c.txt", "_CON.txt", "win.md"} <= set(names)  # CON is reserved on Windows
    long_names = [n for n in names if n.startswith(("xxxx", "蓝蓝蓝"))]  # cut to 200 bytes, the type kept
    assert sorted(n[-4:] for n in long_names) == [".txt", "~.md"] and all(len(n.encode()) <= 200 for n in long_names)
    assert all("/" not in name and "\\" not in name and len(name.encode()) <= 200 for name in names)
    assert [(f["file"], f["reason"][:21]) for f in job["failures"]] == [("../../etc/passwd", "unsupported file type")]
    outside = [p for p in settings.data_dir.parent.rglob("*") if p.name in {"passwd", "passwd.txt", "win.md"}]
    assert all(settings.data_dir / "corpus" in p.parents for p in outside), outside
    assert not list((settings.data_dir / ".uploads").iterdir())


def test_an_oversize_file_is_refused_with_413_and_nothing_is_left(settings: Settings, built_kb: str) -> None:
    small = settings.model_copy(update={"max_file_mb": 0.01})  # 10 KB
    with running_api(small) as url:
        response = httpx.post(
            f"{url}/kbs/corpus/documents",
            files=[("files", ("fine.txt", OTHER)), ("files", ("big.txt", b"x" * 200_000))],
        )
    error = response.json()["error"]
    assert response.status_code == 413 and "big.txt" in error["message"] and error["type"] == "request_too_large"
    uploads = settings.data_dir / ".uploads"
    assert not uploads.exists() or not list(uploads.rglob("*"))
    kb = open_kb(settings, "corpus")
    assert "fine.txt" not in kb.document_hashes()
    kb.close()


def test_read_only_and_kb_limited_keys(client: httpx.Client, keys: KeyStore, settings: Settings) -> None:
    client.post("/kbs", json={"name": "other"})
    reader = {"Authorization": f"Bearer {keys.create('reader', read_only=True)}"}
    assert client.post("/kbs/corpus/search", json={"query": "conda"}, headers=reader).status_code == 200
    for refused in (
        client.post("/kbs/corpus/documents", files=[("files", ("n.txt", NOTE))], headers=reader),
        client.delete("/kbs/corpus/documents/product_faq.txt", headers=reader),
        client.post("/kbs/corpus/rebuild", headers=reader),
        client.post("/kbs", json={"name": "mine"}, headers=reader),
    ):
        assert refused.status_code == 403, refused.text
    limited = {"Authorization": f"Bearer {keys.create('limited', ('other',))}"}
    assert [kb["name"] for kb in client.get("/kbs", headers=limited).json()["data"]] == ["other"]
    assert _upload_with(client, "other", limited).status_code == 202
    assert _upload_with(client, "corpus", limited).status_code == 403
    assert client.delete("/kbs/corpus", headers=limited).status_code == 403
    assert "product_faq.txt" in _names(client, "corpus")


def _upload_with(client: httpx.Client, kb: str, headers: dict[str, str]) -> httpx.Response:
    return client.post(f"/kbs/{kb}/documents", files=[("files", ("n.txt", NOTE))], headers=headers)


def test_keys_are_stored_hashed(client: httpx.Client, keys: KeyStore, settings: Settings) -> None:
    token = keys.create("secret-holder", ("corpus",), read_only=True)
    assert client.get("/models", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    secret = token.encode()
    stored = [p for p in settings.data_dir.rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert stored == [] and keys.path.is_file()
    assert (keys.path.stat().st_mode & 0o777) == 0o600
    assert keys.revoke("secret-holder")
    assert client.get("/models", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_docs_are_served(client: httpx.Client) -> None:
    assert "swagger" in httpx.get(str(client.base_url).removesuffix("/v1/") + "/docs").text.lower()
    paths = httpx.get(str(client.base_url).removesuffix("/v1/") + "/openapi.json").json()["paths"]
    assert {"/v1/chat/completions", "/v1/models", "/v1/kbs/{kb}/search", "/v1/jobs/{job_id}"} <= set(paths)


def test_uploads_left_by_a_failed_ingest_are_cleaned(client: httpx.Client, settings: Settings) -> None:
    job = _finished(client, _upload(client, "corpus", ("empty.md", b"   \n")).json())
    assert [f["file"] for f in job["failures"]] == ["empty.md"] and job["result"]["added"] == []
    assert not any(Path(settings.data_dir / ".uploads").iterdir())


@BOTH_BACKENDS
def test_a_knowledge_base_rebuilt_by_another_process_is_reopened(client: httpx.Client, settings: Settings) -> None:
    assert client.post("/kbs/corpus/search", json={"query": "conda"}).json()["data"]  # opened by the server
    rebuild(settings, "corpus")  # as the app or the CLI would: a new folder swapped in
    note = settings.data_dir.parent / "长颈鹿.md"
    note.write_text("# 笔记\n\n紫色长颈鹿住在命令行里。", encoding="utf-8")
    add_files(settings, "corpus", [IncomingFile("长颈鹿.md", note)])
    found = client.post("/kbs/corpus/search", json={"query": "紫色长颈鹿", "top_k": 1}).json()["data"]
    assert found[0]["path"] == "长颈鹿.md"
