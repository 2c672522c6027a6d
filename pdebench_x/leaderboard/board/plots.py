"""The board's plots, drawn by matplotlib as inline SVG: per dataset, nRMSE against parameters,
against training cost and, for time-dependent datasets, against the rollout step and against time
on the long-horizon split.

Each plot is one ``<svg class="plot" id="plot-<what>-<dataset>" role="img" aria-label=<title>>``
in the page. Every plotted point also carries a ``<circle class="pt">`` with a ``<title>``
("solver: nRMSE ± std at x"): the browser shows it as a tooltip, and tests count the points
through it. The output is deterministic (a fixed ``svg.hashsalt``, no date), and ids inside
each plot are prefixed with the plot's id, so the plots of one page never share an id.
"""
from __future__ import annotations

import io
import math
from typing import Any, Mapping, Sequence
from xml.dom import minidom

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, NullFormatter

from pdebench_x.leaderboard.board.formatting import fmt

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22"]
#: Plot size in CSS pixels (the legend sits to the right of the axes, inside it).
WIDTH, HEIGHT = 460, 300
STYLE = {"svg.hashsalt": "pdebench_x board", "svg.fonttype": "none", "font.size": 8, "axes.titlesize": 9,
         "axes.titleweight": "bold", "legend.fontsize": 8}
#: Radius of the tooltip circle over a point (points); the marker's diameter (points).
HOVER_RADIUS, MARKER_SIZE = 4.5, 5.0


