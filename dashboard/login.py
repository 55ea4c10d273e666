"""Optional login in front of every page: Streamlit's built-in OIDC (`st.login`, `st.user`).

Off by default (the dashboard binds to localhost). With IGCS_REQUIRE_LOGIN=true, every page needs a login
through the provider configured in `.streamlit/secrets.toml` (`[auth]`: redirect_uri, cookie_secret,
client_id, client_secret, server_metadata_url; see README "Serving beyond localhost").
"""
from __future__ import annotations

import importlib.util

import streamlit as st

from core.settings import get_settings


def _auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets.toml at all
        return False


def require_login() -> None:
    """Stop the script unless login is off or the user is logged in; a logged-in user gets a log-out button."""
    if not get_settings().require_login:
        return
    if not _auth_configured():
        st.error("IGCS_REQUIRE_LOGIN is on but `.streamlit/secrets.toml` has no `[auth]` section: "
                 "configure an OIDC provider there (README: Serving beyond localhost).")
        st.stop()
    if importlib.util.find_spec("authlib") is None:
        st.error("IGCS_REQUIRE_LOGIN is on but Authlib, which Streamlit's login needs, is not installed: "
                 "`.venv/bin/python -m pip install \"streamlit[auth]\"`.")
        st.stop()
    if not st.user.get("is_logged_in", False):
        st.title("Image Generation Case Study")
        st.info("Log in to use this dashboard.")
        st.button("Log in", key="login", type="primary", on_click=st.login)
        st.stop()
    with st.sidebar:
        st.caption(f"Logged in as {st.user.get('email') or st.user.get('name') or 'user'}")
        st.button("Log out", key="logout", on_click=st.logout)


def current_user() -> str | None:
    """The logged-in user's email (else name) when IGCS_REQUIRE_LOGIN is on; None when login is off."""
    if not get_settings().require_login or not st.user.get("is_logged_in", False):
        return None
    return st.user.get("email") or st.user.get("name") or "user"
