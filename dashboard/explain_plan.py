"""Query page tabs for DCell explanations and for planning the next screen.

``explanation_section`` (DCell runs only): a genotype's GO terms ranked by how much they move
from wild type, drawn as an icicle of the top terms and their ancestors (cre_core.interpret.
subsystems does the numbers and the layout). ``plan_section`` (ensemble runs): unmeasured pairs
ranked by predicted |ε̂| and member disagreement, or with the likeliest first interactions of
unexplored genes first (cre_core.query.suggestions), with a CSV of all.
Names from the data reach the page only through tables and chart text, never as markup.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from cre_core.interpret import SCORES, dcell_runs, explain_genotype, subtree
from cre_core.query import MAX_SET_SIZE, PER_GENE, POLICIES, POLICY, fmt_value, parse_names, suggest
from cre_core.workspace import Workspace
from dashboard.charts import AUTOSIZE
from dashboard.prediction_columns import VALUE_COLUMNS

SCORE_TITLES = {"interaction": "interaction change", "state": "state change", "head": "|head change|"}
PLOT_OTHERS = 2000          # pairs drawn besides the top ones (a seeded sample): the browser stays light

TERM_COLUMNS = {
    "state_change": st.column_config.NumberColumn("state change (RMS)", format="%.4f",
                                                  help="RMS over the term's units of genotype − wild type"),
    "head_change": st.column_config.NumberColumn("head change", format="%.4f",
                                                 help="the term's own fitness prediction, genotype − wild type"),
    "interaction_change": st.column_config.NumberColumn(
        "interaction change", format="%.4f", help="the part of the change the smaller deletion sets do not "
                                                  "explain (0 where only one gene is annotated)"),
    "score": st.column_config.NumberColumn("score", format="%.4f"),
    "genes_hit": st.column_config.TextColumn("deleted genes in the term"),
    "genes": st.column_config.NumberColumn("genes annotated"),
}
PAIR_COLUMNS = {
    **VALUE_COLUMNS,
    "rank": st.column_config.NumberColumn("rank", help="the order to measure in (the chosen order)"),
    "abs_epsilon": st.column_config.NumberColumn("|ε̂|", format="%.4f"),
    "disagreement": st.column_config.NumberColumn("member disagreement (sd)", format="%.4f"),
    "p_interaction": st.column_config.NumberColumn(
        "P(|ε| > 0.08)", format="%.3f", help="chance the measured interaction is strong, from the run's "
                                              "calibrated ε̂ interval"),
    "first_interactions": st.column_config.NumberColumn(
        "first interactions (expected)", format="%.3f", help="genes without a strong training interaction "
        "this pair is expected to give one, after their likelier pairs"),
    "rank_combined": st.column_config.NumberColumn("combined rank", help="by the mean of the two ranks"),
    "rank_epsilon": st.column_config.NumberColumn("rank by |ε̂|"),
    "rank_disagreement": st.column_config.NumberColumn("rank by disagreement"),
}


def icicle_chart(tree: pd.DataFrame, by: str) -> alt.LayerChart:
    """The moved terms' subtree as an icicle: root on top, each term's children below it,
    coloured by the ranking score (grey outline: a term that is only an ancestor of the top)."""
    frame = tree.assign(label=tree["name"].where(tree["name"] != "", tree["term"]).str.slice(0, 28),
                        role=tree["in_top"].map({True: "top term", False: "ancestor"}),
                        mid=(tree["x0"] + tree["x1"]) / 2)
    depth = alt.Y("depth:O", title="depth below the root", axis=alt.Axis(labels=True, ticks=False))
    tooltip = [alt.Tooltip("term:N", title="GO term"), alt.Tooltip("name:N"), alt.Tooltip("role:N"),
               alt.Tooltip("state_change:Q", title="state change", format=".4f"),
               alt.Tooltip("head_change:Q", title="head change", format=".4f"),
               alt.Tooltip("interaction_change:Q", title="interaction change", format=".4f"),
               alt.Tooltip("other_parents:Q", title="further parents (drawn once)")]
    cells = alt.Chart(frame).mark_rect(stroke="white", strokeWidth=1.5).encode(
        x=alt.X("x0:Q", title=None, axis=None, scale=alt.Scale(domain=[0, 1], nice=False)), x2="x1:Q",
        y=depth,
        color=alt.Color("score:Q", title=SCORE_TITLES[by], scale=alt.Scale(scheme="orangered"),
                        legend=alt.Legend(format=".2~g")),
        tooltip=tooltip,
    )
    labels = alt.Chart(frame).mark_text(fontSize=10, color="black", limit=160).encode(
        x=alt.X("mid:Q", scale=alt.Scale(domain=[0, 1], nice=False)), y=depth, text="label:N", tooltip=tooltip)
    height = 44 * (int(frame["depth"].max()) + 1) if len(frame) else 60
    return alt.layer(cells, labels).properties(height=height, autosize=AUTOSIZE,
                                               title="GO subtree of the terms that move most")


def pairs_chart(frame: pd.DataFrame, top: int) -> alt.Chart:
    """|ε̂| against member disagreement: the top ``top`` pairs and a sample of the others."""
    best = frame.head(top).assign(group=f"top {top}")
    rest = frame.iloc[top:]
    if len(rest) > PLOT_OTHERS:
        rest = rest.sample(PLOT_OTHERS, random_state=0)
    data = pd.concat([best, rest.assign(group="other candidates")]).dropna(subset=["abs_epsilon"])
    data = data.assign(pair=data["name_a"] + " + " + data["name_b"])
    return alt.Chart(data, title="Candidate pairs").mark_circle(size=28, opacity=0.7).encode(
        x=alt.X("abs_epsilon:Q", title="predicted |ε̂|"),
        y=alt.Y("disagreement:Q", title="member disagreement (sd of f̂)"),
        color=alt.Color("group:N", title=None, scale=alt.Scale(domain=[f"top {top}", "other candidates"],
                                                               range=["#d62728", "#9e9e9e"])),
        tooltip=[alt.Tooltip("pair:N"), alt.Tooltip("rank:Q"), alt.Tooltip("epsilon_pred:Q", title="ε̂", format=".4f"),
                 alt.Tooltip("disagreement:Q", format=".4f")],
    ).properties(height=300, autosize=AUTOSIZE)


def explanation_section(ws: Workspace, runs: pd.DataFrame) -> None:
    """Query page: a DCell run's subsystems ranked for a genotype, as a table and an icicle."""
    runs = dcell_runs(runs)
    labels = dict(zip(runs["run_id"], runs["label"]))
    run = st.selectbox("DCell run", list(labels), format_func=labels.get, key="q_dc_run")
    c1, c2, c3 = st.columns([2, 1, 1])
    text = c1.text_input(f"Genes to delete (1–{MAX_SET_SIZE})", key="q_dc_genes",
                         placeholder="e.g. TFC3, YBR001C")
    genes = parse_names(text or "")
    by = c2.selectbox("Rank terms by", ["auto", *SCORES], key="q_dc_by", format_func=lambda b: (
        "interaction (pairs) / state (one gene)" if b == "auto" else SCORE_TITLES[b]))
    top = c3.slider("Terms to draw", 5, 40, 15, key="q_dc_top")
    if not genes:
        st.caption("Each GO term's subsystem state for the genotype against wild type: the terms that move "
                   "most, drawn with their ancestors (as DCell's web app does). For a pair, the interaction "
                   "change picks the terms where the two deletions meet.")
        return
    result = explain_genotype(ws, run, genes, by=None if by == "auto" else by)
    moved = result.terms[result.terms["moved"]]
    c = st.columns(3)
    c[0].metric("Predicted fitness", fmt_value(result.predicted), help="the root term's head")
    c[1].metric("Wild type (DCell)", fmt_value(result.wild_type), help="the same model with no deletion")
    c[2].metric("Terms that move", f"{len(moved):,} of {len(result.terms):,}")
    if moved.empty:
        st.info("No GO term holds these genes in this run's ontology: DCell predicts the wild type for them.")
        return
    st.altair_chart(icicle_chart(subtree(result, top), result.by), width="stretch")
    st.dataframe(moved.head(top).drop(columns=["moved"]), hide_index=True, key="q_dc_table",
                 column_config=TERM_COLUMNS)
    st.download_button("Download every term (CSV)", result.terms.to_csv(index=False),
                       file_name="dcell_terms.csv", mime="text/csv", key="q_dc_download", on_click="ignore")


