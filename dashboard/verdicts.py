"""The Results page's verdicts: each representation against the random control on one test set."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cre_core.train import ceiling_note, control_verdicts
from cre_core.workspace import Workspace


def control_section(ws: Workspace, runs: pd.DataFrame) -> None:
    """r, the control's r, the difference with its 95% interval and the verdict, per run with a
    representation (cre_core.train.compare); the missing-ceiling note where it applies."""
    st.subheader("Against the random control")
    note = ceiling_note(runs)
    if note:
        st.caption(note)
    verdicts = control_verdicts(ws, runs)
    if verdicts.empty:
        st.caption("These runs are all random controls: nothing to judge against them.")
        return
    st.dataframe(verdicts, hide_index=True, column_config={
        c: st.column_config.NumberColumn(c, format="%.3f") for c in ("r", "control r", "difference")})
    st.caption("Difference: the run's r minus the random control's r on the same test pairs (ε where "
               "measured): the same model on random per-gene vectors, or, for a model without a "
               "representation of its own (identity, DCell), the DeepSet on them. The 95% "
               "interval is a paired bootstrap (test pairs resampled; genes on a gene split). A "
               "representation adds something only when the interval lies above 0.")
