"""Quoted text in a question lifts the passages that hold it verbatim."""

from __future__ import annotations

from pathlib import Path

from ingest import pipeline
from ingest.embeddings import get_embedder
from rag.config import Settings
from rag.quoted import quoted_fragments, quoted_share
from rag.retrieve import Retriever


def test_quotes_of_every_kind_are_found_and_split_at_ellipses() -> None:
    assert quoted_fragments("报错“invalid dictionary entry in ... at Line ...”是什么意思") == [
        "invalid dictionary entry in",
        "at line",
    ]
    assert quoted_fragments('「台中」和『金庸全集』，`os.kill` 与 "Why  not\nArgparse?"') == [
        "台中",
        "金庸全集",
        "os.kill",
        "why not argparse?",
    ]
    assert quoted_fragments("the 'strict' flag") == ["strict"]


def test_apostrophes_and_one_character_quotes_are_not_quotes() -> None:
    assert quoted_fragments("don't use Click's parser") == []
    assert quoted_fragments("“a” 和 “……”") == []
    assert quoted_fragments("no quotes here") == []


def test_the_share_counts_characters_held_verbatim() -> None:
    fragments = quoted_fragments("“invalid dictionary entry in ... at Line ...”")
    assert quoted_share(fragments, "raise ValueError('invalid dictionary entry in %s at Line %s')") == 1.0
    assert quoted_share(fragments, "each Line of the dictionary: entry, invalid in") == 0.0
    assert 0 < quoted_share(fragments, "stopped at line 3") < 0.5
    assert quoted_share([], "anything") == 0.0


def test_a_quoted_error_message_brings_the_code_that_raises_it_first(tmp_path: Path) -> None:
    """Three notes use the message's words more than the loader does; only the loader holds it as written.
    The code-word search is off: it too brings the loader first (its keyword side only competes with
    code), and this is about what the quote alone does."""
    source = tmp_path / "project"
    source.mkdir()
    notes = "\n\n".join(
        f"## 报错 {n}\n\n报错是怎么回事？Each line of a dictionary is an entry, and an invalid one stops the load "
        f"(part {n})."
        for n in range(3)
    )
    (source / "notes.md").write_text(notes, encoding="utf-8")
    for n in range(8):  # other pages, so that the message's words are rare enough to count in BM25
        (source / f"other{n}.md").write_text(
            f"# 其他 {n}\n\n安装、升级与卸载的说明，第 {n} 部分：see line {n} of the file.", encoding="utf-8"
        )
    (source / "loader.py").write_text(
        "def load(path):\n"
        "    for number, line in enumerate(open(path), 1):\n"
        "        if ' ' not in line:\n"
        "            raise ValueError('invalid dictionary entry in %s at Line %s' % (path, number))\n",
        encoding="utf-8",
    )
    settings = Settings(
        data_dir=tmp_path / "kb", embedder="hashing", chunk_size=200, chunk_overlap=0, code_query_in_english=False
    )
    pipeline.build_from_folder(settings, "p", source)
    kb = pipeline.open_kb(settings, "p")
    question = "报错“invalid dictionary entry in ... at Line ...”是怎么回事？"
    try:
        quoted = Retriever(kb, get_embedder("hashing"), settings).ranked(question, 4)
        unquoted_settings = settings.model_copy(update={"quoted_text_share": 0})
        unquoted = Retriever(kb, get_embedder("hashing"), unquoted_settings).ranked(question, 4)
        in_code_words = unquoted_settings.model_copy(update={"code_query_in_english": True})
        unquoted_in_code_words = Retriever(kb, get_embedder("hashing"), in_code_words).ranked(question, 4)
    finally:
        kb.close()
    assert quoted[0].chunk.doc_name == "loader.py"
    assert unquoted[0].chunk.doc_name == "notes.md"  # without the quote, the notes' words win
    assert unquoted_in_code_words[0].chunk.doc_name == "loader.py"  # unless code is also searched in its words
    assert all(0 <= r.score <= 1 for r in quoted)
