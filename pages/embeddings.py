"""Embeddings: what is embedded with which model and when, a UMAP of it, and new embedding runs."""

from pathlib import Path

import pandas as pd
import streamlit as st

from cre_core.embed import (
    DEFAULT_MODEL,
    DEFAULT_SPECIES,
    EMBEDDERS,
    REGIONS,
    UnreadableUmap,
    device_note,
    embed_workspace,
    feature_regions,
    jobs,
    list_embeddings,
    make_embedder,
    module_separation,
    umap_frame,
    unreadable_caches,
)
from cre_core.processes import log_tail
from cre_core.workspace import Workspace
from dashboard.charts import COLOURS, umap_chart
from dashboard.safe_text import md, md_code, md_join
from dashboard.support import current_workspace, guard, require_store, shared_mode, shared_note

st.title("Embeddings")
st.caption("Each gene's upstream (1003 bp) and downstream (300 bp) CRE window as a vector: "
           "composition and enriched-motif counts on any CPU, SpeciesLM on a GPU, or the random "
           "control.")
ws = current_workspace()
MESSAGE = "embed_message"
EMBEDDER_HELP = {
    "kmer": "Base composition (k = 1..4) plus counts of the genome's enriched 8-mers (words far "
            "more common across windows than composition predicts: candidate motifs). No "
            "weights; seconds on a CPU.",
    "random": "A fixed seeded Gaussian vector per gene: the control that says whether sequence helps.",
    "specieslm": "SpeciesLM hidden states (layers 8..12). Needs the model in a local folder or "
                 "your hub cache; runs in the background, on the GPU when there is one.",
}


@st.cache_data(show_spinner=False, max_entries=16)
def cached_umap(root: str, embedder: str, features: str, seed: int, model, stamp, store_stamp):
    """The UMAP frame if it was computed (``stamp`` = cache times, so new embeddings refresh;
    ``store_stamp``: the store's version, which says each gene's demo module)."""
    return umap_frame(Workspace(Path(root)), embedder, features, seed=seed, model=model, compute=False)


def embedded_table(table) -> None:
    st.subheader("What is embedded")
    if table.empty:
        st.info("Nothing is embedded in this workspace yet. Compute the k-mer embedding below "
                "(a few seconds), or from a shell:\n\n"
                + md_code(f"python -m cre_core embed --workspace {ws.root} --embedder kmer"))
        return
    st.dataframe(
        table.drop(columns=["model_arg"]), hide_index=True,
        column_config={
            "model": st.column_config.TextColumn("model", width="medium"),
            "n_genes": st.column_config.NumberColumn("genes", format="localized"),
            "dim": st.column_config.NumberColumn("dim"),
            "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
            "seconds": st.column_config.NumberColumn("seconds", format="%.1f",
                                                     help="time spent computing the vectors"),
            "path": st.column_config.TextColumn("file (under embeddings/)"),
        },
    )


def umap_section(table) -> None:
    st.subheader("UMAP")
    if table.empty:
        st.info("The UMAP appears here once something is embedded.")
        return
    table = table.assign(source=[e if m is None else f"{e} · {m}"
                                 for e, m in zip(table["embedder"], table["model_arg"])])
    cols = st.columns([2, 1, 1, 1])
    source = cols[0].selectbox("Embedding", sorted(table["source"].unique()), key="emb_source")
    rows = table[table["source"] == source]
    regions = set(rows["region"])
    options = [f for f in ("both", *REGIONS) if set(feature_regions(f)) <= regions]
    features = cols[1].selectbox("Features", options, key="emb_features",
                                 help="both = upstream and downstream vectors side by side")
    colour = cols[2].selectbox("Colour by", list(COLOURS), key="emb_colour")
    seed = int(cols[3].number_input("Seed", min_value=0, value=0, step=1, key="emb_seed"))
    embedder, model = rows["embedder"].iloc[0], rows["model_arg"].iloc[0]
    stamp = tuple(rows["created"].astype(str))
    try:
        frame = cached_umap(str(ws.root), embedder, features, seed, model, stamp, ws.store_stamp())
        unreadable = None
    except UnreadableUmap as exc:          # a broken cache file: offer to compute it again
        frame, unreadable = None, exc
    if frame is None:
        if unreadable is not None:
            st.warning("The cached UMAP of this embedding cannot be read; Compute replaces it.")
            st.text(str(unreadable))
        else:
            st.info("No UMAP of this embedding yet.")
        if not shared_mode() and st.button("Compute UMAP", type="primary", key="emb_umap_go"):
            with st.spinner("Computing the UMAP (the first one in a session also loads umap-learn, "
                            "10-30 s)…"):
                umap_frame(ws, embedder, features, seed=seed, model=model, replace=True)
            cached_umap.clear()
            st.rerun()
        model_opt = f" --model {model}" if model else ""
        st.caption("or: " + md_code(f"python -m cre_core umap --workspace {ws.root} --embedder {embedder}"
                                    f"{model_opt} --features {features} --seed {seed}"))
        return
    if colour == "Demo module" and frame["module"].isna().all():
        st.caption("No demo modules in this workspace (real data): every gene shows as 'none'.")
    st.altair_chart(umap_chart(frame, colour), width="stretch")
    st.caption(f"{len(frame):,} genes · {md(embedder)} · {md(features)} · seed {seed}. Scroll to zoom, "
               "drag to pan, click a legend entry to highlight it; hover a point for the gene.")


