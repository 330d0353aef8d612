"""The API over a local ChatGLM2 (a tiny random checkpoint made at test time): one writer, the rest queue."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from api_server import running_api
from chatglm2_checkpoint import make_tiny_chatglm2
from openai import OpenAI

from rag.chain import Assistant
from rag.config import Settings
from rag.server import create_app


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_chatglm2(tmp_path_factory.mktemp("api") / "chatglm2", seq_length=2048)


@pytest.mark.slow
def test_chatglm2_writes_one_answer_at_a_time_and_honours_max_tokens(
    settings: Settings, built_kb: str, tiny_dir: Path
) -> None:
    local = settings.model_copy(update={"chatglm2_path": tiny_dir, "chatglm2_device": "cpu", "max_new_tokens": 48})
    assistant = Assistant(local)
    app = create_app(local, assistant)
    assert app.state.kba.admission.writers == 1 and app.state.kba.assistant.llm.model._llm_type == "chatglm2"
    with running_api(local, assistant) as url:
        client = OpenAI(base_url=url, api_key="-", max_retries=0)
        ask = [{"role": "user", "content": "conda 怎么列出环境？"}]
        replies: list[object] = []

        def short() -> None:
            replies.append(client.chat.completions.create(model="corpus", messages=ask, max_tokens=3, top_p=0.5))

        both = [threading.Thread(target=short) for _ in range(2)]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join(180)
        long = client.chat.completions.create(model="corpus", messages=ask, temperature=0.01)
    assert len(replies) == 2  # the second waited for the first, neither was refused
    for reply in replies:
        assert reply.usage.completion_tokens <= 6 and reply.usage.model_extra == {}  # type: ignore[attr-defined]
        assert reply.sources  # type: ignore[attr-defined]
    assert long.usage.completion_tokens > 12  # the configured 48, not the 3 asked for before
