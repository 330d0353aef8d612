"""Who is using this browser session, and the sign-in page when the app is shared.

Not shared (the default: ``./start.sh`` listens on 127.0.0.1 only), the person at the machine
is the local admin and no one signs in. Shared (``KBA_SHARE=1``, ``./start.sh --share``, or a
non-loopback ``server.address``), everyone signs in: with a user name and password from
``python -m rag users``, or through the team's identity provider when ``.streamlit/secrets.toml``
has an ``[auth]`` section (Streamlit's ``st.login``), matched to a user entry by e-mail for roles.
The callbacks that change things ask ``permitted`` again: hiding a button is not the check.
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from rag.access import LOCAL, Action, Principal, allowed, is_loopback
from rag.config import Settings
from rag.users import UserStore
from ui.widgets import flash

SIGNED_IN = "signed_in_user"
NO_USERS = (
    "共享模式需要登录，但还没有用户。/ Shared mode needs sign-in, but no user exists yet: on the server run "
    "`python -m rag users add NAME --role admin`, then reload this page."
)
DENIED = "你没有权限这样做。/ You are not allowed to do that ({what})."


def sharing(settings: Settings) -> bool:
    """Whether people must sign in: sharing is on, or the app listens beyond the loopback address."""
    address = st.get_option("server.address")
    return settings.share or (bool(address) and not is_loopback(str(address)))


def oidc_configured() -> bool:
    """Whether .streamlit/secrets.toml configures an identity provider ([auth]) for st.login."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return False


def current_principal(settings: Settings) -> Principal | None:
    """The signed-in principal of this session (LOCAL when not shared), None when nobody is signed in.

    Read afresh from the user file on every call, so a removed user or a changed role counts at once.
    """
    if not sharing(settings):
        return LOCAL
    users = UserStore(settings.data_dir)
    if oidc_configured() and st.user.get("is_logged_in"):
        user = users.by_email(str(st.user.get("email") or ""))
        return user.principal() if user is not None else None
    name = st.session_state.get(SIGNED_IN)
    user = users.get(name) if name else None
    return user.principal() if user is not None else None


def permitted(settings: Settings, action: Action, kb: str | None, what: str) -> bool:
    """For button callbacks: whether this session may do ``action``; leaves a message when not."""
    principal = current_principal(settings)
    if principal is not None and allowed(principal, action, kb):
        return True
    flash("error", DENIED.format(what=what))
    return False


def _check_password(settings: Settings) -> None:
    name = st.session_state.get("login_name", "").strip()
    password = st.session_state.get("login_password", "")
    st.session_state["login_password"] = ""
    if name and UserStore(settings.data_dir).verify(name, password) is not None:
        st.session_state[SIGNED_IN] = name
    else:
        st.session_state["login_failed"] = True


def _sign_in_page(settings: Settings) -> None:
    st.title("登录 / Sign in")
    if not UserStore(settings.data_dir).list():
        st.error(NO_USERS)
        return
    if oidc_configured():
        if st.user.get("is_logged_in"):
            st.error(
                f"已通过身份提供方登录为 {st.user.get('email')}，但没有对应的用户。/ Signed in as "
                f"{st.user.get('email')}, but no user has this e-mail: an admin can add one with "
                f"`python -m rag users add NAME --email {st.user.get('email')} --no-password --role reader`."
            )
            st.button("退出 / Sign out", key="oidc_logout", on_click=st.logout)
            return
        st.button("使用单点登录 / Sign in with SSO", key="oidc_login", type="primary", on_click=st.login)
        st.caption("或使用用户名和密码 / or with a user name and password:")
    with st.form("sign_in"):
        st.text_input("用户名 / User name", key="login_name")
        st.text_input("密码 / Password", type="password", key="login_password")
        st.form_submit_button("登录 / Sign in", on_click=_check_password, args=(settings,))
    if st.session_state.pop("login_failed", False):
        st.error("用户名或密码不对。/ Wrong user name or password.")


def _sign_out() -> None:
    st.session_state.pop(SIGNED_IN, None)
    if st.user.get("is_logged_in"):
        st.logout()


def sign_in(settings: Settings) -> Principal:
    """The session's principal; draws the sign-in page and stops this run until someone signs in."""
    principal = current_principal(settings)
    if principal is None:
        _sign_in_page(settings)
        st.stop()
    if principal is not LOCAL:
        st.sidebar.caption(f"已登录 / Signed in: **{principal.name}**")
        st.sidebar.button("退出登录 / Sign out", key="sign_out", on_click=_sign_out)
    return principal
