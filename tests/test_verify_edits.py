"""Near-copy edits and numbers by value: the parts of rag.verify that compare a claim with the
sentence it was written from."""

from __future__ import annotations

from rag.verify import check_citations
from rag.verify.edits import Edits, near_copy_edits
from rag.verify.numbers import number_aliases, numbers
from rag.verify.text import normalise

SOURCE = "在第一阶段，缓存命中率持续上升，而在第二阶段，写入延迟逐渐下降，整个过程一共用了十个小时。"


def edits(claim: str, span: str = SOURCE) -> Edits:
    return near_copy_edits(normalise(claim), normalise(span))


def test_an_exact_copy_has_no_telling_edit() -> None:
    assert edits(SOURCE) == Edits()


def test_two_terms_trading_places_are_an_exchange() -> None:
    swapped = "在第一阶段，写入延迟持续上升，而在第二阶段，缓存命中率逐渐下降，整个过程一共用了十个小时。"
    assert edits(swapped).exchanges >= 1


def test_a_negation_put_into_a_copy_is_found() -> None:
    negated = "在第一阶段，缓存命中率并没有上升，而在第二阶段，写入延迟逐渐下降，整个过程一共用了十个小时。"
    assert edits(negated).negations == 1


def test_a_number_put_for_another_is_found() -> None:
    changed = "在第一阶段，缓存命中率持续上升，而在第二阶段，写入延迟逐渐下降，整个过程一共用了八个小时。"
    assert edits(changed).numbers == 1


def test_a_synonym_in_a_copy_is_not_a_telling_edit() -> None:
    reworded = "在第一阶段，缓存命中率不停上升，而在第二阶段，写入延迟慢慢下降，整个过程一共用了十个小时。"
    assert edits(reworded) == Edits()


def test_a_rewritten_claim_is_no_near_copy() -> None:
    assert edits("十个小时里，命中率先涨，之后延迟才降下来。") == Edits()


def test_a_claim_with_a_replaced_number_is_flagged_though_the_source_has_that_number_elsewhere() -> None:
    source = SOURCE + "另外，测试集群有八个节点。"
    answer = "在第一阶段，缓存命中率持续上升，而在第二阶段，写入延迟逐渐下降，整个过程一共用了八个小时[1]。"
    verdict = check_citations(answer, {1: source})[0]
    assert verdict.supported is False


def test_numbers_compare_by_value_across_scales_and_languages() -> None:
    values = lambda text: {value for value, _ in numbers(normalise(text))}  # noqa: E731
    assert values("参数量 1750 亿") == values("175B parameters") == {"175000000000"}
    assert values("十二个") == {"12"} and values("three times") == {"3"}


def test_a_source_number_is_also_found_as_written_and_a_short_year_in_full() -> None:
    assert set(number_aliases(normalise("175B 参数，21年发布"))) == {"175", "2021"}
