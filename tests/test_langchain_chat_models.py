"""LangChain's standard chat-model suites (langchain-tests) on ExtractiveChat and ChatGLM2Chat.

ChatGLM2Chat runs on the tiny random checkpoint (tests/chatglm2_checkpoint.py) loaded through the
real loader, so its answers are gibberish but real tokens of the real generation loop.

Skips: the suites skip a test when a capability flag below is False. Each flag that is False
names a capability these models do not have:
- tool calling, tool choice, structured output, JSON mode: neither model calls tools or follows
  a schema (ChatGLM2-6B has no function calling; the extractive model only quotes sources);
- image, PDF and audio inputs, image / PDF tool messages, Anthropic-style inputs: text only;
- model override per call: one instance is one loaded model (ChatGLM2's weights), there is no
  other model to switch to by name;
- init from environment variables (test_init_from_env): the models are built from
  rag.config.Settings by rag.llm.factory, never from variables of their own;
- serialisation (test_serdes): ChatGLM2Chat holds torch weights, and neither model is built
  from LangChain's serialised form (is_lc_serializable is False);
- recorded HTTP (test_stream_time, "VCR not set up"): the models make no HTTP calls to record.

Constructor defaults: the unit suite constructs every model with LangChain's standard parameters
(temperature, max_tokens, timeout, stop, max_retries, api_key). Our models reject parameters
they do not have, so ``standard_chat_model_params`` leaves out: ``max_retries`` and ``api_key``
for both (they run in this process: no server to sign in to, no request to retry), and
``temperature`` and ``timeout`` for ExtractiveChat (nothing is sampled; it answers in
milliseconds).
"""

from __future__ import annotations

from typing import Any

import pytest
from chatglm2_checkpoint import make_tiny_chatglm2
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests
from pydantic import ValidationError

from ingest.types import StoredChunk
from rag.llm.chatglm2 import ChatGLM2Chat, load_chatglm2, split_messages
from rag.llm.extractive import ExtractiveChat
from rag.prompts import build_messages
from rag.types import Citation

IN_PROCESS_ONLY = ("max_retries", "api_key")
NOT_SAMPLED = ("temperature", "timeout")


@pytest.fixture(scope="module")
def tiny_chatglm2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    directory = make_tiny_chatglm2(tmp_path_factory.mktemp("lc") / "chatglm2", seq_length=80)
    return load_chatglm2(directory, device="cpu", dtype="float32")


class TextOnlyCapabilities:
    """The capability flags both models share (see the module docstring for each reason)."""

    has_tool_calling = False
    has_tool_choice = False
    has_structured_output = False
    supports_json_mode = False
    supports_image_inputs = False
    supports_image_urls = False
    supports_image_tool_message = False
    supports_pdf_inputs = False
    supports_pdf_tool_message = False
    supports_audio_inputs = False
    supports_video_inputs = False
    supports_anthropic_inputs = False
    supports_model_override = False
    returns_usage_metadata = True


def _without(params: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in names}


class ExtractiveSuite(TextOnlyCapabilities):
    @property
    def chat_model_class(self) -> type[ExtractiveChat]:
        return ExtractiveChat

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        return _without(super().standard_chat_model_params, IN_PROCESS_ONLY + NOT_SAMPLED)  # type: ignore[misc]


class TestExtractiveUnit(ExtractiveSuite, ChatModelUnitTests):
    pass


class TestExtractiveIntegration(ExtractiveSuite, ChatModelIntegrationTests):
    pass


class ChatGLM2Suite(TextOnlyCapabilities):
    @pytest.fixture(autouse=True)
    def _weights(self, tiny_chatglm2: tuple[Any, Any]) -> None:
        self.weights = tiny_chatglm2

    @property
    def chat_model_class(self) -> type[ChatGLM2Chat]:
        return ChatGLM2Chat

    @property
    def chat_model_params(self) -> dict[str, Any]:
        model, tokenizer = self.weights
        # Greedy (the same tokens every run) in a small window: the suite's longest prompt takes 63
        # tokens, and a model built without max_tokens stops at the window.
        return {"model": model, "tokenizer": tokenizer, "temperature": 0, "context_window": 80}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # The integration suite passes none; 8 tokens per answer keep its ~40 answers fast.
        standard = super().standard_chat_model_params or {"max_tokens": 8}  # type: ignore[misc]
        return _without(standard, IN_PROCESS_ONLY)


