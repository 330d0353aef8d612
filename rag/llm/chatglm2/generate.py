"""Token-by-token generation with a KV cache, ChatGLM2's sampling defaults, and cancellation.

Our own loop rather than ``model.generate`` + a streamer thread: the caller iterates a plain
generator, so streaming, cancelling (an Event checked between tokens, or simply stopping the
iteration) and counting need no thread and no queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

TEMPERATURE = 0.8
TOP_P = 0.8


def sample_next(logits: Any, temperature: float, top_p: float, generator: Any | None = None) -> int:
    """One token id from a vector of logits: greedy when temperature <= 0, else nucleus sampling."""
    import torch

    logits = torch.nan_to_num(logits.float().cpu(), nan=-1e4, posinf=1e4, neginf=-1e4)
    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    sorted_probs, order = torch.sort(probs, descending=True)
    # Keep the smallest head whose mass reaches top_p; the most likely token is always kept.
    keep = (torch.cumsum(sorted_probs, dim=-1) - sorted_probs) < top_p
    kept = sorted_probs * keep
    choice = torch.multinomial(kept / kept.sum(), 1, generator=generator)
    return int(order[choice])


@dataclass
class GenerationResult:
    """What happened once a generation stream is exhausted."""

    finish_reason: str = ""  # "stop" (eos or a stop string), "length", "cancelled", "timeout"
    token_ids: list[int] = field(default_factory=list)


def generate_ids(
    model: Any,
    prompt_ids: Sequence[int],
    *,
    max_new_tokens: int = 512,
    temperature: float = TEMPERATURE,
    top_p: float = TOP_P,
    eos_id: int | None = 2,
    max_length: int | None = None,
    vocab_limit: int | None = None,
    cancel: threading.Event | None = None,
    seed: int | None = None,
    result: GenerationResult | None = None,
    deadline: float | None = None,
) -> Iterator[int]:
    """Yield generated token ids one at a time, reusing the KV cache between steps.

    Stops at ``eos_id`` (not yielded), after ``max_new_tokens``, when the sequence reaches
    ``max_length`` (the context window), when ``cancel`` is set (checked before each step), or
    when ``deadline`` (a time.monotonic() value) has passed (finish_reason "timeout").
    Ids at or above ``vocab_limit`` (ChatGLM2's padding rows) are never sampled.
    """
    import torch

    result = result if result is not None else GenerationResult()
    if max_length is not None and len(prompt_ids) >= max_length:
        raise ValueError(f"prompt has {len(prompt_ids)} tokens; the context window is {max_length}")
    budget = max_new_tokens if max_length is None else min(max_new_tokens, max_length - len(prompt_ids))
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    device = model.device
    inputs = torch.tensor([list(prompt_ids)], dtype=torch.long, device=device)
    past = None
    result.finish_reason = "length"
    for _ in range(budget):
        if cancel is not None and cancel.is_set():
            result.finish_reason = "cancelled"
            return
        if deadline is not None and time.monotonic() >= deadline:
            result.finish_reason = "timeout"
            return
        # Entered per step, not around the loop: a mode held across ``yield`` would leak into the caller.
        with torch.inference_mode():
            out = model(input_ids=inputs, past_key_values=past, use_cache=True, logits_to_keep=1)
        past = out.past_key_values
        logits = out.logits[0, -1] if vocab_limit is None else out.logits[0, -1, :vocab_limit]
        token = sample_next(logits, temperature, top_p, generator)
        if token == eos_id:
            result.finish_reason = "stop"
            return
        result.token_ids.append(token)
        yield token
        inputs = torch.tensor([[token]], dtype=torch.long, device=device)
    if cancel is not None and cancel.is_set():
        result.finish_reason = "cancelled"


def _held_back(text: str, stop: Sequence[str]) -> int:
    """How many trailing characters of ``text`` could be the start of a stop string."""
    longest = 0
    for s in stop:
        for k in range(min(len(s) - 1, len(text)), longest, -1):
            if text.endswith(s[:k]):
                longest = k
                break
    return longest


def stream_text(
    model: Any,
    tokenizer: Any,
    prompt_ids: Sequence[int],
    stop: Sequence[str] = (),
    result: GenerationResult | None = None,
    **options: Any,
) -> Iterator[str]:
    """Yield the answer's text as it is generated (``options`` as for ``generate_ids``).

    Generation ends at the first ``stop`` string, which is not emitted. ChatGLM2 spells rare
    characters as byte pieces, so the ids so far can end mid-character (the decoded text ends in
    U+FFFD); nothing is emitted until the character is complete.
    """
    result = result if result is not None else GenerationResult()
    options.setdefault("eos_id", tokenizer.eos_id)
    options.setdefault("vocab_limit", tokenizer.vocab_size)
    stop = [s for s in stop if s]
    ids: list[int] = []
    emitted = 0
    tokens = generate_ids(model, prompt_ids, result=result, **options)
    try:
        for token in tokens:
            ids.append(token)
            text = tokenizer.decode(ids)
            if text.endswith("\ufffd"):
                continue
            hits = [text.find(s) for s in stop if s in text]
            if hits:
                if min(hits) > emitted:
                    yield text[emitted : min(hits)]
                result.finish_reason = "stop"
                return
            end = len(text) - _held_back(text, stop)
            if end > emitted:
                yield text[emitted:end]
                emitted = end
        text = tokenizer.decode(ids)
        if len(text) > emitted:
            yield text[emitted:]
    finally:
        tokens.close()