def shows_rollout(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a dataset's rows are rollouts (more than one scored frame): then an nRMSE-vs-step plot."""
    return any(len(r["steps"]) > 1 for r in rows)


def dataset_plots(name: str, rows: Sequence[Mapping[str, Any]], colors: Mapping[str, str],
                  solver_cost: Mapping[str, Any] | None = None,
                  fits: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """The SVG plots of one dataset's ranked rows; ``colors``: lower-case solver name -> colour;
    ``solver_cost``: the numerical solver's accuracy-cost curve, for the error-vs-cost plot, where
    the per-instance solvers' same-K rows ``fits`` (with their ``k``) join the models."""
    def series(xkey):
        return [{"name": r["solver"], "color": colors[r["solver"].lower()],
                 "points": [(r[xkey], r["mean"], r["std"])]} for r in rows]

    plots = [svg_plot(series("n_parameters"), "nRMSE vs parameters", "parameters", "nRMSE", logx=True, logy=True,
                      plot_id=f"plot-params-{name}"),
             svg_plot(series("train_seconds"), "nRMSE vs training cost", "training seconds", "nRMSE",
                      logx=True, logy=True, plot_id=f"plot-cost-{name}")]
    if solver_cost:
        plots.append(cost_plot(name, rows, colors, solver_cost, fits))
    curves = [{"name": r["solver"], "color": colors[r["solver"].lower()], "points": mean_curve(r["curves"])}
              for r in rows if r.get("curves")]
    if curves:
        plots.append(svg_plot(curves, "validation loss vs epoch (mean over seeds)", "epoch", "validation loss",
                              logy=True, lines=True, plot_id=f"plot-curve-{name}"))
    long = [r for r in rows if r.get("long_curve")]
    if long:
        until = next((r["trained_until"] for r in long if r.get("trained_until")), None)
        xlabel = "time" + (f" (trained to t = {fmt(until)})" if until else "")
        plots.append(svg_plot([{"name": r["solver"], "color": colors[r["solver"].lower()],
                                "points": [(t, v, 0.0) for t, v in thinned(r["long_curve"])]} for r in long],
                              "long-horizon nRMSE vs time (mean over seeds)", xlabel, "nRMSE", logy=True,
                              lines=True, plot_id=f"plot-long-{name}"))
    if shows_rollout(rows):
        plots.append(svg_plot([{"name": r["solver"], "color": colors[r["solver"].lower()],
                                "points": [(t, m, s) for t, (m, s) in zip(r["steps"], r["per_step"])]}
                               for r in rows], "rollout nRMSE vs step", "frame", "nRMSE", logy=True, lines=True,
                              plot_id=f"plot-rollout-{name}"))
    return plots


#: At most this many points of a long-horizon curve are drawn (each carries a tooltip circle).
MAX_CURVE_POINTS = 40


def thinned(points: Sequence[Any], most: int = MAX_CURVE_POINTS) -> list[Any]:
    """Every k-th point, k chosen so that at most about ``most`` remain, and always the last."""
    stride = max(1, math.ceil(len(points) / most))
    kept = list(points[::stride])
    return kept if not points or kept[-1] == points[-1] else kept + [points[-1]]


def cost_plot(name: str, rows: Sequence[Mapping[str, Any]], colors: Mapping[str, str],
              solver_cost: Mapping[str, Any], fits: Sequence[Mapping[str, Any]] = ()) -> str:
    """nRMSE against process CPU seconds per sample: the numerical solver on its coarser grids (a
    line), each operator learner's inference and each per-instance solver's fit + prediction (a
    point; its nRMSE is over its K instances, said in its legend), timed the same way."""
    coarse = sorted((p for p in solver_cost["points"] if p["factor"] > 1 and p["nrmse"] > 0),
                    key=lambda p: p["cpu_seconds_per_sample"])
    series = [{"name": "numerical solver (coarser grids)", "color": "#000000", "lines": True,
               "points": [(p["cpu_seconds_per_sample"], p["nrmse"], 0.0) for p in coarse]}]
    series += [{"name": r["solver"], "color": colors[r["solver"].lower()],
                "points": [(r["inference_cpu"], r["mean"], r["std"])]} for r in rows if r.get("inference_cpu")]
    series += [{"name": f"{r['solver']} (K = {r['k']}, fit + prediction)", "color": colors[r["solver"].lower()],
                "points": [(r["cpu_seconds_per_instance"], r["mean"], 0.0)]} for r in fits]
    return svg_plot(series, "nRMSE vs CPU time per sample: models and the solver", "CPU seconds per sample",
                    "nRMSE", logx=True, logy=True, plot_id=f"plot-solver-{name}")


def mean_curve(curves: Sequence[tuple[Any, Sequence[float]]]) -> list[tuple[int, float, float]]:
    """(epoch, mean, std over seeds) of the seeds' validation curves, up to the shortest one."""
    n = min(len(values) for _, values in curves)
    points = []
    for epoch in range(n):
        values = [v[epoch] for _, v in curves]
        mean = math.fsum(values) / len(values)
        std = math.sqrt(math.fsum((x - mean) ** 2 for x in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        points.append((epoch, mean, std))
    return points


def svg_plot(series: Sequence[Mapping[str, Any]], title: str, xlabel: str, ylabel: str, *, plot_id: str,
             logx: bool = False, logy: bool = False, lines: bool = False) -> str:
    """A small chart ``<svg id=plot_id>``: each series {name, color, points: [(x, y, yerr)], lines (optional:
    this series' own ``lines``)}; error bars = ±yerr.

    Points without a value, or not positive on a log axis, are left out ("no data" if none is left).
    """
    def drawable(x, y):
        return x is not None and y is not None and (x > 0 or not logx) and (y > 0 or not logy)

    kept = [[(x, y, e or 0.0) for x, y, e in s["points"] if drawable(x, y)] for s in series]
    with matplotlib.rc_context(STYLE):
        # dpi 72: display coordinates are points, the SVG's own units (see _add_tooltips)
        fig = Figure(figsize=(WIDTH / 96, HEIGHT / 96), dpi=72, layout="constrained")
        ax = fig.add_subplot()
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_xscale("log" if logx else "linear")
        ax.set_yscale("log" if logy else "linear")
        if not logx:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rollout steps are frame numbers
        if any(kept):
            for s, points in zip(series, kept):
                if points:
                    x, y, e = zip(*points)
                    ax.errorbar(x, y, yerr=e, fmt="o-" if s.get("lines", lines) else "o", color=s["color"], ms=MARKER_SIZE,
                                lw=1.5, elinewidth=1, clip_on=False)  # a point on a decade line stays whole
            handles = [Line2D([], [], marker="o", linestyle="-" if s.get("lines", lines) else "none", color=s["color"],
                              ms=MARKER_SIZE) for s in series]
            fig.legend(handles, [s["name"] for s in series], loc="outside right upper", frameon=False,
                       handlelength=1.2)
            # log axes from one power of ten to another, labelled at the powers only (labels in
            # between would overlap on a plot this small)
            if logx:
                ax.set_xlim(_decades([x for points in kept for x, _, _ in points]))
                ax.xaxis.set_minor_formatter(NullFormatter())
            if logy:
                ax.set_ylim(_decades([v for points in kept for _, y, e in points for v in (y - e, y + e) if v > 0]))
                ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center")
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    svg = minidom.parseString(out.getvalue()).documentElement
    _embeddable(svg, plot_id, title)
    _add_tooltips(svg, ax, series, kept, fig.bbox.height)
    return svg.toxml()


def _decades(values: Sequence[float]) -> tuple[float, float]:
    """The powers of ten enclosing the (positive) ``values``, at least one decade apart."""
    lo, hi = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    return 10.0 ** lo, 10.0 ** max(hi, lo + 1)


def _embeddable(svg: minidom.Element, plot_id: str, title: str) -> None:
    """Make matplotlib's stand-alone SVG an inline element of the page: our id, class and label;
    its own ids prefixed with ours; no metadata, comments or xlink namespace (SVG 2 ``href``)."""
    for node in svg.getElementsByTagName("metadata"):
        node.parentNode.removeChild(node)
    svg.removeAttribute("xmlns:xlink")
    elements = [svg, *svg.getElementsByTagName("*")]
    renamed = {}
    for el in elements:
        if el.hasAttribute("id"):
            renamed[el.getAttribute("id")] = f"{plot_id}-{el.getAttribute('id')}"
            el.setAttribute("id", renamed[el.getAttribute("id")])
    for el in elements:
        if el.hasAttribute("xlink:href"):
            el.setAttribute("href", "#" + renamed[el.getAttribute("xlink:href")[1:]])
            el.removeAttribute("xlink:href")
        if el.hasAttribute("clip-path"):
            el.setAttribute("clip-path", f"url(#{renamed[el.getAttribute('clip-path')[5:-1]]})")
    _drop_comments(svg)
    svg.setAttribute("class", "plot")
    svg.setAttribute("id", plot_id)
    svg.setAttribute("role", "img")
    svg.setAttribute("aria-label", title)


def _drop_comments(node: minidom.Node) -> None:
    for child in list(node.childNodes):
        if child.nodeType == child.COMMENT_NODE:
            node.removeChild(child)
        else:
            _drop_comments(child)


def _add_tooltips(svg: minidom.Element, ax, series: Sequence[Mapping[str, Any]],
                  kept: Sequence[Sequence[tuple[float, float, float]]], height: float) -> None:
    """A transparent ``circle.pt`` with a ``<title>`` over every drawn point (the SVG's y axis points down)."""
    doc = svg.ownerDocument
    for s, points in zip(series, kept):
        for x, y, e in points:
            px, py = ax.transData.transform((x, y))
            circle = doc.createElement("circle")
            for key, value in (("class", "pt"), ("cx", f"{px:.2f}"), ("cy", f"{height - py:.2f}"),
                               ("r", str(HOVER_RADIUS)), ("fill", s["color"]), ("fill-opacity", "0")):
                circle.setAttribute(key, value)
            label = circle.appendChild(doc.createElement("title"))
            label.appendChild(doc.createTextNode(f"{s['name']}: {fmt(y)} ± {fmt(e)} at {fmt(x)}"))
            svg.appendChild(circle)
