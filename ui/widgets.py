"""Small rendering helpers the pages share: styles, progress of a job, one-shot messages, first run."""

from __future__ import annotations

import threading

import streamlit as st

from ingest.pipeline import ensure_default_kb
from ingest.progress import describe, overall
from rag.config import Settings
from ui.jobs import Job
from ui.resources import ingest_registry

# Citation superscripts and source cards (rag.markup writes the markup these classes style).
STYLE = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
sup.kba-cite { font-size: 0.72em; margin-left: 1px; }
sup.kba-cite a { text-decoration: none; font-weight: 600; color: #1c6fd1; padding: 0 1px; }
sup.kba-cite a:hover { text-decoration: underline; }
.kba-cite-missing { color: #b0b3ba; }
.kba-source { border: 1px solid rgba(128, 128, 128, 0.25); border-left: 4px solid #1c6fd1; border-radius: 0.5rem;
  padding: 0.55rem 0.85rem; margin: 0 0 0.55rem 0; background: rgba(28, 111, 209, 0.035); scroll-margin-top: 4rem; }
.kba-source.kba-uncited { opacity: 0.55; border-left-color: #b0b3ba; background: transparent; }
.kba-source:target { box-shadow: 0 0 0 3px rgba(28, 111, 209, 0.35); }
.kba-head { font-size: 0.9rem; line-height: 1.5; }
summary.kba-head { cursor: pointer; }
.kba-num { font-weight: 700; color: #1c6fd1; }
.kba-uncited .kba-num { color: inherit; }
.kba-file { font-weight: 600; }
.kba-where { opacity: 0.7; }
.kba-score { float: right; opacity: 0.6; font-size: 0.78rem; }
.kba-text { font-size: 0.86rem; line-height: 1.65; margin-top: 0.35rem; }
.kba-text mark { background: #ffe98f; color: #31333f; padding: 0 0.12em; border-radius: 0.2em; }
sup.kba-cite a.kba-unsupported { color: #c62828; text-decoration: underline wavy; }
.kba-evidence { background: rgba(46, 160, 67, 0.16); border-bottom: 2px solid rgba(46, 160, 67, 0.55); }
.kba-evidence:target, .kba-evidence:has(span:target) { background: rgba(46, 160, 67, 0.38); }
.kba-badge { display: inline-block; font-size: 0.7rem; padding: 0 0.4em; margin-left: 0.35em; border-radius: 0.6em;
  background: rgba(128, 128, 128, 0.15); vertical-align: 1px; }
.kba-code { margin-top: 0.35rem; font-size: 0.8rem; overflow: auto; max-height: 26rem; border-radius: 0.35rem;
  scroll-margin-top: 4rem; font-family: "Source Code Pro", ui-monospace, monospace;
  background: rgba(128, 128, 128, 0.06); padding: 0.3rem 0; }
.kba-line { white-space: pre; line-height: 1.5; }
.kba-ln { display: inline-block; min-width: 3.2em; padding-right: 0.8em; text-align: right; color: #9aa0a6;
  user-select: none; border-right: 1px solid rgba(128, 128, 128, 0.25); margin-right: 0.6em; }
.kba-evidence-line { background: rgba(46, 160, 67, 0.16); }
.kba-md p, .kba-md ul, .kba-md ol, .kba-md table { margin-bottom: 0.35rem; }
.kba-unsupported-list { border-left: 3px solid #c62828; background: rgba(198, 40, 40, 0.06); padding: 0.35rem 0.7rem;
  border-radius: 0.3rem; font-size: 0.85rem; margin: 0.3rem 0 0.6rem 0; }
.kba-unsupported-title { font-weight: 600; color: #c62828; }
.kba-unsupported-list ul { margin: 0.2rem 0 0 1rem; }
.kba-missing { opacity: 0.75; }
</style>
"""


def inject_style() -> None:
    """Add the styles to the page (takes no space)."""
    st.html(STYLE)


def progress_value(stage: tuple[str, int, int, str] | None, title: str) -> tuple[float, str]:
    """(0..1 fraction, caption) for a pipeline report (stage, done, total, detail)."""
    if stage is None:
        return 0.0, f"{title} …"
    return overall(*stage[:3]), f"{title} — {describe(*stage)}"


def follow_progress(job: Job, title: str) -> None:
    """Show ``job``'s progress in a bar until it finishes (clicks elsewhere only stop the drawing)."""
    bar = st.progress(0.0, text=f"{title} …")
    while not job.wait(0.25):
        bar.progress(*progress_value(job.stage, title))
    bar.empty()


def flash(kind: str, text: str) -> None:
    """Queue a message for the next page run (from a button callback)."""
    st.session_state.setdefault("flash", []).append((kind, text))


def show_flashes() -> None:
    """Show and forget the queued messages."""
    for kind, text in st.session_state.pop("flash", []):
        {"success": st.success, "error": st.error, "warning": st.warning}.get(kind, st.info)(text)


@st.cache_resource(show_spinner=False)
def _first_run(data_dir: str) -> dict[str, Job | None]:
    return {}


_first_run_lock = threading.Lock()


def build_default_kb_once(settings: Settings) -> None:
    """Build the shipped default knowledge base the first time this process runs (with a progress bar)."""
    state = _first_run(str(settings.data_dir))
    with _first_run_lock:
        if "job" not in state:
            registry = ingest_registry()
            state["job"] = registry.start(
                settings, settings.default_kb, "first-run", lambda job: ensure_default_kb(settings, job.progress)
            ) or registry.running(settings, settings.default_kb)
    job = state["job"]
    if job is None:
        return
    if not job.done:
        follow_progress(job, "首次运行：正在建立默认知识库 / First run: building the default knowledge base")
    if job.error is not None and not st.session_state.get("first_run_warned"):
        st.session_state["first_run_warned"] = True
        st.warning(f"默认知识库未能建立 / The default knowledge base could not be built: {job.error}")
