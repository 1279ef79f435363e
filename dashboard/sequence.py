"""The sequence encoder in the app: attribution tracks (Query page) and filter logos (Results).

Pages call ``attribution_section`` / ``motif_section`` with their runs table; the numbers come
from cre_core.interpret (one call each), the charts are Altair: a track of per-base scores per
window with motif hits as shaded spans, and sequence logos drawn as stacked bars (letter height
= probability × information content, in bits).
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from cre_core.workspace import Workspace
from dashboard.charts import AUTOSIZE
from dashboard.safe_text import md

BASE_COLOURS = {"A": "#2ca02c", "C": "#1f77b4", "G": "#ff7f0e", "T": "#d62728"}
HIT_COLOURS = {"planted": "#9467bd", "filter": "#8c8c8c"}


def encoder_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The finished runs trained with ``--embedder encoder``."""
    if runs.empty or "embedder" not in runs:
        return runs.iloc[0:0]
    return runs[runs["embedder"] == "encoder"]


def attribution_chart(result: dict, region: str) -> alt.LayerChart:
    """Per-base attribution of one window with its motif hits as shaded spans."""
    r = result["regions"][region]
    track = pd.DataFrame({"position": np.arange(len(r["scores"])), "score": r["scores"],
                          "base": list(r["sequence"])})
    window = alt.Scale(domain=[0, len(track) - 1], nice=False)       # the window, not rounded
    hits = pd.DataFrame([h for h in result["hits"] if h["region"] == region],
                        columns=["start", "end", "kind", "name", "strand", "score", "region"])
    spans = alt.Chart(hits).mark_rect(opacity=0.25).encode(
        x=alt.X("start:Q", scale=window), x2="end:Q",
        color=alt.Color("kind:N", title="motif hit", scale=alt.Scale(domain=list(HIT_COLOURS),
                                                                      range=list(HIT_COLOURS.values()))),
        tooltip=[alt.Tooltip("name:N", title="motif"), alt.Tooltip("kind:N"), alt.Tooltip("strand:N"),
                 alt.Tooltip("start:Q", title="from"), alt.Tooltip("end:Q", title="to")],
    )
    bars = alt.Chart(track).mark_bar(width=1.5).encode(
        x=alt.X("position:Q", title=f"{region} window position (5'→3', gene orientation)", scale=window),
        y=alt.Y("score:Q", title="attribution"),
        tooltip=[alt.Tooltip("position:Q"), alt.Tooltip("base:N"), alt.Tooltip("score:Q", format=".4f")],
    )
    return alt.layer(spans, bars).properties(height=180, title=f"{result['gene']} · {region}", autosize=AUTOSIZE)


def logo_frame(pwm: list[list[float]]) -> pd.DataFrame:
    """Long table of a logo: position, base, bottom, top (bits), letters stacked small to large."""
    p = np.asarray(pwm, dtype=float)
    info = 2.0 + (p * np.log2(np.clip(p, 1e-9, 1))).sum(1)
    rows = []
    for i, (col, bits) in enumerate(zip(p, info)):
        bottom = 0.0
        for b in np.argsort(col):
            height = float(col[b] * bits)
            rows.append({"position": i + 1, "base": "ACGT"[b], "bottom": bottom, "top": bottom + height,
                         "probability": float(col[b])})
            bottom += height
    return pd.DataFrame(rows)


def logo_chart(pwm: list[list[float]], title: str) -> alt.Chart:
    """A sequence logo as stacked bars (the base letter is in the tooltip and the colour)."""
    return alt.Chart(logo_frame(pwm), title=title).mark_bar().encode(
        x=alt.X("position:O", title="position"),
        y=alt.Y("bottom:Q", title="bits", scale=alt.Scale(domain=[0, 2])), y2="top:Q",
        color=alt.Color("base:N", scale=alt.Scale(domain=list(BASE_COLOURS), range=list(BASE_COLOURS.values()))),
        tooltip=["position:O", "base:N", alt.Tooltip("probability:Q", format=".2f")],
    ).properties(height=120, autosize=AUTOSIZE)        # the height is the plot's, not axes + legend


def attribution_section(ws: Workspace, runs: pd.DataFrame) -> None:
    """Query page: pick an encoder run and a gene; show its attribution tracks."""
    from cre_core.interpret import explain

    enc = encoder_runs(runs)
    if enc.empty:
        st.info("No chosen run reads the sequence: train with embedder **encoder** to see which "
                "bases drive a prediction.")
        return
    labels = dict(zip(enc["run_id"], enc["label"]))
    run = st.selectbox("Encoder run", list(labels), format_func=labels.get, key="q_attr_run")
    gene = st.text_input("Gene", key="q_attr_gene", placeholder="e.g. TFC3 or YAL001C").strip()
    if not gene:
        st.caption("Gradient × input of the predicted single-deletion fitness over the gene's "
                   "1,003 bp upstream and 300 bp downstream windows.")
        return
    result = explain(ws, run, gene)
    st.markdown(f"**{md(result['name'])}** ({md(result['gene'])}): predicted deletion fitness "
                f"{result['predicted_fitness']:.3f}")
    for region, r in result["regions"].items():
        st.altair_chart(attribution_chart(result, region), width="stretch")
        if "planted_mass" in r:
            st.caption(f"{r['planted_mass']:.0%} of the {md(region)} attribution lies on planted motifs, "
                       f"which cover {r['planted_share']:.1%} of the window.")


def motif_section(ws: Workspace, runs: pd.DataFrame, top: int = 8) -> None:
    """Results page: an encoder run's most used filters as logos with their planted matches."""
    from cre_core.interpret import motif_report

    enc = encoder_runs(runs)
    if enc.empty:
        return
    st.subheader("Motifs the sequence encoder learned")
    labels = dict(zip(enc["run_id"], enc["label"]))
    run = st.selectbox("Encoder run", list(labels), format_func=labels.get, key="res_motif_run")
    report = motif_report(ws, run, top=top)
    if "fraction_recovered" in report:
        st.caption(f"{report['recovered']} of {report['n_planted']} planted motifs recovered "
                   f"(a filter matches with score ≥ {report['threshold']}).")
    cols = st.columns(2)
    for i, f in enumerate(report["filters"]):
        match = (f" · {f['match']} {f['match_score']:.2f}" if f["match"] else "")
        cols[i % 2].altair_chart(logo_chart(f["pwm"], f"filter {f['filter']}{match}"), width="stretch")
