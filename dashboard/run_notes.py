"""What pages say about run folders they cannot use: listed with the reason, never hidden.

Reasons come from files (paths, values): they are shown in a table cell, never as markdown.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cre_core.train import UNREADABLE


def unreadable_runs(runs: pd.DataFrame, key: str) -> None:
    """A warning and a (run, problem) table for the runs of ``runs`` that cannot be read."""
    if runs.empty or "status" not in runs:
        return
    bad = runs[runs["status"] == UNREADABLE]
    if len(bad):
        st.warning(f"{len(bad)} run folder(s) cannot be read and are left out here:")
        st.dataframe(bad[["run_id", "problem"]], hide_index=True, key=key)


def run_problems(problems: list[str], key: str) -> None:
    """A warning and a table of runs left out of one answer (unreadable model, missing gene)."""
    if problems:
        st.warning(f"{len(problems)} run(s) could not answer and are left out:")
        st.dataframe(pd.DataFrame({"problem": problems}), hide_index=True, key=key)
