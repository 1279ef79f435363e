"""Altair charts of the app, and the small summaries they draw (bins, box stats, density).

Every chart has axis titles and tooltips. Summaries are computed here in pandas/numpy so the
browser receives at most a few thousand marks, whatever the number of points behind them.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

DENSITY_ABOVE = 5000      # predicted-vs-true switches from points to a 2D histogram above this n
# Width follows the container, height is the plot's own: legends and titles add to it instead
# of squeezing the plot (Streamlit otherwise fits everything into the declared height).
AUTOSIZE = alt.AutoSizeParams(type="fit-x", contains="padding")


def histogram_chart(bins: pd.DataFrame, x_title: str, title: str | None = None) -> alt.Chart:
    """Bars of a histogram computed elsewhere (columns start, end, count)."""
    chart = alt.Chart(bins, title=title or "").mark_bar(binSpacing=0).encode(
        x=alt.X("start:Q", title=x_title, bin="binned"),
        x2="end:Q",
        y=alt.Y("count:Q", title="rows"),
        tooltip=[
            alt.Tooltip("start:Q", title="from", format=".3f"),
            alt.Tooltip("end:Q", title="to", format=".3f"),
            alt.Tooltip("count:Q", title="rows", format=","),
        ],
    )
    return chart.properties(height=220, autosize=AUTOSIZE)


def _band_axis(label_limit: int) -> alt.Axis:
    """A category axis with long labels: its title sits above the labels, not across them."""
    return alt.Axis(labelLimit=label_limit, titleAngle=0, titleAnchor="end", titleAlign="right",
                    titleBaseline="bottom", titleY=-4)


def _legend(title: str) -> alt.Legend:
    """Legends go under the chart so long run labels never squeeze the plot."""
    return alt.Legend(title=title, orient="bottom", direction="vertical", labelLimit=520)


def curves_chart(
    frame: pd.DataFrame, x: str, x_title: str, y_title: str, title: str | None = None,
) -> alt.Chart:
    """Lines of ``value`` over ``x`` (long format: run, metric, value).

    One run: a colour per metric. Several runs: a colour per run and a dash per metric.
    """
    several = frame["run"].nunique() > 1
    enc = {"color": alt.Color("metric:N", legend=_legend("metric"))}
    if several:
        enc = {"color": alt.Color("run:N", legend=_legend("run")),
               "strokeDash": alt.StrokeDash("metric:N", legend=alt.Legend(
                   title="metric", orient="top", direction="horizontal"))}
    return alt.Chart(frame, title=title or "").mark_line(point=len(frame) < 80).encode(
        x=alt.X(f"{x}:Q", title=x_title, axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("metric:N"), alt.Tooltip(f"{x}:Q", title=x_title),
                 alt.Tooltip("value:Q", title=y_title, format=".4f")],
        **enc,
    ).properties(height=260, autosize=AUTOSIZE)


def epoch_curves(epochs: pd.DataFrame, run_label: str | None = None) -> tuple[alt.Chart, alt.Chart]:
    """Loss and validation-score curves of one or more runs (read_epoch_metrics + ``run``)."""
    frame = epochs.copy()
    if "run" not in frame:
        frame["run"] = run_label or "run"
    names = {"train_loss": "train", "val_loss": "validation", "val_pearson": "Pearson r",
             "val_spearman": "Spearman ρ", "val_r2": "R²"}

    def long(cols):
        cols = [c for c in cols if c in frame]
        out = frame.melt(["run", "epoch"], cols, var_name="metric", value_name="value")
        out["metric"] = out["metric"].map(names)
        return out.dropna(subset=["value"])

    return (
        curves_chart(long(["train_loss", "val_loss"]), "epoch", "epoch", "loss (MSE)", title="Loss"),
        curves_chart(long(["val_pearson", "val_spearman", "val_r2"]), "epoch", "epoch",
                     "validation score", title="Validation Pearson, Spearman and R²"),
    )


def _run_colour(steps: pd.DataFrame, legend: bool = True) -> alt.Color:
    """Colour by run over every run in ``steps``, so a run keeps its colour in every chart
    even where some runs have no points (e.g. a wt_loss of zero on a log axis)."""
    domain = sorted(steps["run"].dropna().unique().tolist())
    return alt.Color("run:N", scale=alt.Scale(domain=domain),
                     legend=_legend("run") if legend else None)


def step_chart(steps: pd.DataFrame, column: str, y_title: str, log: bool = False) -> alt.Chart:
    """One step metric (loss, wt_loss, grad_norm...) over training steps, one line per run."""
    frame = steps[["run", "step", column]].dropna().rename(columns={column: "value"})
    if log:                                   # a log axis cannot show zeros (e.g. an anchored wt_loss)
        frame = frame[frame["value"] > 0]
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    return alt.Chart(frame, title=y_title).mark_line(strokeWidth=1.2).encode(
        x=alt.X("step:Q", title="training step"),
        y=alt.Y("value:Q", title=y_title, scale=scale),
        color=_run_colour(steps),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("step:Q", title="step"),
                 alt.Tooltip("value:Q", title=y_title, format=".4g")],
    ).properties(height=220, autosize=AUTOSIZE)


def wt_mean_chart(steps: pd.DataFrame, spikes: pd.DataFrame, threshold: float) -> alt.LayerChart:
    """wt_mean per step for each run, the 1.0 line, the ±threshold band and the spikes."""
    frame = steps[["run", "step", "wt_mean"]].dropna()
    band = pd.DataFrame({"lo": [1 - threshold], "hi": [1 + threshold]})
    band_layer = alt.Chart(band).mark_rect(opacity=0.12, color="green").encode(
        y=alt.Y("lo:Q"), y2="hi:Q",
        tooltip=[alt.Tooltip("lo:Q", title="band from", format=".3f"),
                 alt.Tooltip("hi:Q", title="band to", format=".3f")],
    )
    one = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(color="black", strokeDash=[4, 3]).encode(
        y="y:Q", tooltip=[alt.Tooltip("y:Q", title="wild type")],
    )
    lines = alt.Chart(frame).mark_line(strokeWidth=1.3).encode(
        x=alt.X("step:Q", title="training step"),
        y=alt.Y("wt_mean:Q", title="predicted wild-type fitness (wt_mean)", scale=alt.Scale(zero=False)),
        color=_run_colour(steps),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("step:Q"), alt.Tooltip("wt_mean:Q", format=".4f")],
    )
    layers = [band_layer, one, lines]
    if not spikes.empty:
        layers.append(alt.Chart(spikes).mark_point(shape="triangle-up", size=60, filled=True).encode(
            x="step:Q", y="wt_mean:Q", color=_run_colour(steps, legend=False),
            tooltip=[alt.Tooltip("run:N"), alt.Tooltip("step:Q", title="spike at step"),
                     alt.Tooltip("wt_mean:Q", format=".4f"),
                     alt.Tooltip("deviation:Q", title="|wt_mean − 1|", format=".4f")],
        ))
    return alt.layer(*layers).properties(height=320, title="wt_mean per step", autosize=AUTOSIZE)


def box_chart(stats: pd.DataFrame) -> alt.LayerChart:
    """The seed report's box plots: predicted fitness per bin of true fitness, runs side by side.

    ``stats``: run, bin, order, n, p05, q1, median, q3, p95 (whiskers at the 5th/95th percentile).
    """
    order = stats.sort_values("order")["bin"].drop_duplicates().tolist()
    tips = [alt.Tooltip("run:N"), alt.Tooltip("bin:N", title="true fitness"),
            alt.Tooltip("n:Q", format=","), alt.Tooltip("median:Q", format=".3f"),
            alt.Tooltip("q1:Q", format=".3f"), alt.Tooltip("q3:Q", format=".3f"),
            alt.Tooltip("p05:Q", title="5th percentile", format=".3f"),
            alt.Tooltip("p95:Q", title="95th percentile", format=".3f")]
    base = alt.Chart(stats).encode(
        x=alt.X("bin:N", title="true fitness bin", sort=order, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("run:N"), color=alt.Color("run:N", legend=_legend("run")), tooltip=tips)
    whisker = base.mark_rule().encode(y=alt.Y("p05:Q", title="predicted fitness"), y2="p95:Q")
    box = base.mark_bar(size=14, opacity=0.75).encode(y="q1:Q", y2="q3:Q")
    median = base.mark_tick(color="black", size=14, thickness=2).encode(y="median:Q")
    return alt.layer(whisker, box, median).properties(
        height=320, autosize=AUTOSIZE, title="Predicted fitness by bin of true fitness")


def density_grid(true: np.ndarray, predicted: np.ndarray, bins: int = 60) -> pd.DataFrame:
    """2D histogram of (true, predicted) on a common square range: x0, x1, y0, y1, count."""
    both = np.concatenate([true, predicted])
    lo, hi = float(np.nanmin(both)), float(np.nanmax(both))
    if hi <= lo:
        hi = lo + 1e-6
    counts, xe, ye = np.histogram2d(true, predicted, bins=bins, range=[[lo, hi], [lo, hi]])
    ix, iy = np.nonzero(counts)
    return pd.DataFrame({"x0": xe[ix], "x1": xe[ix + 1], "y0": ye[iy], "y1": ye[iy + 1],
                         "count": counts[ix, iy].astype(int)})


def pred_vs_true_chart(predictions: pd.DataFrame, run: str) -> alt.LayerChart:
    """Predicted vs true fitness with the identity line: points, or density for large n."""
    frame = predictions[["true", "predicted"]].dropna()
    lo = float(min(frame["true"].min(), frame["predicted"].min())) if len(frame) else 0.0
    hi = float(max(frame["true"].max(), frame["predicted"].max())) if len(frame) else 1.0
    diag = alt.Chart(pd.DataFrame({"x": [lo, hi], "y": [lo, hi]})).mark_line(
        color="gray", strokeDash=[4, 3]).encode(x="x:Q", y="y:Q",
                                                tooltip=[alt.Tooltip("x:Q", title="y = x")])
    x_title, y_title = "true fitness", "predicted fitness"
    if len(frame) > DENSITY_ABOVE:
        grid = density_grid(frame["true"].to_numpy(), frame["predicted"].to_numpy())
        main = alt.Chart(grid).mark_rect().encode(
            x=alt.X("x0:Q", title=x_title, bin="binned"), x2="x1:Q",
            y=alt.Y("y0:Q", title=y_title, bin="binned"), y2="y1:Q",
            color=alt.Color("count:Q", title="pairs", scale=alt.Scale(type="log", scheme="viridis")),
            tooltip=[alt.Tooltip("x0:Q", title="true from", format=".3f"),
                     alt.Tooltip("y0:Q", title="predicted from", format=".3f"),
                     alt.Tooltip("count:Q", title="pairs", format=",")],
        )
    else:
        main = alt.Chart(frame).mark_circle(size=14, opacity=0.5).encode(
            x=alt.X("true:Q", title=x_title), y=alt.Y("predicted:Q", title=y_title),
            tooltip=[alt.Tooltip("true:Q", format=".3f"), alt.Tooltip("predicted:Q", format=".3f")],
        )
    return alt.layer(main, diag).properties(height=320, title=f"Predicted vs true: {run}",
                                            autosize=AUTOSIZE)


def metric_bars(table: pd.DataFrame, metric: str, title: str) -> alt.Chart:
    """One bar per run for a metric of the comparison table (columns run, <metric>)."""
    return alt.Chart(table, title=title).mark_bar().encode(
        x=alt.X(f"{metric}:Q", title=title),
        y=alt.Y("run:N", title="run", sort="-x", axis=_band_axis(360)),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip(f"{metric}:Q", title=title, format=".4f")],
    ).properties(height=alt.Step(26), autosize=AUTOSIZE)


def partner_chart(scan: pd.DataFrame, value: str, value_title: str) -> alt.Chart:
    """Bars of a partner scan (columns partner, name, predicted, epsilon_pred, measured...)."""
    frame = scan.copy()
    frame["label"] = [f"{n} ({p})" if n and n != p else p for p, n in zip(frame["partner"], frame["name"])]
    tips = [alt.Tooltip("label:N", title="partner")] + [
        alt.Tooltip(f"{c}:Q", format=".4f") for c in
        ("predicted", "multiplicative", "epsilon_pred", "measured") if c in frame]
    return alt.Chart(frame, title=value_title).mark_bar().encode(
        x=alt.X(f"{value}:Q", title=value_title),
        y=alt.Y("label:N", title="partner gene", sort=alt.EncodingSortField(value, order="ascending"),
                axis=_band_axis(260)),
        tooltip=tips,
    ).properties(height=alt.Step(22), autosize=AUTOSIZE)


# --- the chart the Embeddings page draws ---------------------------------------------------

COLOURS = {            # label -> (column, Vega-Lite type)
    "SMF": ("smf", "quantitative"),
    "Chromosome": ("chrom", "nominal"),
    "ORF class": ("orf_class", "nominal"),
    "Demo module": ("module", "nominal"),
}
_ROMAN = {"I": 1, "V": 5, "X": 10}


def chromosome_order(names) -> list[str]:
    """chrI, chrII, ... chrXVI, then chrmt and anything else, alphabetically."""
    def rank(name: str):
        numeral = str(name).removeprefix("chr")
        if numeral and set(numeral) <= set(_ROMAN):
            values = [_ROMAN[c] for c in numeral]
            return (0, sum(-v if i + 1 < len(values) and v < values[i + 1] else v
                           for i, v in enumerate(values)), "")
        return (1, 0, str(name))
    return sorted({str(n) for n in names if n is not None and n == n}, key=rank)


def umap_chart(frame, colour: str = "SMF"):
    """Interactive Altair scatter of ``umap_frame`` output coloured by a COLOURS label.

    Zoom and pan with the mouse; click a legend entry to highlight one category.
    """
    column, kind = COLOURS[colour]
    data = frame.copy()
    data["module"] = data["module"].astype("string").fillna("none")
    data["orf_class"] = data["orf_class"].fillna("unknown")
    if kind == "nominal":
        sort = chromosome_order(data[column]) if column == "chrom" else sorted(data[column].unique())
        pick = alt.selection_point(fields=[column], bind="legend")
        color = alt.Color(f"{column}:N", title=colour, sort=sort,
                          scale=alt.Scale(scheme="category20"),
                          legend=alt.Legend(orient="right", symbolLimit=40, columns=1 if len(sort) <= 20 else 2))
        opacity = alt.condition(pick, alt.value(0.85), alt.value(0.08))
    else:
        pick = None                       # genes without a measurement stay visible, in grey
        color = alt.condition(f"isValid(datum.{column})",
                              alt.Color(f"{column}:Q", title="single-mutant fitness",
                                        scale=alt.Scale(scheme="viridis"),
                                        legend=alt.Legend(orient="right")),
                              alt.value("#c8c8c8"))
        opacity = alt.value(0.85)
    chart = alt.Chart(data).mark_circle(size=30).encode(
        x=alt.X("x:Q", title="UMAP 1", scale=alt.Scale(zero=False), axis=alt.Axis(grid=False)),
        y=alt.Y("y:Q", title="UMAP 2", scale=alt.Scale(zero=False), axis=alt.Axis(grid=False)),
        color=color,
        opacity=opacity,
        tooltip=[
            alt.Tooltip("gene:N", title="gene"),
            alt.Tooltip("name:N", title="name"),
            alt.Tooltip("chrom:N", title="chromosome"),
            alt.Tooltip("orf_class:N", title="orf class"),
            alt.Tooltip("smf:Q", title="SMF", format=".3f"),
            alt.Tooltip("module:N", title="demo module"),
        ],
    ).properties(height=520)
    if pick is not None:
        chart = chart.add_params(pick)
    return chart.interactive()
