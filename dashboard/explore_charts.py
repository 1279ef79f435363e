"""Altair charts of the Genes page: measured vs predicted ε of a gene's partners, the map of
profiles (a box or click selection feeds the page's gene list), and the interaction network."""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.charts import AUTOSIZE

SIGN_COLOURS = alt.Scale(domain=["negative", "positive"], range=["#d62728", "#1f77b4"])
LABELLED = 60          # networks of at most this many genes name their nodes
MAP_COLOURS = {"Demo module": "module", "GO term (commonest direct BP term)": "go_term",
               "Partners measured": "n_partners"}


def comparison_chart(partners: pd.DataFrame) -> alt.Chart:
    """Measured ε against the run's ε̂, one point per partner."""
    data = partners.dropna(subset=["epsilon", "epsilon_pred"])
    return alt.Chart(data).mark_circle(size=28, opacity=0.7).encode(
        x=alt.X("epsilon:Q", title="measured ε"),
        y=alt.Y("epsilon_pred:Q", title="predicted ε̂"),
        tooltip=[alt.Tooltip("partner:N"), alt.Tooltip("name:N"), alt.Tooltip("epsilon:Q", format=".4f"),
                 alt.Tooltip("epsilon_pred:Q", title="ε̂", format=".4f")],
    ).properties(height=320, autosize=AUTOSIZE)


def map_chart(frame: pd.DataFrame, colour: str) -> alt.Chart:
    """The UMAP of profiles; drag a box or click points to select genes (``selection`` param)."""
    column = MAP_COLOURS[colour]
    data = frame.copy()
    data["module"] = data["module"].astype("string").fillna("none")
    pick = alt.selection_interval(name="selection", encodings=["x", "y"])
    if column == "n_partners":
        color = alt.Color("n_partners:Q", title="partners measured", scale=alt.Scale(scheme="viridis"))
    else:
        color = alt.Color(f"{column}:N", title=colour, scale=alt.Scale(scheme="category20"),
                          legend=alt.Legend(orient="right", symbolLimit=30, labelLimit=220))
    return alt.Chart(data).mark_circle(size=30).encode(
        x=alt.X("x:Q", title="UMAP 1", scale=alt.Scale(zero=False), axis=alt.Axis(grid=False)),
        y=alt.Y("y:Q", title="UMAP 2", scale=alt.Scale(zero=False), axis=alt.Axis(grid=False)),
        color=color,
        opacity=alt.condition(pick, alt.value(0.9), alt.value(0.25)),
        tooltip=[alt.Tooltip("gene:N"), alt.Tooltip("name:N"), alt.Tooltip("module:N", title="demo module"),
                 alt.Tooltip("go_term:N", title="GO term"), alt.Tooltip("n_partners:Q", title="partners"),
                 alt.Tooltip("smf:Q", title="SMF", format=".3f")],
    ).add_params(pick).properties(height=480, autosize=AUTOSIZE)


def network_chart(nodes: pd.DataFrame, edges: pd.DataFrame, colour: str = "module") -> alt.LayerChart:
    """Edges coloured by sign, as wide as |ε| (predicted ones dashed); nodes coloured by demo module
    or GO term and sized by SMF (sicker single mutants smaller)."""
    pos = nodes.set_index("gene")[["x", "y"]]
    lines = edges.join(pos, on="gene_a").join(pos.rename(columns={"x": "x2", "y": "y2"}), on="gene_b")
    data = nodes.copy()
    data["module"] = data["module"].astype("string").fillna("none")
    data["smf_size"] = data["smf"].fillna(data["smf"].median() if data["smf"].notna().any() else 1.0)
    link = alt.Chart(lines).mark_rule(opacity=0.55).encode(
        x=alt.X("x:Q", axis=None, scale=alt.Scale(zero=False)), y=alt.Y("y:Q", axis=None, scale=alt.Scale(zero=False)),
        x2="x2:Q", y2="y2:Q",
        color=alt.Color("sign:N", scale=SIGN_COLOURS, title="interaction"),
        strokeWidth=alt.StrokeWidth("abs_epsilon:Q", title="|ε|", scale=alt.Scale(range=[0.5, 4])),
        strokeDash=alt.StrokeDash("kind:N", title="edge", scale=alt.Scale(domain=["measured", "predicted"],
                                                                          range=[[1, 0], [4, 3]])),
        tooltip=[alt.Tooltip("gene_a:N"), alt.Tooltip("gene_b:N"), alt.Tooltip("epsilon:Q", format=".4f"),
                 alt.Tooltip("kind:N")])
    dots = alt.Chart(data).mark_circle(opacity=0.95, stroke="white", strokeWidth=0.5).encode(
        x="x:Q", y="y:Q",
        fill=alt.Fill(f"{colour}:N", title="demo module" if colour == "module" else "GO term",
                      scale=alt.Scale(scheme="category20"), legend=alt.Legend(symbolLimit=30, labelLimit=220)),
        size=alt.Size("smf_size:Q", title="SMF", scale=alt.Scale(range=[20, 220])),
        tooltip=[alt.Tooltip("gene:N"), alt.Tooltip("name:N"), alt.Tooltip("smf:Q", title="SMF", format=".3f"),
                 alt.Tooltip("module:N", title="demo module"), alt.Tooltip("go_term:N", title="GO term"),
                 alt.Tooltip("degree:Q", title="edges")])
    layers = [link, dots]
    if len(data) <= LABELLED:
        layers.append(alt.Chart(data).mark_text(dy=-10, fontSize=10, color="#333").encode(
            x="x:Q", y="y:Q", text="name:N"))
    return alt.layer(*layers).resolve_scale(color="independent").properties(height=560, autosize=AUTOSIZE)
