"""Identifiers are words: found by their exact name and by their parts, inside Chinese questions too."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from ingest.embeddings import HashingEmbedder
from ingest.keywords import identifier_terms, keyword_tokens
from ingest.stores import PreparedDocument
from ingest.stores.embedded import EmbeddedStore
from ingest.types import ChunkText
from ingest.windows import window_texts


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("load_model_on_gpus", ["load_model_on_gpus", "load", "model", "on", "gpus"]),
        ("os.Kill", ["os.kill", "os", "kill"]),
        ("HTTPX_LOG_LEVEL", ["httpx_log_level", "httpx", "log", "level"]),
        ("maxUploadSize", ["maxuploadsize", "max", "upload", "size"]),
        ("--pre_seq_len", ["pre_seq_len", "pre", "seq", "len"]),
        ("jieba.enable_parallel", ["jieba.enable_parallel", "jieba", "enable_parallel", "enable", "parallel"]),
        ("GPT-3.5", ["gpt-3.5", "gpt", "3.5"]),
        ("v1.2.3", ["v1.2.3"]),
        ("ChatGLM2-6B", ["chatglm2-6b", "chatglm2", "6b", "chat", "glm"]),
    ],
)
def test_an_identifier_is_one_term_and_its_parts(run: str, expected: list[str]) -> None:
    assert identifier_terms(run) == expected


def test_chinese_around_identifiers_still_goes_to_jieba() -> None:
    terms = keyword_tokens("load_model_on_gpus 这个函数是做什么的？")
    assert terms[:4] == ["load_model_on_gpus", "load", "model", "gpus"]  # "on" is a stopword
    assert "函数" in terms and "这个" not in terms


def _store(tmp_path: Path, texts: list[str]) -> EmbeddedStore:
    embedder = HashingEmbedder()
    kb = EmbeddedStore.create(tmp_path / "kb", embedder.name, embedder.dim)
    content = "\n".join(texts).encode()
    kb.apply(
        [
            PreparedDocument(
                "code.py",
                "py",
                len(content),
                hashlib.sha256(content).hexdigest(),
                [ChunkText(t, kind="code") for t in texts],
                [embedder.encode_passages(window_texts(t, 300)) for t in texts],
                content,
            )
        ]
    )
    return kb


CODE = [
    "def load_model_on_gpus(checkpoint_path, num_gpus=2):\n    model = load(checkpoint_path)\n    return model",
    "def load_model(path):\n    return AutoModel.from_pretrained(path)",
    "if os.name == 'nt':\n    os.kill(pid, signal.SIGTERM)",
    "HTTPX_LOG_LEVEL = os.environ.get('HTTPX_LOG_LEVEL')",
    "const maxUploadSize = 200 * 1024 * 1024;",
    "parser.add_argument('--pre_seq_len', type=int, default=128)",
]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("load_model_on_gpus 这个函数是做什么的？", 0),
        ("多卡加载模型用哪个函数：load model gpus", 0),
        ("os.kill 在哪里调用", 2),
        ("HTTPX_LOG_LEVEL 环境变量", 3),
        ("上传大小上限 max upload size 是多少", 4),
        ("--pre_seq_len 参数的默认值", 5),
    ],
)
def test_keyword_search_finds_code_by_exact_name_and_by_parts(tmp_path: Path, question: str, expected: int) -> None:
    kb = _store(tmp_path, CODE)
    [(best, _), *_] = kb.keyword_search(question, 3)
    assert kb.passages([best])[best].text == CODE[expected]
    kb.close()


def test_a_chinese_question_finds_english_code_through_the_glossary(tmp_path: Path) -> None:
    from rag.config import Settings
    from rag.retrieve import Retriever

    code = ["def del_word(self, word):\n    self.add_word(word, 0)", "def get_cache_file(self):\n    return self.cache"]
    kb = _store(tmp_path, code)
    on = Settings(retrieval_mode="keyword", embedder="hashing")
    [hit] = Retriever(kb, None, on).ranked("从词典里删掉一个词是怎么实现的？", 1)
    assert hit.chunk.text == code[0]
    off = on.model_copy(update={"code_glossary": False})
    assert all(r.chunk.text != code[0] for r in Retriever(kb, None, off).ranked("从词典里删掉一个词是怎么实现的？", 1))
    kb.close()


def test_the_code_query_is_a_chinese_question_in_the_words_of_code() -> None:
    from rag.glossary import code_query

    # Identifiers and English words as written, first; then the glossary's words for the Chinese terms.
    assert code_query("jieba.cut 的 HMM 参数默认开吗？") == "jieba.cut HMM arg args argument param params default"
    assert code_query("从词典里删掉一个词是怎么实现的？") == "dict dictionary del delete remove"
    assert code_query("删掉一个词，代码里怎么实现？") == "del delete remove word words token"  # 词 alone is word
    assert code_query("How does del_word work?") is None  # English already: searched as asked
    assert code_query("这是什么意思？") is None  # no word code would use


def test_glossary_terms_are_found_where_jieba_cuts_them_apart() -> None:
    from ingest.keywords import keyword_tokens
    from rag.glossary import code_query

    for question, term in (
        ("默认会过滤掉哪些中文停用词？", "停用词"),
        ("为什么被标记为弃用？", "弃用"),
        ("子命令的前缀怎么拼？", "子命令"),
    ):
        assert term not in keyword_tokens(question)  # jieba's words do not hold the term
    assert code_query("默认会过滤掉哪些中文停用词？") == "default filter chinese cjk han unicode stop_words stopwords"
    assert code_query("为什么被标记为弃用？") == "deprecated deprecation"
    assert code_query("子命令的前缀怎么拼？") == "subcommand group prefix startswith"
    assert code_query("这个参数表示什么？") == "arg args argument param params"  # 表 (table) only as a word


def test_every_glossary_line_maps_new_chinese_terms_to_english_words() -> None:
    from rag.glossary import GLOSSARY_FILE

    seen: set[str] = set()
    for number, line in enumerate(GLOSSARY_FILE.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        chinese, english = line.split(":")  # exactly one colon
        terms, words = chinese.split(), english.split()
        assert terms and words, f"line {number}: {line}"
        assert all(re.fullmatch(r"[\u3400-\u9fff]+", t) for t in terms), f"line {number}: {line}"
        assert all(re.fullmatch(r"[a-z0-9_.-]+", w) for w in words), f"line {number}: {line}"
        assert not seen & set(terms), f"line {number} repeats {seen & set(terms)}: a later line would replace it"
        seen |= set(terms)
