"""wt_mean stability: the wild-type prediction per step for chosen wt runs, spikes marked and counted."""

import streamlit as st

from cre_core.job_slots import max_jobs
from cre_core.train import (
    WT_VARIANTS,
    collect_steps,
    jobs,
    runs_with_configs,
    specs,
    spike_steps,
    spike_summary,
    thin_steps,
    wt_variant_configs,
)
from dashboard.charts import step_chart, wt_mean_chart
from dashboard.run_notes import unreadable_runs
from dashboard.support import current_workspace, guard, require_store, shared_mode, shared_note

st.title("wt_mean stability")
st.caption("The wildtype-difference model predicts fitness relative to a wild type that should stay "
           "at 1.0. Compare how far `wt_mean` wanders under BatchNorm, LayerNorm, gradient clipping, "
           "wild-type warm-up, and the anchored model that is stable by construction.")

ws = current_workspace()


def launch_variants() -> None:
    if shared_mode():
        shared_note("starting runs")
        return
    with st.expander("Run the seed's comparison: five wt variants in the background"):
        st.markdown("\n".join(f"- **{label}**: " + ", ".join(f"`{k}={v}`" for k, v in o.items())
                               for label, o in WT_VARIANTS.items()))
        c1, c2, c3 = st.columns([1, 1, 2])
        epochs = c1.number_input("epochs", 1, 200, 3, key="wt_var_epochs")
        subset = c2.number_input("subset of pairs", 1, None, None, key="wt_var_subset",
                                 placeholder="all pairs")
        if c3.button("Start the five runs", key="wt_var_start"):
            with guard("starting the wt variants"):
                variants = wt_variant_configs(int(epochs), subset)
                labels, configs = list(variants), list(variants.values())
                started = jobs.launch_many(ws, configs)
                st.success(f"Started {len(started)} of the {len(configs)} runs; they appear here as they "
                           "log steps." + ("" if len(started) == len(configs) else
                                           f" No slot was free for {', '.join(labels[len(started):])} "
                                           f"(at most {max_jobs()} background jobs at a time): start "
                                           "them on Train when these finish."))

with guard("wt_mean stability"):
    if require_store(ws):
        launch_variants()
        runs = runs_with_configs(ws)
        unreadable_runs(runs, key="wt_unreadable")
        wt = runs[runs["model"].isin(specs.wt_models())] if len(runs) else runs
        if wt.empty:
            st.info("No wt runs yet: start a `wt-diff` run (norm batch, then layer; with clip; with "
                    "wt_warmup) and a `wt-anchored` run on **Train**, then compare them here.")
        else:
            labels = wt["label"].tolist()
            c1, c2 = st.columns([3, 1])
            chosen = c1.multiselect("Runs", labels, default=labels[:4], key="wt_runs")
            threshold = c2.number_input(
                "Spike threshold |wt_mean − 1| >", min_value=0.0, max_value=5.0, value=0.1,
                step=0.01, format="%.3f", key="wt_threshold",
                help="A step is a spike step when the wild-type prediction is further than this "
                     "from 1.0; consecutive spike steps count as one spike.")
            if not chosen:
                st.info("Choose one or more runs above.")
            else:
                selected = wt[wt["label"].isin(chosen)]
                steps = collect_steps(ws, selected)
                if steps.empty or steps["wt_mean"].isna().all():
                    st.info("These runs have not logged any step yet; a running run shows its first "
                            "steps within seconds (see its curves on Train).")
                else:
                    summary = spike_summary(steps, threshold)
                    settings = selected.set_index("label")[["model", "norm", "clip", "wt_warmup", "lr", "status"]]
                    table = summary.join(settings, on="run")
                    st.subheader("Spikes per run")
                    st.dataframe(table, hide_index=True, column_config={
                        "spike_fraction": st.column_config.NumberColumn("spike fraction", format="percent"),
                        "max_deviation": st.column_config.NumberColumn("max |wt_mean − 1|", format="%.4f"),
                        "final_wt_mean": st.column_config.NumberColumn("final wt_mean", format="%.4f"),
                        "median_abs_deviation": st.column_config.NumberColumn("median |wt_mean − 1|", format="%.4f"),
                    })
                    spikes = spike_steps(steps, threshold)
                    drawn = thin_steps(steps, keep=spikes)
                    st.altair_chart(wt_mean_chart(drawn, spikes, threshold))
                    c1, c2 = st.columns(2)
                    if drawn["wt_loss"].notna().any():
                        c1.altair_chart(step_chart(drawn, "wt_loss", "wild-type loss", log=True))
                    else:
                        c1.info("No wild-type loss logged for these runs.")
                    c2.altair_chart(step_chart(drawn, "loss", "total training loss", log=True))
                    c1, _ = st.columns(2)
                    if drawn["grad_norm"].notna().any():
                        c1.altair_chart(step_chart(drawn, "grad_norm", "gradient norm (before clipping)", log=True))
                    else:
                        c1.info("No gradient norm logged for these runs.")
