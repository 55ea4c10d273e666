"""The dashboard's entry point: `streamlit run dashboard/app.py`. Only the router; each page is a file
under dashboard/views/ (not `pages/`: st.navigation routes), data access is in dashboard/data.py, figures
in dashboard/charts.py. The project is installed (`pip install -e .`), so `core` and `dashboard` import."""
from pathlib import Path

import streamlit as st

from dashboard import data
from dashboard.login import require_login

st.set_page_config(page_title="Image Generation Case Study", page_icon=":material/image:", layout="wide")
require_login()  # IGCS_REQUIRE_LOGIN=true: Streamlit's OIDC login before any page

PAGES = Path(__file__).resolve().parent / "views"
navigation = st.navigation([
    st.Page(PAGES / "generate.py", title="Generate", icon=":material/palette:", default=True),
    st.Page(PAGES / "edit.py", title="Edit", icon=":material/auto_fix_high:"),
    st.Page(PAGES / "benchmark.py", title="Benchmark", icon=":material/timer:"),
    st.Page(PAGES / "history.py", title="History", icon=":material/history:"),
    st.Page(PAGES / "charts.py", title="Charts", icon=":material/bar_chart:"),
    st.Page(PAGES / "compare.py", title="Compare", icon=":material/compare:"),
    st.Page(PAGES / "arena.py", title="Arena", icon=":material/how_to_vote:"),
])
data.db()  # a store that cannot be opened: one error line on every page, before the page draws
navigation.run()
