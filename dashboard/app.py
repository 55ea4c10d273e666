"""The dashboard's entry point: `streamlit run dashboard/app.py`. Only the router; each page is a file
under dashboard/pages/, data access is in dashboard/data.py, figures in dashboard/charts.py."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts dashboard/ on the path, not the repository root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="Image Generation Case Study", page_icon=":material/image:", layout="wide")

PAGES = Path(__file__).resolve().parent / "pages"
navigation = st.navigation([
    st.Page(PAGES / "generate.py", title="Generate", icon=":material/palette:", default=True),
    st.Page(PAGES / "benchmark.py", title="Benchmark", icon=":material/timer:"),
    st.Page(PAGES / "history.py", title="History", icon=":material/history:"),
    st.Page(PAGES / "charts.py", title="Charts", icon=":material/bar_chart:"),
])
navigation.run()
