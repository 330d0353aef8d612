"""Work that outlives one Streamlit script run: an answer being written, an ingest running.

Streamlit stops a script run whenever the person clicks anything (the stop button, another page).
Running the core in a thread of its own means that click interrupts only the page drawing: the
answer or ingest carries on, and the next run picks up its progress or its result. No Streamlit
call is made from these threads. The generic Job lives in rag.jobs (the HTTP API uses it too).
"""

from __future__ import annotations

from rag.chain import Assistant
from rag.jobs import Job
from rag.types import Answer, Timings

__all__ = ["Job", "answer_job"]


def answer_job(assistant: Assistant, question: str, history: list[tuple[str, str]], kb: str) -> Job:
    """Stream an answer in the background; the job's result is always an Answer.

    Should the chain itself raise (it is built not to), the Answer carries the partial text and
    the error instead.
    """

    def work(job: Job) -> Answer:
        try:
            for event in assistant.stream(question, history, kb, cancel=job.cancel):
                if isinstance(event, Answer):
                    return event
                job.pieces.append(event)
            raise RuntimeError("the answer stream ended without an answer")
        except Exception as error:
            answer = Answer(question, job.text(), [], [], None, Timings(), assistant.llm.label)
            answer.error = f"{type(error).__name__}: {error}"
            return answer

    return Job(f"answer-{kb}", work).start()
