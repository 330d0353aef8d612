"""Citation links and highlighted sources: the right anchors, and no model or document text becomes markup."""

from __future__ import annotations

from ingest.types import StoredChunk
from rag.markup import (
    highlight_html,
    highlight_spans,
    link_citations,
    ordered_sources,
    question_html,
    question_terms,
    source_anchor,
    source_card_html,
)
from rag.types import Answer, Citation, Timings


def _citation(number: int, text: str = "文本", name: str = "a.md", heading: str | None = None) -> Citation:
    return Citation(number, StoredChunk(number, name, 0, text, None, heading), 0.5)


def test_citations_become_links_to_their_cards() -> None:
    anchors = {1: source_anchor(0, 1), 2: source_anchor(0, 2)}
    html = link_citations("答案是 42。[1] 另见【2】和 [1, 2]。", anchors.get)
    assert html.count('href="#kba-t0-s1"') == 2
    assert html.count('href="#kba-t0-s2"') == 2
    assert html.count('<sup class="kba-cite">') == 3


def test_unknown_citation_is_shown_but_not_linked() -> None:
    html = link_citations("见 [7]。", {1: "x"}.get)
    assert "href" not in html
    assert 'kba-cite-missing">&#91;7&#93;' in html


def test_model_text_cannot_inject_markup_links_or_math() -> None:
    html = link_citations(
        "<script>alert(1)</script> <img src=x onerror=alert(1)> ![t](http://e/x) [a](javascript:x) $5 and $6 [1]"
    )
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert "&lt;script&gt;" in html and "![t](http://e/x)" in html  # shown as text, never fetched or linked
    assert "$" not in html and "&#36;5" in html


def test_markup_that_only_looks_like_code_is_escaped_too() -> None:
    # An escaped backtick opens no code span: the regex-based version passed this <img> through.
    html = link_citations("见 \\`<img src=http://127.0.0.1:9/t.png>`")
    assert "<img" not in html and "&lt;img src=http://127.0.0.1:9/t.png&gt;" in html
    html = link_citations("和 `<style>body{display:none}</style>`")
    assert "<style" not in html and "<code>&lt;style&gt;body{display:none}&lt;/style&gt;</code>" in html


def test_entities_and_link_definitions_stay_as_written() -> None:
    html = link_citations("&lt;b&gt; 与 &amp;\n\n[1]: http://evil.example")
    assert "&amp;lt;b&amp;gt; 与 &amp;amp;" in html  # shown as "&lt;b&gt; 与 &amp;", never as <b>
    assert "<a " not in html


def test_output_is_one_raw_html_block() -> None:
    html = link_citations("第一段。\n\n```\na\n\nb\n```\n\n- 列表 [1]")
    assert "\n" not in html and html.startswith('<div class="kba-answer">') and html.endswith("</div>")
    assert "<pre><code>a&#10;&#10;b&#10;</code></pre>" in html and "<li>列表 <sup" in html


def test_code_is_kept_verbatim() -> None:
    text = "运行 `conda env list` 或：\n```\nif a < b: print([1])\n```\n完成 [1]"
    html = link_citations(text, {1: "s1"}.get)
    assert "<code>conda env list</code>" in html
    assert "if a &lt; b: print([1])" in html  # code shown literally: escaped, no link
    assert html.count('href="#s1"') == 1


def test_unclosed_fence_while_streaming_stays_code() -> None:
    assert "<pre><code>&lt;b&gt;</code></pre>" in link_citations("```\n<b>")


def test_question_is_rendered_without_citation_links() -> None:
    html = question_html("<img src=x> 是 [1] 吗？")
    assert "<img" not in html and "&lt;img src=x&gt;" in html and "kba-cite" not in html


def test_question_terms_prefer_words_over_single_characters() -> None:
    terms = question_terms("conda 怎么列出环境？")
    assert "conda" in terms and "环境" in terms
    assert all(len(t) >= 2 for t in terms)
    assert question_terms("猫") == ["猫"]


def test_spans_are_case_insensitive_and_merged() -> None:
    assert highlight_spans("Conda conda", ["conda"]) == [(0, 5), (6, 11)]
    assert highlight_spans("虚拟环境", ["虚拟", "拟环", "环境"]) == [(0, 4)]
    assert highlight_spans("abc", []) == []


def test_highlight_escapes_and_stays_on_one_line() -> None:
    html = highlight_html("a <b>环境</b>\n\n$x & y", ["环境"])
    assert html == "a &lt;b&gt;<mark>环境</mark>&lt;/b&gt;<br><br>&#36;x &amp; y"


def test_term_inside_an_entity_is_not_broken() -> None:
    assert highlight_html("a&b", ["amp"]) == "a&amp;b"


def test_cited_sources_come_first_others_after() -> None:
    sources = [_citation(1), _citation(2), _citation(3)]
    answer = Answer("q", "t [3][1]", sources, [sources[2], sources[0]], None, Timings(), "x")
    assert [(c.number, cited) for c, cited in ordered_sources(answer)] == [(3, True), (1, True), (2, False)]


def test_source_card_shows_location_score_and_escaped_text() -> None:
    card = source_card_html(_citation(2, "用 <conda> 管理环境", "x<y>.md", "安装 > 依赖"), True, ["环境"], "kba-t0-s2")
    assert 'id="kba-t0-s2"' in card and "[2]" in card
    assert "x&lt;y&gt;.md" in card and "安装 &gt; 依赖" in card
    assert "&lt;conda&gt;" in card and "<mark>环境</mark>" in card
    assert "score 0.50" in card and "\n" not in card
    grey = source_card_html(_citation(3), False, [], "kba-t0-s3")
    assert grey.startswith("<details") and "kba-uncited" in grey


def test_a_code_source_shows_its_file_lines_symbol_and_colours_without_markup_from_the_code() -> None:
    code = 'def del_word(self, word):\n    """<b>删除</b>"""\n    self.add_word(word, 0)'
    chunk = StoredChunk(7, "jieba/__init__.py", 3, code, None, "Tokenizer › del_word", (439, 441), "code")
    card = source_card_html(Citation(1, chunk, 0.9), True, [], "kba-t0-s1", [(27, 45, "kba-t0-s1-e0")])
    assert "jieba/__init__.py" in card and "行 lines 439-441 · Tokenizer › del_word" in card
    assert [f'<span class="kba-ln">{n}</span>' in card for n in (439, 440, 441)] == [True] * 3
    assert "&lt;b&gt;删除&lt;/b&gt;" in card and "<b>" not in card  # code is text
    assert "<pre" not in card and "<code" not in card  # Streamlit would render those as its own plain blocks
    assert 'style="color: #' in card and card.count("kba-evidence-line") == 1 and 'id="kba-t0-s1-e0"' in card
