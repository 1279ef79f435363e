"""Datasets: browse genes, SMF, DMF and raw SGA rows; histograms; gene detail; a read-only SQL box."""

from pathlib import Path

import streamlit as st

from cre_core.data import UnknownGeneError
from cre_core.query import browse, run_readonly_sql
from cre_core.workspace import Workspace
from dashboard.charts import histogram_chart, partner_chart
from dashboard.safe_text import md, md_join
from dashboard.support import current_workspace, gene_label, guard, require_store, shared_mode, shared_note, store

st.title("Datasets")
ws = current_workspace()


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _page(db: str, stamp: tuple[int, ...], table: str, filters: browse.Filters, page: int, page_size: int,
          sort: str | None, descending: bool) -> browse.Page:
    with store(Workspace(Path(db).parent)) as con:
        return browse.browse(con, table, filters, page=page, page_size=page_size, sort=sort,
                             descending=descending)


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _histogram(db: str, stamp: tuple[int, ...], table: str, column: str, filters: browse.Filters):
    with store(Workspace(Path(db).parent)) as con:
        return browse.histogram(con, table, column, filters)


@st.cache_data(ttl=600, max_entries=16, show_spinner=False)
def _choices(db: str, stamp: tuple[int, ...], table: str) -> dict:
    with store(Workspace(Path(db).parent)) as con:
        return browse.distinct_values(con, table)


def browse_tab(stamp: tuple[int, ...]) -> None:
    db = str(ws.db_path)
    labels = {key: spec.label for key, spec in browse.TABLES.items()}
    table = st.selectbox("Table", list(labels), format_func=labels.get, index=3, key="ds_table")
    spec = browse.spec(table)
    choices = _choices(db, stamp, table)

    c1, c2, c3 = st.columns([2, 1, 1])
    search = c1.text_input("Gene (systematic or standard name, or a prefix)", key="ds_search",
                           placeholder="e.g. YAL001C or TFC3")
    fmin = c2.number_input(f"{spec.fitness} ≥", value=None, step=0.05, format="%.3f", key="ds_fmin",
                           placeholder="any")
    fmax = c3.number_input(f"{spec.fitness} ≤", value=None, step=0.05, format="%.3f", key="ds_fmax",
                           placeholder="any")
    kinds, temps, significant = [], [], False
    if choices["kinds"] or choices["temperatures"] or spec.epsilon:
        c1, c2, c3 = st.columns([2, 1, 1])
        if choices["kinds"]:
            kinds = c1.multiselect("Allele kinds to keep", choices["kinds"], key="ds_kinds",
                                   placeholder="all kinds",
                                   help="Rows whose alleles are all of these kinds (empty: all). "
                                        "Choose only `deletion` to leave out ts and DAmP alleles.")
        if choices["temperatures"]:
            temps = c2.multiselect("Temperature (°C)", choices["temperatures"], key="ds_temps",
                                   placeholder="all")
        if spec.epsilon:
            significant = c3.toggle(
                "Significant ε only", key="ds_sig",
                help=f"|ε| > {browse.SIGNIFICANT_EPSILON}"
                     + (f" and p < {browse.SIGNIFICANT_P}" if spec.pvalue else " (pairs have no p-value)")
                     + ": Costanzo 2016's intermediate cut-off")
    c1, c2, c3 = st.columns([2, 1, 1])
    sort = c1.selectbox("Sort by", ["(stored order)", *spec.sortable], key="ds_sort")
    descending = c2.toggle("Descending", key="ds_desc")
    page_size = c3.selectbox("Rows per page", [25, 50, 100, 250], index=1, key="ds_page_size")

    filters = browse.Filters(search=search or "", fitness_min=fmin, fitness_max=fmax,
                             kinds=tuple(kinds), temperatures=tuple(temps), significant=significant)
    sort_by = None if sort == "(stored order)" else sort
    page_key = f"ds_page_{table}_{hash((filters, page_size, sort_by, descending))}"
    result = _page(db, stamp, table, filters, st.session_state.get(page_key, 1), page_size,
                   sort_by, descending)
    total = result.total
    if search and not result.matched_genes:
        st.warning(f"No gene matches '{md(search)}'. Try a systematic name (YAL001C), a standard "
                   "name, or the first letters of either.")
    elif search:
        shown = md_join(result.matched_genes[:12]) + (" …" if len(result.matched_genes) > 12 else "")
        st.caption(f"Search matches {len(result.matched_genes)} gene(s): {shown}")
    st.markdown(f"**{total:,}** rows match · page {result.page:,} of {result.n_pages:,}")
    if total == 0:
        st.info("Nothing matches these filters: widen the fitness range or clear the search.")
    else:
        st.dataframe(result.rows, hide_index=True, key="ds_rows")
    # The page shown was read from this widget's state above; a click reruns with the new page.
    st.pagination(result.n_pages, key=page_key)

    if total:
        st.subheader("Distributions of the matching rows")
        cols = st.columns(len(spec.histograms))
        titles = {"fitness": "fitness", "smf": "single-mutant fitness",
                  "dmf": "double-mutant fitness", "epsilon": "interaction score ε"}
        for col, column in zip(cols, spec.histograms):
            bins = _histogram(db, stamp, table, column, filters)
            col.altair_chart(histogram_chart(bins, titles.get(column, column),
                                             title=f"{spec.label}: {titles.get(column, column)}"))


