"""Query: predicted fitness of 1-3 gene deletions with every finished run; partner scans; batches;
DCell subsystem explanations; pairs to measure next."""

import pandas as pd
import streamlit as st

from cre_core.data import UnknownGeneError
from cre_core.interpret import dcell_runs
from cre_core.query import (
    MAX_SET_SIZE,
    check_sets,
    fmt_interval,
    fmt_support,
    fmt_value,
    parse_csv,
    parse_names,
    predict_table,
    scan,
    tidy_zeros,
)
from cre_core.train import queryable, runs_with_configs
from dashboard.charts import partner_chart
from dashboard.explain_plan import explanation_section, plan_section
from dashboard.prediction_columns import VALUE_COLUMNS
from dashboard.run_notes import run_problems, unreadable_runs
from dashboard.safe_text import md, md_join
from dashboard.sequence import attribution_section
from dashboard.support import current_workspace, gene_label, guard, require_store, store

st.title("Query")
st.caption("Predicted fitness of deletion strains (wild type = 1.0), the multiplicative expectation "
           "from measured single-mutant fitness, the predicted interaction ε̂ = f̂ − Π f, and the "
           "measured values when the screens have them.")
ws = current_workspace()

NO_INTERVAL = ("no interval: a single model has none (train with an ensemble, --ensemble K, "
               "for an 80% interval)")


def shown(frame):
    """The frame as displayed: no value reads -0.0000."""
    numeric = frame.select_dtypes("number").columns
    return frame.assign(**{c: tidy_zeros(frame[c]) for c in numeric})


def unknown_gene(exc: UnknownGeneError) -> None:
    st.warning(f"No gene is called '{md(exc.name)}'."
               + (f" Did you mean: {md_join(exc.suggestions)}?" if exc.suggestions else
                  " Use a systematic (YAL001C) or standard (TFC3) name."))


def single_query(runs) -> None:
    text = st.text_input(f"Genes to delete (1–{MAX_SET_SIZE}, systematic or standard names)",
                         key="q_genes", placeholder="e.g. TFC3, YBR001C")
    genes = parse_names(text or "")
    if not genes:
        st.info("Type one to three gene names, separated by commas or spaces.")
        return
    if len(genes) > MAX_SET_SIZE:
        st.warning(f"{len(genes)} genes given: at most {MAX_SET_SIZE} at a time (use batch mode for more sets).")
        return
    problems: list[str] = []
    try:
        table = predict_table(ws, runs["run_id"].tolist(), [genes], problems=problems)
    except UnknownGeneError as exc:
        unknown_gene(exc)
        return
    run_problems(problems, key="q_problems")
    if table.empty:
        return
    labels = dict(zip(runs["run_id"], runs["label"]))
    table.insert(0, "run", table["run_id"].map(labels))
    names = table["names"].iloc[0].split(",")
    systematic = table["genes"].iloc[0].split(",")
    st.markdown("**Deleted:** " + " + ".join(gene_label(g, n) for g, n in zip(systematic, names)))
    first = table.iloc[0]
    c = st.columns(4)
    c[0].metric(f"Predicted fitness ({md(first['model'])})", fmt_value(first["predicted"]),
                help=f"run {md(first['run_id'])}")
    c[1].metric("Π SMF (multiplicative)", fmt_value(first["multiplicative"]))
    c[2].metric("Predicted ε̂", fmt_value(first["epsilon_pred"]))
    c[3].metric("Measured fitness", fmt_value(first["measured_fitness"]),
                help="from the dmf table (pairs) or smf (single genes); – when never measured")
    if first["members"] > 1:
        c[0].caption(f"80% interval {fmt_interval(first['predicted_lo'], first['predicted_hi'])} "
                     f"({first['members']} models)")
        c[2].caption(f"80% interval {fmt_interval(first['epsilon_lo'], first['epsilon_hi'])}")
    else:
        c[0].caption(NO_INTERVAL)
    counts = [int(n) for n in first["train_counts"].split(",")]
    st.markdown("**In training** (run " + md(first["run"]) + "): " + "; ".join(
        f"{gene_label(g, n)}: {fmt_support(k)}" for g, n, k in zip(systematic, names, counts)))
    untrained = table.loc[~table["size_in_training"], "run"].tolist()
    if untrained:
        st.warning(f"Sets of {len(genes)} gene(s) were not in the training data of "
                   f"{md_join(untrained)}: their prediction extrapolates.")
    st.dataframe(shown(table.drop(columns=["run_id", "genes", "names", "n_genes"])), hide_index=True,
                 key="q_table", column_config=VALUE_COLUMNS)


