"""How predicted and measured values read in every table of predictions (Query's tables and the
Plan tab's ranked pairs): one label, format and help per column."""

from __future__ import annotations

import streamlit as st

VALUE_COLUMNS = {
    "predicted": st.column_config.NumberColumn("predicted fitness", format="%.4f"),
    "multiplicative": st.column_config.NumberColumn("Π SMF (multiplicative)", format="%.4f"),
    "epsilon_pred": st.column_config.NumberColumn("predicted ε̂", format="%.4f"),
    "measured_fitness": st.column_config.NumberColumn("measured fitness", format="%.4f"),
    "measured_epsilon": st.column_config.NumberColumn("measured ε", format="%.4f"),
    "measured": st.column_config.NumberColumn("measured fitness", format="%.4f"),
    "predicted_lo": st.column_config.NumberColumn("fitness 80% low", format="%.4f"),
    "predicted_hi": st.column_config.NumberColumn("fitness 80% high", format="%.4f"),
    "epsilon_lo": st.column_config.NumberColumn("ε̂ 80% low", format="%.4f"),
    "epsilon_hi": st.column_config.NumberColumn("ε̂ 80% high", format="%.4f"),
    "members": st.column_config.NumberColumn("models", help="ensemble members (1: no interval)"),
    "train_counts": st.column_config.TextColumn("training pairs per gene"),
    "train_count": st.column_config.NumberColumn("partner's training pairs"),
    "size_in_training": st.column_config.CheckboxColumn("set size trained on"),
}
