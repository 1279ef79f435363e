"""Genes: a gene's interaction profile beside a run's predictions, similar profiles and their map,
GO enrichment of a gene list, and its interaction network with Cytoscape exports."""

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from cre_core import explore
from cre_core.data import UnknownGeneError
from cre_core.explore import MIN_OVERLAP, SIGNS, list_from, sif_lines
from cre_core.query import SIGNIFICANT_EPSILON
from cre_core.train import queryable, runs_with_configs
from dashboard.explore_charts import MAP_COLOURS, comparison_chart, map_chart, network_chart
from dashboard.prediction_columns import VALUE_COLUMNS
from dashboard.support import current_workspace, guard, require_store, store

st.title("Genes")
st.caption("Explore the screens like TheCellMap: a gene's measured interactions (ε) beside a run's "
           "predictions, the genes whose profiles look alike, GO enrichment of any gene list and its "
           "interaction network, with Cytoscape and CSV downloads.")
ws = current_workspace()
if not require_store(ws):
    st.stop()

PROFILE_COLUMNS = {"epsilon": st.column_config.NumberColumn("ε", format="%.4f"),
                   "pvalue": st.column_config.NumberColumn("p", format="%.2e"),
                   "epsilon_pred": VALUE_COLUMNS["epsilon_pred"],
                   "fitness": st.column_config.NumberColumn("pair fitness", format="%.4f")}
SIMILARITY_SCORES = {"r": "Pearson r", "overlap": "topological overlap"}
SOURCES = {"partners": "the gene's significant partners", "similar": "genes with similar profiles",
           "scan": "the run's scan top hits (most negative ε̂)", "selection": "the map selection",
           "pasted": "a pasted list"}


def unknown(exc: UnknownGeneError) -> None:
    st.warning("No gene has that name.")
    st.text(str(exc))


sim_run = None      # the run whose predicted profiles the Similar tab uses (None: measured)
with guard("the Genes page"):
    runs = queryable(runs_with_configs(ws), ws)
    labels = dict(zip(runs["run_id"], runs["label"])) if not runs.empty else {}
    c1, c2 = st.columns([1, 2])
    gene = c1.text_input("Gene (systematic or standard name)", key="g_gene", placeholder="e.g. TFC3").strip()
    run_id = c2.selectbox("Compare with run", [None, *labels], key="g_run",
                          format_func=lambda r: "no run (measured only)" if r is None else labels[r])
    profile_tab, similar_tab, enrich_tab, network_tab = st.tabs(["Profile", "Similar", "Enrichment", "Network"])

with profile_tab, guard("the profile"):
    c = st.columns(4)
    sign = c[0].selectbox("Sign", SIGNS, key="g_sign")
    min_abs = c[1].number_input("|ε| at least", 0.0, 2.0, 0.0, 0.01, key="g_min_abs")
    max_p = c[2].number_input("p-value at most", 0.0, 1.0, 1.0, 0.01, key="g_max_p",
                              help="rows without a p-value (DCell's gene-level ε) always pass")
    sort = c[3].selectbox("Sort by", ["abs_epsilon", "epsilon", "pvalue", "partner", "epsilon_pred"], key="g_sort")
    if not gene:
        st.info("Type a gene above to see every partner it was screened with.")
    else:
        try:
            p = explore.gene_profile(ws, gene, run_id=run_id, filters=explore.ProfileFilter(
                sign=sign, min_abs=min_abs, max_p=max_p if max_p < 1 else None, sort=sort,
                descending=sort not in ("pvalue", "partner")))
        except UnknownGeneError as exc:
            unknown(exc)
        else:
            m = st.columns(4)
            smf = p.detail.smf["fitness"] if p.detail.smf else None
            m[0].metric("Single-mutant fitness", "–" if smf is None else f"{smf:.3f}")
            m[1].metric("Measurements", f"{p.n_measurements:,}")
            m[2].metric("Partners", f"{len(p.partners):,}")
            m[3].metric("Shown (filtered)", f"{len(p.measurements):,}")
            st.text(f"{p.name} ({p.gene})")
            if p.n_measurements == 0:
                st.info("No screen measured this gene with any partner.")
            shown = p.measurements if p.comparison else p.measurements.drop(columns="epsilon_pred")
            st.dataframe(shown, hide_index=True, key="g_profile_table", column_config=PROFILE_COLUMNS)
            if p.comparison:
                cmp = p.comparison
                st.subheader("Measured ε against the run's ε̂")
                st.metric("Pearson r over measured partners", "–" if cmp.r is None else f"{cmp.r:.3f}",
                          help=f"{cmp.n:,} partners with both values")
                left, right = st.columns(2)
                with left:
                    st.altair_chart(comparison_chart(p.partners), key="g_cmp_chart")
                with right:
                    st.caption("Strong measured partners (|ε| > 0.08) the run does not call with the same sign")
                    st.dataframe(cmp.missed, hide_index=True, key="g_missed", column_config=PROFILE_COLUMNS)
            with st.expander("GO terms and CRE windows"):
                st.dataframe(p.detail.go, hide_index=True, key="g_go")
                st.dataframe(p.detail.windows.drop(columns="sequence"), hide_index=True, key="g_windows")

