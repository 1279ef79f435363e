"""CRE Fitness Lab: the Streamlit router. Pages live in pages/; logic lives in cre_core.

    streamlit run app.py          # or `make run`
"""

from pathlib import Path

import streamlit as st

from dashboard.support import workspace_sidebar

HERE = Path(__file__).parent

st.set_page_config(page_title="CRE Fitness Lab", page_icon=":material/genetics:", layout="wide")

SECTIONS = {
    "Data": [
        ("home.py", "Home", ":material/home:"),
        ("datasets.py", "Datasets", ":material/table:"),
        ("embeddings.py", "Embeddings", ":material/scatter_plot:"),
    ],
    "Models": [
        ("train.py", "Train", ":material/model_training:"),
        ("wt_stability.py", "wt_mean stability", ":material/monitor_heart:"),
        ("results.py", "Results", ":material/leaderboard:"),
    ],
    "Use": [
        ("query.py", "Query", ":material/search:"),
        ("genes.py", "Genes", ":material/hub:"),
    ],
}

pages = {
    section: [
        st.Page(HERE / "pages" / file, title=title, icon=icon, default=file == "home.py")
        for file, title, icon in entries
        if (HERE / "pages" / file).exists()
    ]
    for section, entries in SECTIONS.items()
}

workspace_sidebar()
st.navigation(pages).run()