def detail_tab() -> None:
    text = st.text_input("Gene (systematic or standard name)", key="ds_detail_gene",
                         placeholder="e.g. YAL001C")
    if not text:
        st.info("Type a gene to see its CRE windows, single-mutant fitness, strongest partners "
                "and GO annotations.")
        return
    top_k = st.slider("Strongest partners to show", 5, 50, 15, key="ds_topk")
    try:
        with store(ws) as con:
            d = browse.gene_detail(con, text, top_k=top_k)
    except UnknownGeneError as exc:
        st.warning(f"Unknown gene '{md(exc.name)}'."
                   + (f" Did you mean: {md_join(exc.suggestions)}?" if exc.suggestions else ""))
        return
    st.subheader(gene_label(d.gene, d.info.get("name")))
    info = d.info
    st.caption(f"{md(info.get('chrom'))}:{info.get('start'):,}-{info.get('stop'):,} ({md(info.get('strand'))}) · "
               f"{md(info.get('orf_class') or 'no ORF class')}")
    c = st.columns(3)
    c[0].metric("Single-mutant fitness", f"{d.smf['fitness']:.3f}" if d.smf else "not measured",
                help=f"std {d.smf['std']:.3f} over {d.smf['n']} measurement(s)" if d.smf else None)
    c[1].metric("Measured partners (DMF pairs)", f"{d.n_pairs:,}")
    c[2].metric("GO annotations", f"{len(d.go):,}")
    st.markdown("**CRE windows** (5'→3' in the gene's orientation)")
    st.dataframe(d.windows.drop(columns=["sequence"]), hide_index=True)
    with st.expander("Window sequences"):
        for _, w in d.windows.iterrows():
            st.code(w["sequence"], language=None, wrap_lines=True)
    st.markdown("**Strongest partners** (largest |ε| first)")
    if d.partners.empty:
        st.info("No measured double mutants with this gene.")
    else:
        st.altair_chart(partner_chart(d.partners.rename(columns={"epsilon": "measured"}),
                                      "measured", "measured ε with this gene"))
        st.dataframe(d.partners, hide_index=True)
    if not d.smf_raw.empty:
        with st.expander("SMF per strain and temperature"):
            st.dataframe(d.smf_raw, hide_index=True)
    if not d.go.empty:
        with st.expander("GO annotations"):
            st.dataframe(d.go, hide_index=True)


def sql_tab() -> None:
    st.caption("One read-only statement (SELECT, EXPLAIN or PRAGMA) on this workspace's store. "
               "No file access; results capped by the row and time limits. Tables: genes, windows, "
               "smf, smf_raw, dmf, sga, go_terms, go_edges, go_annotations, sources, meta.")
    sql = st.text_area("SQL", key="ds_sql", height=120,
                       value="SELECT gene_a, gene_b, fitness, epsilon FROM dmf ORDER BY epsilon LIMIT 20")
    c1, c2, c3 = st.columns([1, 1, 2])
    limit = c1.number_input("Row limit", 1, 100_000, 1000, key="ds_sql_limit")
    seconds = c2.number_input("Time limit (s)", 1, 120, 10, key="ds_sql_time")
    if c3.button("Run query", type="primary", key="ds_sql_run"):
        with guard("the SQL box"):
            res = run_readonly_sql(str(ws.db_path), sql, row_limit=int(limit),
                                          time_limit_s=float(seconds))
            st.caption(f"{len(res.frame):,} row(s) in {res.seconds * 1000:.0f} ms"
                       + (f" · truncated at the {int(limit):,}-row limit" if res.truncated else ""))
            st.dataframe(res.frame, hide_index=True)


with guard("Datasets"):
    if require_store(ws):
        stamp = ws.store_stamp()
        tab_browse, tab_gene, tab_sql = st.tabs(["Browse", "Gene detail", "SQL"])
        with tab_browse:
            with guard("Datasets · Browse"):
                browse_tab(stamp)
        with tab_gene:
            with guard("Datasets · Gene detail"):
                detail_tab()
        with tab_sql:
            if shared_mode():
                shared_note("the SQL box")
            else:
                sql_tab()