def plan_section(ws: Workspace, runs: pd.DataFrame) -> None:
    """Query page: unmeasured pairs worth screening, ranked by an ensemble run."""
    ensembles = runs[runs["ensemble"].fillna(1) > 1] if "ensemble" in runs else runs.iloc[0:0]
    if ensembles.empty:
        st.info("Suggestions need an ensemble run among the chosen runs (train with ensemble K > 1, "
                "--ensemble K): the members' disagreement says where the model knows least.")
        return
    labels = dict(zip(ensembles["run_id"], ensembles["label"]))
    run = st.selectbox("Ensemble run", list(labels), format_func=labels.get, key="q_plan_run")
    mode = st.radio("Candidates", ["gene", "list"], horizontal=True, key="q_plan_mode",
                    format_func={"gene": "a gene's possible partners", "list": "pairs among a gene list"}.get)
    policy = st.radio("Order", POLICIES, index=POLICIES.index(POLICY), horizontal=True, key="q_plan_policy",
                      format_func={"rank": "combined rank",
                                   "first-interactions": "first interactions of unexplored genes first"}.get,
                      help="first interactions: first the pairs likeliest to give a gene without a strong "
                           "interaction among the run's training pairs its first one (on the demo about twice "
                           "as many such genes as random picks; a run retrained on them predicts no better), "
                           "then the combined rank")
    if mode == "gene":
        gene = st.text_input("Gene", key="q_plan_gene", placeholder="e.g. TFC3").strip()
        ask = {"gene": gene, "policy": policy} if gene else None
    else:
        listed = parse_names((st.text_area("Genes (commas, spaces or lines)", key="q_plan_genes") or "")
                             .replace("\n", " "))
        per_gene = st.number_input("Pairs per gene in each round (0 = no cap)", 0, 1000, PER_GENE,
                                   key="q_plan_per_gene", help="the ranking goes in rounds of at most this "
                                   "many pairs per gene, so that a few genes do not fill the top")
        ask = {"genes": listed, "per_gene": int(per_gene), "policy": policy} if listed else None
    top = st.slider("Pairs to show", 5, 200, 25, key="q_plan_top")
    if ask is None:
        st.caption("Unmeasured pairs ranked by the predicted interaction |ε̂| and by the ensemble members' "
                   "disagreement; the rank combines both (or, by choice, the pairs likeliest to give a gene "
                   "its first strong interaction come first). Measured pairs are left out.")
        return
    frame, info = suggest(ws, run, **ask)
    c = st.columns(3)
    c[0].metric("Unmeasured candidate pairs", f"{info['candidates']:,}")
    c[1].metric("Measured pairs left out", f"{info['measured']:,}")
    c[2].metric("Without ε̂ (no SMF)", f"{info['no_epsilon']:,}", help="ranked last by |ε̂|")
    if info["policy"] == "first-interactions" and not info["unexplored"]:
        st.caption("Every candidate gene already has a strong interaction among the run's training pairs, "
                   "so the order is the combined rank.")
    elif info["policy"] == "first-interactions":
        st.caption(f"{info['first_pairs']:,} pairs come first: they may give one of {info['unexplored']:,} "
                   "candidate genes without a strong interaction among the run's training pairs its first one"
                   + ("." if info["first_pairs"] else
                      " (none has a chance: the run has no ε̂ interval, or the genes no SMF)."))
    if info["deferred"]:
        st.caption(f"{info['deferred']:,} pairs rank after the first round: one of their genes has "
                   f"{info['per_gene']} or more better-ranked pairs.")
    if frame.empty:
        st.info("Every candidate pair is already measured.")
        return
    st.dataframe(frame.head(top), hide_index=True, key="q_plan_table", column_config=PAIR_COLUMNS)
    st.altair_chart(pairs_chart(frame, top), width="stretch")
    st.download_button(f"Download all {len(frame):,} ranked pairs (CSV)", frame.to_csv(index=False),
                       file_name="pairs_to_measure.csv", mime="text/csv", key="q_plan_download", on_click="ignore")
