"""Home: which workspace is open, what it holds, where it came from, what to do next."""

import streamlit as st

from cre_core.overview import embedding_table, overview
from dashboard.safe_text import md, md_code
from dashboard.support import current_workspace, guard, page_link, require_store, shared_mode

st.title("CRE Fitness Lab")
st.caption("Predict yeast gene-deletion fitness from the cis-regulatory DNA around each deleted gene.")

ws = current_workspace()
st.markdown(f"**Workspace:** {md_code(ws.root)}")

with guard("Home"):
    if require_store(ws):
        info = overview(ws)
        c = info.counts
        cols = st.columns(4)
        cols[0].metric("Genes", f"{c['genes']:,}", help="rows of `genes` (CRE windows: "
                       f"{c['windows']:,})")
        cols[1].metric("Single mutants (SMF)", f"{c['smf']:,}", help="genes with a single-mutant fitness")
        cols[2].metric("Gene pairs (DMF)", f"{c['dmf']:,}", help="canonical pairs with a double-mutant fitness")
        cols[3].metric("Raw SGA rows", f"{c['sga']:,}", help="every measurement as ingested")
        cols = st.columns(4)
        cols[0].metric("GO terms", f"{c['go_terms']:,}", help=f"{c['go_annotations']:,} gene annotations")
        cols[1].metric("Embedding caches", f"{len(info.embeddings):,}",
                       help=f"{len(info.unreadable_embeddings):,} more cannot be read (see Embeddings)"
                       if info.unreadable_embeddings else None)
        cols[2].metric("Training runs", f"{info.n_runs:,}")
        cols[3].metric("Finished runs", f"{info.runs.get('done', 0):,}")

        st.subheader("Where it came from")
        if info.demo:
            st.info(f"Demo workspace: preset **{md(info.demo.get('demo_preset'))}**, seed "
                    f"**{md(info.demo.get('demo_seed', '?'))}**. Synthetic genome and screens in the "
                    "real file formats; fitness is driven by planted regulatory motifs (README).")
        if info.sources.empty:
            st.write("No files ingested yet.")
        else:
            st.dataframe(info.sources, hide_index=True, column_config={
                "rows": st.column_config.NumberColumn("rows", format="localized"),
                "ingested_at": st.column_config.DatetimeColumn("ingested at", format="YYYY-MM-DD HH:mm"),
            })
        if info.meta:
            with st.expander("Workspace notes (meta)"):
                st.json(info.meta)
        if info.embeddings:
            with st.expander("Embedding caches"):
                st.dataframe(embedding_table(ws), hide_index=True)
        if info.runs:
            st.caption("Runs by status: " + ", ".join(f"{md(k)} {v}" for k, v in sorted(info.runs.items())))

        st.subheader("Next steps")
        page_link("pages/datasets.py", label="Browse genes, SMF, DMF and raw SGA rows", icon=":material/table:")
        page_link("pages/embeddings.py", label="Embed the CRE windows and look at their UMAP"
                  + ("" if info.embeddings else " (none yet: the k-mer embedding takes seconds)"),
                  icon=":material/scatter_plot:")
        if not shared_mode():
            page_link("pages/train.py", label="Train a model" + ("" if info.n_runs else
                      " (no runs yet: start one here)"), icon=":material/model_training:")
        page_link("pages/results.py", label="Compare finished runs", icon=":material/leaderboard:")
        page_link("pages/query.py", label="Predict the fitness of a gene deletion set", icon=":material/search:")
