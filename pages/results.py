"""Results: compare finished runs scored on the same test set."""

from pathlib import Path

import streamlit as st

from cre_core.errors import CreError
from cre_core.train import (
    FINISHED,
    box_stats,
    collect_epochs,
    comparison_table,
    cross_validation_table,
    read_predictions,
    run_dir,
    runs_with_configs,
)
from cre_core.workspace import Workspace
from dashboard.charts import box_chart, epoch_curves, metric_bars, pred_vs_true_chart
from dashboard.run_notes import run_problems, unreadable_runs
from dashboard.safe_text import md
from dashboard.sequence import motif_section
from dashboard.support import current_workspace, guard, require_store
from dashboard.verdicts import control_section

st.title("Results")
ws = current_workspace()


@st.cache_data(ttl=3600, max_entries=32, show_spinner=False)
def _predictions(root: str, run_id: str, stamp: float):
    """A run's test predictions (cached per file version)."""
    return read_predictions(Workspace(Path(root)), run_id)


def predictions_of(run_id: str):
    path = run_dir(ws, run_id) / "predictions.parquet"
    return _predictions(str(ws.root), run_id, path.stat().st_mtime if path.exists() else 0.0)


with guard("Results"):
    if require_store(ws):
        runs = runs_with_configs(ws)
        unreadable_runs(runs, key="res_unreadable")
        done = runs[runs["status"].isin(FINISHED)] if len(runs) else runs
        if done.empty:
            st.info("No finished runs yet: start one on **Train**. Runs scored on the same test set "
                    "(same split, split seed, fractions and subset) are compared here side by side.")
        else:
            sets = done["test_set"].value_counts()
            test_set = st.selectbox("Test set", sets.index.tolist(), key="res_test_set",
                                    format_func=lambda s: f"{s} ({sets[s]} run(s))",
                                    help="Only runs scored on identical test pairs are comparable.")
            candidates = done[done["test_set"] == test_set]
            if test_set.startswith("split file "):
                st.caption("A published split (train --split-file): the name carries the file's "
                           "content hash, so the runs listed here used the same file.")
            labels = candidates["label"].tolist()
            chosen = st.multiselect("Runs", labels, default=labels[:6], key="res_runs")
            if not chosen:
                st.info("Choose one or more runs above.")
            else:
                selected = candidates[candidates["label"].isin(chosen)]
                table = comparison_table(selected)
                st.subheader("Test metrics")
                st.dataframe(table, hide_index=True, column_config={
                    **{c: st.column_config.NumberColumn(c, format="%.4f")
                       for c in ("Pearson r", "Spearman ρ", "R² (variance explained)", "MSE", "ε Pearson r",
                                 "ceiling r", "ε ceiling r")},
                    **{c: st.column_config.NumberColumn(c, format="percent")
                       for c in ("r / ceiling", "ε r / ceiling", "80% interval coverage", "ε interval coverage")},
                })
                st.caption("R² is the share of the test fitness variance the model explains; ε Pearson r "
                           "scores predicted interactions f̂ − f_i·f_j against measured ε where both SMF are known. "
                           "The ceiling is the best r any model can reach on these measurements (their noise); "
                           "r / ceiling is how much of it a run reaches. Interval coverage (ensemble runs): the "
                           "share of measured test values inside the 80% interval (target 75–85%).")
                control_section(ws, selected)
                if selected["ceiling_r"].isna().all():
                    st.caption("No noise ceiling is recorded for these runs (their summaries have no "
                               "`ceilings`): the bars show r alone.")
                bars = selected.assign(run=selected["label"])
                st.altair_chart(metric_bars(bars.dropna(subset=["test_r2"]), "test_r2", "R² (variance explained)"))
                st.altair_chart(metric_bars(bars.dropna(subset=["test_pearson"]), "test_pearson", "Pearson r",
                                            ceiling="ceiling_r"))
                if bars["eps_pearson"].notna().any():
                    st.altair_chart(metric_bars(bars.dropna(subset=["eps_pearson"]), "eps_pearson",
                                                "ε Pearson r", ceiling="ceiling_eps_r"))

                chosen_by_cv = cross_validation_table(ws, selected)
                if len(chosen_by_cv):
                    st.subheader("Settings chosen by cross-validation")
                    st.dataframe(chosen_by_cv, hide_index=True, column_config={
                        "held-out ε r (mean)": st.column_config.NumberColumn(format="%.3f")})
                    st.caption("The interaction model chooses its representation (--embedder auto) and "
                               "its ε map's λ and rank by 5-fold cross-validation over the training "
                               "pairs, folds of held-out genes on the gene split: each candidate's "
                               "held-out ε r per fold at its best setting.")

                predictions, bad = {}, []
                for run_id, label in zip(selected["run_id"], selected["label"]):
                    try:
                        predictions[label] = predictions_of(run_id)
                    except CreError as exc:           # one bad file leaves only that run out
                        bad.append(f"run {run_id}: {exc}")
                run_problems(bad, key="res_bad_predictions")
                predictions = {k: v for k, v in predictions.items() if len(v)}
                if predictions:
                    st.subheader("Predicted fitness by true fitness")
                    st.altair_chart(box_chart(box_stats(predictions)))
                    one = st.selectbox("Predicted vs true for run", list(predictions), key="res_scatter_run")
                    st.altair_chart(pred_vs_true_chart(predictions[one], one))
                else:
                    st.info("These runs have no saved test predictions.")

                epochs = collect_epochs(ws, selected)
                if epochs.attrs.get("skipped"):
                    run_problems([f"run {r}: epochs.jsonl line {n} is not a JSON object (left out)"
                                  for r, n in epochs.attrs["skipped"]], key="res_bad_epochs")
                if len(epochs):
                    st.subheader("Training curves")
                    loss, corr = epoch_curves(epochs)
                    c1, c2 = st.columns(2)
                    c1.altair_chart(loss)
                    c2.altair_chart(corr)

                with guard("Results · motifs"):        # an unreadable model leaves the downloads
                    motif_section(ws, selected)

                st.subheader("Download")
                for run_id, label in zip(selected["run_id"], selected["label"]):
                    if label in predictions:
                        st.download_button(
                            f"Predictions of {md(label)} (CSV)",
                            lambda frame=predictions[label]: frame.to_csv(index=False),   # built on click
                            file_name=f"{run_id}_predictions.csv", mime="text/csv", key=f"res_dl_{run_id}",
                            on_click="ignore")
