"""Citation checking: for every sentence of an answer, do the sources it cites support all of it?

    from rag.verify import check_citations
    for verdict in check_citations(answer_text, {1: source_text, 2: ...}):
        verdict.supported, verdict.score, verdict.evidence, verdict.missing

Modules: answer (sentences and their markers), sources (source sentences with offsets), text,
facts, words, swaps and polarity (what is compared), features (one claim against its sources),
model (the fitted scorer), check (the verdicts).
"""

from rag.verify.check import NO_SOURCE, Verdict, check_citations

__all__ = ["NO_SOURCE", "Verdict", "check_citations"]
