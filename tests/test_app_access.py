"""The shared app under AppTest: the sign-in gate, roles per knowledge base, OIDC users, model settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ingest.pipeline import create_kb
from rag.config import Settings
from rag.users import UserStore

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
PASSWORD = "a long enough secret"
OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32, "client_id": "x"}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A shared app's environment with three users: an admin of everything, an editor and a reader."""
    monkeypatch.setenv("KBA_DATA_DIR", str(tmp_path / "kb"))
    monkeypatch.setenv("KBA_EMBEDDER", "hashing")
    monkeypatch.setenv("KBA_SAMPLE_DOCS_DIR", str(CORPUS))
    monkeypatch.setenv("KBA_SHARE", "1")
    users = UserStore(tmp_path / "kb")
    users.add("root", PASSWORD, {"*": "admin"})
    users.add("ed", PASSWORD, {"default": "editor"})
    users.add("rita", PASSWORD, {"default": "reader"}, email="rita@example.org")
    st.cache_resource.clear()
    yield tmp_path / "kb"
    st.cache_resource.clear()


def _texts(elements: object) -> str:
    return "\n".join(str(e.value) for e in elements)  # type: ignore[attr-defined]


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def _signed_in(name: str, password: str = PASSWORD) -> AppTest:
    at = _run(AppTest.from_file(str(REPO / "app.py"), default_timeout=60))
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if b.label == "登录 / Sign in").click()
    return _run(at)


def _knowledge_page(at: AppTest) -> AppTest:
    at.switch_page("ui/knowledge.py")
    return _run(at)


def test_the_shared_app_shows_nothing_before_sign_in(data_dir: Path) -> None:
    at = _run(AppTest.from_file(str(REPO / "app.py"), default_timeout=60))
    assert [t.value for t in at.title] == ["登录 / Sign in"]
    assert not at.chat_input and not at.selectbox and not at.file_uploader
    at = _signed_in("rita", "wrong password")
    assert "Wrong user name or password" in _texts(at.error) and not at.chat_input
    assert at.text_input(key="login_password").value == ""  # the password is not kept in the form
    at = _signed_in("rita")
    assert at.chat_input and "Signed in: **rita**" in _texts(at.sidebar.caption)
    at.button(key="sign_out").click()
    assert [t.value for t in _run(at).title] == ["登录 / Sign in"]


def test_shared_mode_without_users_says_how_to_add_one(data_dir: Path) -> None:
    for user in UserStore(data_dir).list():
        UserStore(data_dir).remove(user.name)
    at = _run(AppTest.from_file(str(REPO / "app.py"), default_timeout=60))
    assert "python -m rag users add NAME --role admin" in _texts(at.error) and not at.chat_input


def test_a_reader_may_ask_but_not_upload_delete_or_rebuild(data_dir: Path) -> None:
    at = _signed_in("rita")
    at.chat_input[0].set_value("conda 怎么列出环境？")
    assert 'id="kba-t0-s1"' in "\n".join(m.value for m in _run(at).markdown)
    at = _knowledge_page(at)
    assert not at.file_uploader and "may read 'default' but not change it" in _texts(at.info)
    keys = {b.key for b in at.button}
    assert not keys & {"add_files", "delete_doc", "delete_kb", "rebuild", "create_kb"}
    assert "product_faq.txt" in list(at.dataframe[0].value["文件 / name"])


def test_a_role_taken_away_mid_session_is_refused_by_the_callback(data_dir: Path) -> None:
    at = _knowledge_page(_signed_in("ed"))
    assert {"add_files", "delete_doc", "rebuild"} <= {b.key for b in at.button} and "delete_kb" not in {
        b.key for b in at.button
    }
    at.selectbox(key="doc_pick").set_value("product_faq.txt")
    at.button(key="delete_doc").click()
    at = _run(at)
    users = UserStore(data_dir)
    users.remove("ed")
    users.add("ed", PASSWORD, {"default": "reader"})  # demoted while the confirm button is on the page
    at.button(key="yes_doc").click()
    at = _run(at)
    assert "not allowed" in _texts(at.error)
    assert "product_faq.txt" in list(at.dataframe[0].value["文件 / name"])


def test_only_an_admin_of_everything_changes_the_model(data_dir: Path) -> None:
    at = _signed_in("ed")
    assert at.selectbox(key="cfg_backend").disabled and at.text_input(key="cfg_base_url").disabled
    at.session_state["cfg_backend"] = "openai"  # what a forged widget update could submit
    at.session_state["cfg_base_url"] = "http://attacker.example/v1"
    at = _run(at)
    assert at.selectbox(key="cfg_backend").value == "openai"  # the widget took it; the settings did not
    settings: Settings = at.session_state["settings"]
    assert settings.llm_backend == "auto" and settings.openai_base_url is None
    at = _signed_in("root")
    assert not at.selectbox(key="cfg_backend").disabled
    at.selectbox(key="cfg_backend").set_value("extractive")
    assert _run(at).session_state["settings"].llm_backend == "extractive"


def test_users_see_only_the_knowledge_bases_they_have_a_role_on(data_dir: Path) -> None:
    _signed_in("root")  # builds the default knowledge base
    create_kb(Settings(), "secret").close()
    at = _signed_in("ed")
    assert at.selectbox(key="kb").options == ["default"]
    assert _signed_in("root").selectbox(key="kb").options == ["default", "secret"]


def test_oidc_sign_in_is_matched_to_a_user_by_email(data_dir: Path) -> None:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": False}
    at = _run(at)
    assert at.button(key="oidc_login").label == "使用单点登录 / Sign in with SSO"
    at.user = {"is_logged_in": True, "email": "Rita@Example.org"}
    at = _run(at)
    assert at.chat_input and "Signed in: **rita**" in _texts(at.sidebar.caption)
    assert not _knowledge_page(at).file_uploader  # her role came with her: reader
    stranger = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    stranger.secrets["auth"] = OIDC
    stranger.user = {"is_logged_in": True, "email": "mallory@example.org"}
    stranger = _run(stranger)
    assert "--email mallory@example.org --no-password" in _texts(stranger.error) and not stranger.chat_input
