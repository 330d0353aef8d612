"""Streamlit entry point: ``streamlit run app.py``.

Builds the session's settings from the sidebar, asks people to sign in when the app is shared
(ui.auth), makes sure the default knowledge base exists, and hands over to the chat page or the
knowledge-base page (ui/). No logic lives here.
"""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from rag.access import allowed
from ui.auth import sign_in
from ui.resources import base_settings
from ui.sidebar import choose_kb, settings_panel
from ui.widgets import build_default_kb_once, inject_style

st.set_page_config(page_title="知识库助手 / KB Assistant", page_icon="📚", layout="wide")
inject_style()
try:
    base = base_settings()
except ValidationError as error:
    st.error(f"配置无效 / Invalid configuration (KBA_* variables or kb_assistant.toml):\n\n{error}")
    st.stop()
principal = sign_in(base)
page = st.navigation(
    [
        st.Page("ui/chat.py", title="问答 / Ask", icon=":material/forum:", url_path="chat", default=True),
        st.Page(
            "ui/knowledge.py", title="知识库 / Knowledge bases", icon=":material/library_books:", url_path="knowledge"
        ),
    ]
)
build_default_kb_once(base)
st.session_state["principal"] = principal
st.session_state["current_kb"] = choose_kb(base, principal)
st.session_state["settings"] = settings_panel(base, allowed(principal, "configure"))
page.run()
