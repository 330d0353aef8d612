"""The sidebar: which knowledge base, and the settings a person may change for this session.

Only those allowed to configure the model (rag.access: admin of every knowledge base) change the
model panel; everyone else sees it disabled, and whatever it submits is ignored here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import streamlit as st

from ingest.stores import knowledge_bases
from rag.access import Principal, readable
from rag.config import LLMBackend, RetrievalMode, Settings

KB_KEY = "kb"
BACKEND_LABELS = {
    "auto": "自动 / auto",
    "extractive": "摘录（无模型）/ extractive",
    "openai": "OpenAI 兼容服务 / OpenAI-compatible",
    "chatglm2": "本地 ChatGLM2 / local ChatGLM2",
}
MODE_LABELS = {"hybrid": "混合 / hybrid", "keyword": "关键词 / keyword (BM25)", "dense": "向量 / dense"}


def choose_kb(settings: Settings, principal: Principal) -> str | None:
    """The picker of the knowledge bases ``principal`` may read; the chosen name, None when there is none."""
    names = readable(principal, knowledge_bases(settings))
    if not names:
        st.sidebar.info("还没有知识库 / No knowledge base yet: create one on the 知识库 page.")
        return None
    if st.session_state.get(KB_KEY) not in names:
        st.session_state[KB_KEY] = settings.default_kb if settings.default_kb in names else names[0]
    return st.sidebar.selectbox("知识库 / Knowledge base", names, key=KB_KEY)


def _text_or_none(value: str) -> str | None:
    return value.strip() or None


def _model_panel(base: Settings, editable: bool) -> dict[str, Any]:
    """The model widgets (disabled unless ``editable``) and the values they hold."""
    locked = not editable
    with st.sidebar.expander("模型 / Model" if editable else "模型 / Model (仅管理员可改 / admins only)"):
        backend = st.selectbox(
            "后端 / Backend",
            get_args(LLMBackend),
            index=get_args(LLMBackend).index(base.llm_backend),
            format_func=BACKEND_LABELS.get,
            key="cfg_backend",
            disabled=locked,
        )
        base_url = st.text_input(
            "OpenAI 兼容地址 / base URL",
            base.openai_base_url or "",
            placeholder="http://127.0.0.1:8000/v1",
            key="cfg_base_url",
            disabled=locked,
        )
        model = st.text_input("模型名 / model name", base.openai_model, key="cfg_model", disabled=locked)
        glm_path = st.text_input(
            "ChatGLM2 路径 / path",
            str(base.chatglm2_path or ""),
            placeholder="/models/chatglm2-6b",
            key="cfg_glm",
            disabled=locked,
        )
        temperature = st.slider("temperature", 0.0, 2.0, base.temperature, 0.05, key="cfg_temperature", disabled=locked)
        top_p = st.slider("top_p", 0.05, 1.0, base.top_p, 0.05, key="cfg_top_p", disabled=locked)
        max_new = st.number_input(
            "max_new_tokens", 16, 8192, base.max_new_tokens, 16, key="cfg_max_new", disabled=locked
        )
    return {
        "llm_backend": backend,
        "openai_base_url": _text_or_none(base_url),
        "openai_model": model.strip() or base.openai_model,
        "chatglm2_path": Path(glm_path.strip()) if glm_path.strip() else None,
        "temperature": float(temperature),
        "top_p": float(top_p),
        "max_new_tokens": int(max_new),
    }


def settings_panel(base: Settings, can_configure: bool) -> Settings:
    """Widgets for the model, retrieval and ingest knobs; the session's Settings built from them.

    Without ``can_configure`` the model panel is read-only and its values are not used.
    """
    model = _model_panel(base, can_configure)
    with st.sidebar.expander("检索 / Retrieval", expanded=False):
        top_k = st.slider("top-k 资料数 / sources", 1, 20, base.top_k, key="cfg_top_k")
        modes = get_args(RetrievalMode)
        mode = st.selectbox(
            "检索方式 / mode",
            modes,
            index=modes.index(base.retrieval_mode),
            format_func=MODE_LABELS.get,
            key="cfg_mode",
        )
        threshold = st.slider(
            "相关度阈值 / threshold",
            0.0,
            1.0,
            base.score_threshold,
            0.05,
            key="cfg_threshold",
            help=Settings.model_fields["score_threshold"].description,
        )
        chunk_size = st.number_input(
            "新上传的分块大小 / chunk size (chars)", 100, 4000, base.chunk_size, 50, key="cfg_chunk_size"
        )
    update: dict[str, Any] = {
        **(model if can_configure else {}),
        "top_k": int(top_k),
        "retrieval_mode": mode,
        "score_threshold": float(threshold),
        "chunk_size": int(chunk_size),
    }
    changed = {k: v for k, v in update.items() if getattr(base, k) != v}
    if "chunk_size" in changed:  # the splitter needs overlap < chunk size
        changed["chunk_overlap"] = min(base.chunk_overlap, int(chunk_size) // 4)
    return base.model_copy(update=changed) if changed else base