def partner_scan(runs) -> None:
    c1, c2 = st.columns([1, 2])
    gene = c1.text_input("Gene", key="q_scan_gene", placeholder="e.g. TFC3")
    run_id = c2.selectbox("Run", runs["run_id"].tolist(), key="q_scan_run",
                          format_func=dict(zip(runs["run_id"], runs["label"])).get)
    c1, c2 = st.columns([1, 2])
    top_k = c1.slider("Partners to show", 5, 100, 20, key="q_scan_k")
    order = c2.radio("Rank partners by", ["fitness", "epsilon"], horizontal=True, key="q_scan_order",
                     format_func={"fitness": "lowest predicted fitness",
                                  "epsilon": "most negative predicted ε̂"}.get)
    if not gene:
        st.info("Type a gene to rank all its partners by the chosen run's predictions.")
        return
    try:
        partners = scan(ws, run_id, gene.strip(), top_k=top_k, order=order)
    except UnknownGeneError as exc:
        unknown_gene(exc)
        return
    value = "predicted" if order == "fitness" else "epsilon_pred"
    title = "predicted double-mutant fitness" if order == "fitness" else "predicted interaction ε̂"
    c1, c2 = st.columns([3, 2])
    if partners["predicted_lo"].isna().all():
        st.caption(NO_INTERVAL)
    c1.dataframe(shown(partners), hide_index=True, key="q_scan_table", column_config=VALUE_COLUMNS)
    c2.altair_chart(partner_chart(partners, value, title))


def batch(runs) -> None:
    st.caption("Upload a CSV with one gene set per row: a `genes` column (`TFC3,YBR001C`) or "
               "`gene1`, `gene2`, `gene3` columns. Every finished run chosen above predicts every set.")
    upload = st.file_uploader("Gene sets (CSV)", type=["csv", "txt", "tsv"], key="q_batch_file")
    if upload is None:
        return
    batch_rows = parse_csv(upload.getvalue())
    if batch_rows.note:
        st.info(f"{md(upload.name)}: {md(batch_rows.note)}.")
    with store(ws) as con:
        good, problems = check_sets(con, batch_rows.sets, rows=batch_rows.lines)
    problems = pd.concat([pd.DataFrame(batch_rows.problems, columns=problems.columns), problems])
    if len(problems):
        problems = problems.sort_values("row")
        total = len(batch_rows.sets) + len(batch_rows.problems)
        st.warning(f"{len(problems):,} of {total:,} row(s) skipped (row = line in the file):")
        st.dataframe(problems, hide_index=True, key="q_batch_problems")
    if not good:
        return
    problems: list[str] = []
    table = predict_table(ws, runs["run_id"].tolist(), good, problems=problems)
    run_problems(problems, key="q_batch_run_problems")
    if table.empty:
        return
    st.success(f"{len(good):,} gene set(s) × {runs.shape[0]} run(s) predicted.")
    if (table["members"] == 1).any():
        st.caption("Runs with one model leave the interval columns empty: " + NO_INTERVAL.split(": ", 1)[1])
    st.dataframe(shown(table.head(1000)), hide_index=True, key="q_batch_table", column_config=VALUE_COLUMNS)
    st.download_button("Download predictions (CSV)", table.to_csv(index=False),
                       file_name="predictions.csv", mime="text/csv", key="q_batch_download",
                       on_click="ignore")


with guard("Query"):
    if require_store(ws):
        all_runs = runs_with_configs(ws)
        unreadable_runs(all_runs, key="q_unreadable")
        done = queryable(all_runs, ws)
        if done.empty:
            st.info("No finished runs yet: train a model on **Train** first; its predictions appear here.")
        else:
            labels = dict(zip(done["run_id"], done["label"]))
            chosen = st.multiselect("Runs", done["run_id"].tolist(), default=done["run_id"].tolist()[:8],
                                    format_func=labels.get, key="q_runs")
            if not chosen:
                st.info("Choose at least one finished run.")
            else:
                selected = done[done["run_id"].isin(chosen)]
                explainable = not dcell_runs(selected).empty
                tabs = st.tabs(["Gene set", "Partner scan", "Batch", "Sequence", "Plan"]
                               + (["Subsystems (DCell)"] if explainable else []))
                tab_one, tab_scan, tab_batch, tab_seq, tab_plan = tabs[:5]
                with tab_one:
                    with guard("Query · gene set"):
                        single_query(selected)
                with tab_scan:
                    with guard("Query · partner scan"):
                        partner_scan(selected)
                with tab_batch:
                    with guard("Query · batch"):
                        batch(selected)
                with tab_seq:
                    with guard("Query · sequence"):
                        attribution_section(ws, selected)
                with tab_plan:
                    with guard("Query · plan"):
                        plan_section(ws, selected)
                if explainable:
                    with tabs[5]:
                        with guard("Query · subsystems"):
                            explanation_section(ws, selected)