with similar_tab, guard("the similarity view"):
    c = st.columns(4)
    top = c[0].number_input("Genes to list", 1, 200, 10, key="g_sim_top")
    overlap = c[1].number_input("Fewest shared partners", 3, 1000, MIN_OVERLAP, key="g_sim_overlap")
    by = c[3].radio("Rank by", list(SIMILARITY_SCORES), format_func=SIMILARITY_SCORES.get, key="g_sim_by",
                    help="topological overlap: strong shared partners and the direct link, the better guide "
                         "to shared function where few pairs are measured")
    profile_source = c[2].radio("Profiles", ["measured", "predicted"], horizontal=True, key="g_sim_source",
                                disabled=run_id is None, help="predicted: the chosen run's ε̂ among the "
                                "genes with a measured ε (one scan per gene, cached)")
    sim_run = run_id if profile_source == "predicted" and run_id else None
    if gene:
        try:
            sim = explore.similar(ws, gene, top=int(top), min_overlap=int(overlap), run_id=sim_run, by=by)
            st.dataframe(sim, hide_index=True, key="g_similar")
        except UnknownGeneError as exc:
            unknown(exc)
    st.subheader("Map of all profiles")
    colour = st.selectbox("Colour by", list(MAP_COLOURS), key="g_map_colour")
    frame = explore.profile_map(ws, run_id=sim_run, compute=False)
    if frame is None and st.button("Draw the map (UMAP; the first one takes 10–30 s)", key="g_map_go"):
        with st.spinner("Laying out the profiles…"):
            frame = explore.profile_map(ws, run_id=sim_run)
    if frame is not None:
        event = st.altair_chart(map_chart(frame, colour), on_select="rerun", key="g_map",
                                selection_mode="selection")
        box = (event.get("selection") or {}).get("selection") if event else None
        if box and "x" in box and "y" in box:
            (x0, x1), (y0, y1) = box["x"], box["y"]
            inside = frame["x"].between(x0, x1) & frame["y"].between(y0, y1)
            st.session_state["g_selected"] = frame.loc[inside, "gene"].tolist()
        chosen = st.session_state.get("g_selected", [])
        st.text(f"{len(frame):,} genes on the map; {len(chosen):,} selected (drag a box): "
                "the selection is a gene list for Enrichment and Network")


