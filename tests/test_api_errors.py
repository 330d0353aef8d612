"""Every error status of the API, in OpenAI's error shape, as stock clients see it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import openai
import pytest
from api_server import running_api
from fake_openai_server import FakeOpenAIServer
from openai import OpenAI

from rag.apikeys import KeyStore
from rag.config import Settings

QUESTION = "conda 怎么列出环境？"
ASK = [{"role": "user", "content": QUESTION}]


@pytest.fixture
def keys(settings: Settings) -> KeyStore:
    return KeyStore(settings.data_dir)


@pytest.fixture
def url(settings: Settings, built_kb: str, keys: KeyStore) -> Iterator[str]:
    keys.create("admin")
    with running_api(settings) as base:
        yield base


def _error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def test_401_without_a_key_or_with_a_wrong_one(url: str) -> None:
    missing = _error(httpx.get(f"{url}/models"), 401)
    assert missing["code"] == "missing_api_key" and "keys create" in missing["message"]
    with pytest.raises(openai.AuthenticationError) as wrong:
        OpenAI(base_url=url, api_key="kba-not-a-key", max_retries=0).models.list()
    assert wrong.value.code == "invalid_api_key"


def test_403_for_a_knowledge_base_the_key_is_not_limited_to(url: str, keys: KeyStore) -> None:
    other = OpenAI(base_url=url, api_key=keys.create("other", ("other",)), max_retries=0)
    assert [m.id for m in other.models.list()] == []  # it sees no model it may not use
    with pytest.raises(openai.PermissionDeniedError) as denied:
        other.chat.completions.create(model="corpus", messages=ASK)
    assert "corpus" in denied.value.message
    search = httpx.post(
        f"{url}/kbs/corpus/search", json={"query": "conda"}, headers={"Authorization": f"Bearer {other.api_key}"}
    )
    assert _error(search, 403)["type"] == "permission_error"
    with pytest.raises(openai.PermissionDeniedError):  # even for a name that does not exist: no peeking
        other.chat.completions.create(model="secret-project", messages=ASK)


def test_404_for_unknown_knowledge_bases_documents_and_jobs(url: str, keys: KeyStore) -> None:
    token = keys.create("full")
    client = OpenAI(base_url=url, api_key=token, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=ASK)
    auth = {"Authorization": f"Bearer {token}"}
    assert _error(httpx.delete(f"{url}/kbs/corpus/documents/nothing.md", headers=auth), 404)["code"]
    assert _error(httpx.get(f"{url}/jobs/0123", headers=auth), 404)["code"] == "job_not_found"
    assert _error(httpx.get(f"{url}/kbs/nope/documents", headers=auth), 404)["code"] == "kb_not_found"


def test_400_for_malformed_requests(url: str, keys: KeyStore) -> None:
    client = OpenAI(base_url=url, api_key=keys.create("full"), max_retries=0)
    cases = [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}, "messages"),
        ({"messages": ASK, "temperature": 7}, "temperature"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
        ({"messages": ASK, "n": 3}, "n"),
    ]
    for fields, param in cases:
        with pytest.raises(openai.BadRequestError) as bad:
            client.chat.completions.create(model="corpus", **fields)
        assert bad.value.param == param, (fields, bad.value.body)
    broken = httpx.post(
        f"{url}/chat/completions",
        content=b"{not json",
        headers={"Authorization": f"Bearer {client.api_key}", "Content-Type": "application/json"},
    )
    assert _error(broken, 400)["type"] == "invalid_request_error"


def test_503_when_the_configured_model_is_unavailable(settings: Settings, built_kb: str) -> None:
    unusable = settings.model_copy(update={"llm_backend": "openai"})  # no server URL given
    with running_api(unusable) as url:
        response = httpx.post(f"{url}/chat/completions", json={"model": "corpus", "messages": ASK})
    error = _error(response, 503)
    assert "KBA_OPENAI_BASE_URL" in error["message"] and "extractively" not in error["message"]


def test_503_when_the_model_server_fails_and_in_band_error_mid_stream(settings: Settings, built_kb: str) -> None:
    with (
        FakeOpenAIServer(mode="500") as llm,
        running_api(settings.model_copy(update={"openai_base_url": llm.base_url})) as url,
    ):
        with pytest.raises(openai.InternalServerError) as failed:
            OpenAI(base_url=url, api_key="-", max_retries=0).chat.completions.create(model="corpus", messages=ASK)
        assert failed.value.status_code == 503 and "HTTP 500" in failed.value.message
    with (
        FakeOpenAIServer(mode="broken_sse") as llm,
        running_api(settings.model_copy(update={"openai_base_url": llm.base_url})) as url,
    ):
        stream = OpenAI(base_url=url, api_key="-", max_retries=0).chat.completions.create(
            model="corpus", messages=ASK, stream=True
        )
        received: list[str] = []
        with pytest.raises(openai.APIError) as broke:
            for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "根据" and "not JSON" in broke.value.message


def test_429_with_retry_after_past_the_queue(settings: Settings, built_kb: str) -> None:
    with FakeOpenAIServer(mode="stall", delay_s=1.5) as llm:
        tight = settings.model_copy(
            update={"openai_base_url": llm.base_url, "api_max_concurrent": 1, "api_max_queued": 1}
        )
        with running_api(tight) as url:
            first = OpenAI(base_url=url, api_key="-", max_retries=0).chat.completions.create(
                model="corpus", messages=ASK, stream=True
            )
            next(iter(first))  # the one writer is busy: the fake server stalls mid-answer
            replies: list[httpx.Response] = []

            def ask() -> None:
                replies.append(
                    httpx.post(f"{url}/chat/completions", json={"model": "corpus", "messages": ASK}, timeout=30)
                )

            others = [threading.Thread(target=ask) for _ in range(2)]
            for thread in others:
                thread.start()
            for thread in others:
                thread.join(30)
            rest = "".join(chunk.choices[0].delta.content or "" for chunk in first)
    refused = [r for r in replies if r.status_code == 429]
    served = [r for r in replies if r.status_code == 200]
    assert len(refused) == 1 and len(served) == 1, [r.text for r in replies]  # one waited, one was refused
    error = _error(refused[0], 429)
    assert error["type"] == "rate_limit_error" and int(refused[0].headers["Retry-After"]) >= 1
    assert served[0].json()["choices"][0]["message"]["content"] == "根据资料，答案是 42。[1]"
    assert rest.endswith("[1]")