@st.cache_data(show_spinner=False, max_entries=8)
def cached_separation(root: str, stamp, store_stamp):
    """kNN module accuracy of every cached embedding (``stamp``: cache times; ``store_stamp``:
    the store's version, which holds the demo modules)."""
    return module_separation(Workspace(Path(root)))


def separation_section(table) -> None:
    frame = cached_separation(str(ws.root), tuple(table["created"].astype(str)), ws.store_stamp())
    if frame.empty:
        return
    st.subheader("Which representation separates the modules?")
    st.caption("Demo workspaces only: leave-one-out accuracy of predicting a gene's planted "
               f"module from its {int(frame['k'].iloc[0])} nearest neighbours (cosine), next to "
               "the same classifier on shuffled modules. A representation that reads the planted "
               "motifs scores far above the shuffled column; the random control should not.")
    st.dataframe(
        frame.drop(columns=["k"]), hide_index=True,
        column_config={
            "model": st.column_config.TextColumn("model", width="medium"),
            "knn_accuracy": st.column_config.ProgressColumn(
                "kNN module accuracy", format="%.2f", min_value=0.0, max_value=1.0),
            "shuffled": st.column_config.NumberColumn("shuffled modules", format="%.2f"),
        },
    )


def run_form() -> None:
    st.subheader("Compute embeddings")
    embedder = st.selectbox("Embedder", EMBEDDERS, key="emb_new_embedder",
                            help=" ".join(f"**{k}**: {v}" for k, v in EMBEDDER_HELP.items()))
    st.caption(EMBEDDER_HELP[embedder])
    if embedder == "specieslm":
        st.caption(device_note())
    with st.form("emb_run"):
        regions = st.multiselect("Regions", list(REGIONS), default=list(REGIONS))
        model = species = batch = None
        device = "auto"
        if embedder == "specieslm":
            c1, c2 = st.columns(2)
            model = c1.text_input("Model", value=DEFAULT_MODEL, help="a folder with config.json, "
                                  "a folder holding upstream_species_lm/ and downstream_species_lm/, "
                                  "or a hub id in your local hub cache (never downloaded)")
            species = c2.text_input("Species token", value=DEFAULT_SPECIES)
            device = c1.selectbox("Device", ["auto", "cuda", "cpu"], help="auto = the GPU when present")
            batch = c2.number_input("Batch size", min_value=1, value=None, placeholder="default",
                                    help="windows per batch (default 64 on a GPU, 8 on a CPU)")
        go = st.form_submit_button("Compute", type="primary")
    if not go:
        return
    if not regions:
        st.warning("Choose at least one region.")
        return
    if embedder == "specieslm":
        job = jobs.launch(ws, embedder, model=model or None, regions=regions, device=device,
                          batch_size=int(batch) if batch else None, species=species or None)
        st.session_state[MESSAGE] = f"Started background run {job}; its progress shows below."
        st.rerun()
    bar = st.progress(0.0, text="Reading the windows…")

    def progress(region: str, done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"{region}: {done:,} / {total:,} windows")

    results = embed_workspace(ws, make_embedder(embedder), regions, progress=progress)
    st.session_state[MESSAGE] = "; ".join(
        f"{r.region}: {r.computed:,} computed, {r.cached:,} cached in {r.seconds:.1f} s" for r in results)
    st.rerun()


def job_panel(job: dict) -> None:
    state = job["state"]
    colour = {"done": "green", "running": "blue", "starting": "gray"}.get(state, "red")
    st.markdown(f"**{md(job['job'])}** :{colour}-badge[{md(state)}] · {md(job.get('embedder'))} · "
                f"{md_code(job.get('model') or 'default')} · {md_join(job.get('regions') or [])}")
    if state == "running" and job.get("total"):
        st.progress(min(1.0, job["done"] / job["total"]),
                    text=f"{md(job['region'])}: {job['done']:,} / {job['total']:,} windows")
    for result in job.get("results") or []:
        st.caption(f"{md(result['region'])}: {result['computed']:,} computed, {result['cached']:,} "
                   f"cached, {result['seconds']:.1f} s")
    if job.get("error"):
        st.error(md(job["error"]))
    with st.expander("Log"):
        st.code(log_tail(Path(job["log"]), 15) or "(empty)", language=None)


@st.fragment(run_every=2)
def live_jobs() -> None:
    with guard("background runs"):
        listed = jobs.list_jobs(ws, limit=5)
        for job in listed:
            job_panel(job)
        live = {j["job"] for j in listed if j["state"] in ("starting", "running")}
        if st.session_state.get("emb_live", set()) - live:   # a run just ended: refresh the page
            st.session_state["emb_live"] = live
            st.rerun(scope="app")
        st.session_state["emb_live"] = live


with guard("Embeddings"):
    if require_store(ws):
        if st.session_state.get(MESSAGE):
            st.success(st.session_state.pop(MESSAGE))
        table = list_embeddings(ws)
        embedded_table(table)
        broken = unreadable_caches(ws)
        if broken:
            st.warning(f"{len(broken)} cache file(s) cannot be read and are left out (embed again to rewrite them):")
            st.dataframe(pd.DataFrame(broken, columns=["file", "problem"]), hide_index=True, key="emb_unreadable")
        umap_section(table)
        separation_section(table)
        if shared_mode():
            shared_note("computing embeddings")
        else:
            run_form()
        recent = jobs.list_jobs(ws, limit=5)
        if recent:
            st.subheader("Background runs")
            if any(j["state"] in ("starting", "running") for j in recent):
                live_jobs()
            else:
                for job in recent:
                    job_panel(job)