def gene_list(prefix: str, with_gene: bool = False) -> list[str]:
    """The list the Enrichment or Network tab works on, from the chosen source."""
    options = [s for s in SOURCES if s != "scan" or run_id]
    choice = st.radio("Gene list", options, format_func=SOURCES.get, horizontal=True, key=f"{prefix}_source")
    size = st.slider("Genes in a list made from the gene", 5, 500, 50, key=f"{prefix}_size") \
        if choice in ("partners", "similar", "scan") else 0
    if choice == "pasted":
        text = st.text_area("Gene names (commas, spaces or lines)", key=f"{prefix}_pasted")
        with store(ws) as con:
            parsed = explore.parse_gene_list(con, text or "")
        if parsed.unknown:
            st.warning(f"{len(parsed.unknown)} name(s) match no gene and were left out:")
            st.text("\n".join(parsed.unknown[:20]))
        return parsed.genes
    if choice == "selection":
        return list(st.session_state.get("g_selected", []))
    if not gene:
        st.info("Type a gene above, or paste a list.")
        return []
    return list_from(ws, choice, gene, top=size, run_id=sim_run if choice == "similar" else run_id,
                     with_gene=with_gene)


with enrich_tab, guard("the enrichment"):
    genes = gene_list("g_en")
    max_q = st.select_slider("Show terms with q at most", [0.001, 0.01, 0.05, 0.1, 0.25, 1.0], 0.05, key="g_en_q")
    if genes:
        result = explore.enrich(ws, genes)
        st.text(f"{len(genes):,} genes, {result.in_universe:,} annotated; universe {result.universe:,} "
                f"annotated genes; {result.tested:,} GO terms tested (BH over all of them)")
        shown = result.table[result.table["qvalue"] <= max_q]
        st.dataframe(shown, hide_index=True, key="g_enrichment",
                     column_config={"pvalue": st.column_config.NumberColumn("p", format="%.2e"),
                                    "qvalue": st.column_config.NumberColumn("q (BH)", format="%.2e"),
                                    "expected": st.column_config.NumberColumn(format="%.2f"),
                                    "fold": st.column_config.NumberColumn(format="%.2f")})
        st.download_button("Download the table (CSV)", result.table.to_csv(index=False), "enrichment.csv",
                           "text/csv", key="g_en_csv")
    else:
        st.info("The list is empty.")

with network_tab, guard("the network"):
    genes = gene_list("g_net", with_gene=True)
    c = st.columns(3)
    net_min = c[0].number_input("Edges with |ε| at least", 0.0, 2.0, SIGNIFICANT_EPSILON, 0.01, key="g_net_min")
    predicted = c[1].toggle("Add the run's predicted edges", key="g_net_pred", disabled=run_id is None)
    colour = c[2].radio("Colour genes by", ["module", "go_term"], horizontal=True, key="g_net_colour",
                        format_func={"module": "demo module", "go_term": "GO term"}.get)
    if not genes:
        st.info("The list is empty.")
    elif len(genes) > explore.MAX_GENES:
        st.warning(f"{len(genes):,} genes: the network is drawn for at most {explore.MAX_GENES}. "
                   "The bulk CSV (CLI: cre network --csv) has no limit.")
    else:
        net = explore.build_network(ws, genes, run_id=run_id if predicted else None, min_abs=net_min)
        kinds = net.edges["kind"].value_counts()
        m = st.columns(3)
        m[0].metric("Genes", f"{len(net.nodes):,}")
        m[1].metric("Measured edges", f"{int(kinds.get('measured', 0)):,}")
        m[2].metric("Predicted edges", f"{int(kinds.get('predicted', 0)):,}")
        st.altair_chart(network_chart(net.nodes, net.edges, colour), key="g_net_chart")
        with tempfile.TemporaryDirectory() as tmp:
            graphml = Path(explore.write_graphml(net, Path(tmp) / "network.graphml")).read_bytes()
            csv_path = Path(tmp) / "interactions.csv"
            explore.write_bulk_csv(ws, genes, csv_path, run_id=run_id)
            bulk = csv_path.read_bytes()
        d = st.columns(3)
        d[0].download_button("GraphML (Cytoscape)", graphml, "network.graphml", "application/xml", key="g_graphml")
        d[1].download_button("SIF", "\n".join(sif_lines(net)) + "\n", "network.sif", "text/plain", key="g_sif")
        d[2].download_button("All measured ε of these genes (CSV)", bulk, "interactions.csv", "text/csv",
                             key="g_bulk")
        st.dataframe(pd.DataFrame(net.edges), hide_index=True, key="g_net_edges")
