"""Train: a form for every `train` option, background runs, live curves, stop and resume."""

import streamlit as st

from cre_core.processes import log_tail
from cre_core.runtime import device_summary
from cre_core.train import (
    LIVE,
    TrainConfig,
    jobs,
    list_runs,
    load_run,
    options,
    read_epoch_metrics,
    read_step_metrics,
    run_dir,
    specs,
)
from dashboard.charts import epoch_curves, step_chart
from dashboard.safe_text import md, md_code
from dashboard.support import current_workspace, guard, require_store, shared_mode, shared_note
from dashboard.train_form import MAIN_FIELDS, config_widget, field_applies

st.title("Train")
ws = current_workspace()
SELECTED = "train_run"


def new_run_form() -> None:
    by_name = {s.name: s for s in options()}
    st.caption(device_summary())
    model = config_widget(by_name["model"])
    with st.form("train_form", border=True):
        values = {"model": model}
        main = [n for n in MAIN_FIELDS if n != "model" and field_applies(n, model)]
        cols = st.columns(3)
        for i, name in enumerate(main):
            values[name] = config_widget(by_name[name], cols[i % 3])
        with st.expander("More options"):
            rest = [n for n in by_name if n not in MAIN_FIELDS and field_applies(n, model)]
            cols = st.columns(3)
            for i, name in enumerate(rest):
                values[name] = config_widget(by_name[name], cols[i % 3])
        submitted = st.form_submit_button("Start training", type="primary")
    if submitted:
        with guard("starting the run"):
            config = TrainConfig.of(**values)
            run_id = jobs.launch(ws, config)
            st.session_state[SELECTED] = run_id
            st.toast(f"Started {md(run_id)}")
            st.rerun()


def run_panel(run_id: str) -> None:
    """Status, buttons, curves and log of one run (re-drawn by the fragment while it runs)."""
    run = load_run(ws, run_id)
    status, config, summary = run["status"], run["config"] or {}, run["summary"] or {}
    info = run.get("status_info") or {}
    colour = {"done": "green", "running": "blue", "queued": "gray", "diverged": "orange",
              "failed": "red", "interrupted": "orange"}.get(status, "gray")
    st.markdown(f"**{md(run_id)}** :{colour}-badge[{md(status)}] · model {md_code(config.get('model'))} · "
                f"epoch {md(info.get('epoch') or 0)}/{md(config.get('epochs'))}")
    if info.get("message"):
        st.caption(md(info["message"]))
    c1, c2, _ = st.columns([1, 1, 4])
    if not shared_mode() and status in LIVE and c1.button("Stop", key=f"stop_{run_id}",
                                                          help="Save a checkpoint and stop (resume later)"):
        jobs.stop(ws, run_id)
        st.toast(f"Stopping {md(run_id)}…")
    if not shared_mode() and status in ("interrupted", "failed", "diverged") and c2.button(
            "Resume", key=f"resume_{run_id}", help="Continue from the last checkpoint"):
        jobs.resume(ws, run_id)
        st.rerun()
    if summary:
        cols = st.columns(5)
        for col, (label, key) in zip(cols, [("Test Pearson r", "pearson"), ("Spearman ρ", "spearman"),
                                            ("R²", "r2"), ("MSE", "mse"), ("ε Pearson r", "eps_pearson")]):
            value = summary.get(key)
            col.metric(label, "–" if value is None else f"{value:.4f}")
    epochs = read_epoch_metrics(ws, run_id)
    if len(epochs):
        loss, corr = epoch_curves(epochs, run_label=run_id)
        c1, c2 = st.columns(2)
        c1.altair_chart(loss)
        c2.altair_chart(corr)
    elif status in LIVE:
        st.info("Waiting for the first epoch… curves appear here as the run goes on.")
    if config.get("model") in specs.wt_models():
        steps = read_step_metrics(ws, run_id)
        if len(steps):
            steps = steps.assign(run=run_id)
            c1, c2 = st.columns(2)
            c1.altair_chart(step_chart(steps, "wt_mean", "wt_mean (wild-type prediction)"))
            c2.altair_chart(step_chart(steps, "loss", "training loss per step", log=True))
    with st.expander("Log"):
        st.code(log_tail(run_dir(ws, run_id) / "train.log", 40) or "(no log yet)", language=None)
    cli = " ".join(["python -m cre_core train --workspace", str(ws.root),
                    *TrainConfig.from_dict(config).to_cli_args()]) if config else ""
    if cli:
        with st.expander("Same run from the command line"):
            st.code(cli, language="bash", wrap_lines=True)


def runs_section() -> None:
    runs = list_runs(ws)
    if runs.empty:
        st.info("No runs yet: choose a model above and press **Start training**.")
        return
    any_live = runs["status"].isin(LIVE).any()

    @st.fragment(run_every="2s" if any_live else None)
    def live() -> None:
        current = list_runs(ws)
        st.dataframe(current[["run_id", "model", "features", "split", "embedder", "status", "epoch",
                              "test_pearson", "test_r2", "created", "problem"]],
                     hide_index=True, key="train_runs_table", column_config={
                         "test_pearson": st.column_config.NumberColumn("test r", format="%.4f"),
                         "test_r2": st.column_config.NumberColumn("test R²", format="%.4f"),
                         "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm:ss"),
                     })
        ids = current["run_id"].tolist()
        if st.session_state.get(SELECTED) not in ids:
            st.session_state[SELECTED] = ids[0]
        run_id = st.selectbox("Run", ids, key=SELECTED)
        with guard("the run panel"):
            run_panel(run_id)
        if any_live and not current["status"].isin(LIVE).any():
            st.rerun()            # everything finished: one full rerun stops the polling

    live()


with guard("Train"):
    if require_store(ws):
        st.subheader("New run")
        if shared_mode():
            shared_note("training")
        else:
            new_run_form()
        st.subheader("Runs")
        runs_section()