class TestChatGLM2Unit(ChatGLM2Suite, ChatModelUnitTests):
    pass


class TestChatGLM2Integration(ChatGLM2Suite, ChatModelIntegrationTests):
    pass


@pytest.fixture
def chatglm2(tiny_chatglm2: tuple[Any, Any]) -> ChatGLM2Chat:
    model, tokenizer = tiny_chatglm2
    return ChatGLM2Chat(model=model, tokenizer=tokenizer, temperature=0, max_tokens=5, context_window=80)


def test_chatglm2_max_tokens_is_honoured_at_construction_and_per_call(chatglm2: ChatGLM2Chat) -> None:
    built = chatglm2.invoke("hi")
    assert (built.usage_metadata or {})["output_tokens"] == 5
    assert built.response_metadata == {"finish_reason": "length", "model_name": "chatglm2-6b"}
    per_call = chatglm2.invoke("hi", max_tokens=2)
    assert (per_call.usage_metadata or {})["output_tokens"] == 2
    assert str(built.content).startswith(str(per_call.content))  # greedy: the same first tokens


def test_chatglm2_timeout_ends_the_answer_between_tokens(chatglm2: ChatGLM2Chat) -> None:
    late = chatglm2.invoke("hi", timeout=1e-9)  # already past when the first token would start
    assert (late.content, late.response_metadata["finish_reason"]) == ("", "timeout")
    assert (chatglm2.model_copy(update={"timeout": 60}).invoke("hi").usage_metadata or {})["output_tokens"] == 5


def test_chatglm2_rejects_parameters_it_does_not_have(chatglm2: ChatGLM2Chat) -> None:
    with pytest.raises(ValidationError, match="max_new_tokens"):
        ChatGLM2Chat(model=chatglm2.model, tokenizer=chatglm2.tokenizer, max_new_tokens=5)
    with pytest.raises(TypeError, match="does not take 'max_new_tokens'"):
        chatglm2.invoke("hi", max_new_tokens=2)


def test_chatglm2_reports_standard_params_for_tracing(chatglm2: ChatGLM2Chat) -> None:
    traced = chatglm2.model_copy(update={"stop": ["。"]})._get_ls_params()
    assert traced == {
        "ls_provider": "chatglm2",
        "ls_model_name": "chatglm2-6b",
        "ls_model_type": "chat",
        "ls_temperature": 0,
        "ls_max_tokens": 5,
        "ls_stop": ["。"],
    }


def test_chatglm2_merges_consecutive_messages_of_one_role() -> None:
    messages = [
        SystemMessage("rules"),
        SystemMessage("more rules"),
        HumanMessage("q1"),
        HumanMessage("q1 again"),
        AIMessage("a1"),
        AIMessage("a1 more"),
        HumanMessage("q2"),
    ]
    assert split_messages(messages) == ("rules\n\nmore rules\n\nq2", [("q1\n\nq1 again", "a1\n\na1 more")])
    assert split_messages([AIMessage("hello"), HumanMessage("q")]) == ("q", [("", "hello")])
    with pytest.raises(ValueError, match="end with the user's question"):
        split_messages([HumanMessage("q"), AIMessage("a")])


def test_extractive_max_tokens_and_stop_cut_the_quote_in_characters() -> None:
    messages = build_messages([Citation(1, StoredChunk(1, "a.md", 0, SOURCE), 1.0)], [], "How cold is the chip?")
    whole = ExtractiveChat().invoke(messages)
    assert whole.content == "The dilution refrigerator cools the chip to 15 millikelvin. [1]"
    assert whole.response_metadata == {"finish_reason": "stop", "model_name": "extractive"}
    cut = ExtractiveChat(max_tokens=10).invoke(messages)
    assert (cut.content, cut.response_metadata["finish_reason"]) == ("The diluti", "length")
    assert (cut.usage_metadata or {})["output_tokens"] == 10
    assert ExtractiveChat().invoke(messages, stop=[" cools"]).content == "The dilution refrigerator"
    with pytest.raises(ValidationError, match="temperature"):
        ExtractiveChat(temperature=0)


SOURCE = "The dilution refrigerator cools the chip to 15 millikelvin. Cables are made of copper."
