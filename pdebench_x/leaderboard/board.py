"""Rendering the board: leaderboard/README.md and a static, self-contained index.html.

One ranked table per dataset (= family and preset), ranked by the mean nRMSE over seeds.
Ties: rows are walked in order of mean nRMSE; a row whose mean lies within one standard
deviation of its group's leader, m - m_leader <= max(s_leader, s), joins the leader's group
and shares its rank (shown as "2="); otherwise it starts a new group with rank = its
position. The cross-dataset summary ranks each solver per dataset and averages the ranks
over the datasets it has a record on (N/A elsewhere: the solver does not apply or was not
submitted).

The HTML page needs no network: inline CSS, a small vanilla-JS table sorter (click a header;
``index.html#sort=<table id>:<column key>[:desc]`` sorts on load) and inline SVG plots
(nRMSE vs parameters, nRMSE vs training cost, and rollout nRMSE vs step for time-dependent
datasets), drawn here in Python.
"""
from __future__ import annotations

import html
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from pdebench_x.leaderboard.schema import PRIMARY_METRIC
from pdebench_x.leaderboard.store import load_board

#: Columns of a dataset table after the primary metric: (metric key, header).
METRIC_COLUMNS = [
    ("rmse", "RMSE"), ("relative_l2_fno", "rel. L2"), ("vrmse", "VRMSE"), ("max_error", "max err"),
    ("crmse", "cRMSE"), ("brmse", "bRMSE"), ("frmse_low", "fRMSE low"), ("frmse_mid", "fRMSE mid"),
    ("frmse_high", "fRMSE high"),
]
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22"]
NA = "N/A"


# ------------------------------------------------------------------------------------------
# tables as data
# ------------------------------------------------------------------------------------------
def _stat(agg: Mapping[str, Any] | None, metric: str) -> tuple[float | None, float | None]:
    s = (agg or {}).get("overall", {}).get(metric) or {}
    return s.get("mean"), s.get("std")


def make_rows(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """dataset name -> rows (one per record), ranked."""
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        mean, std = _stat(rec["aggregate"], PRIMARY_METRIC)
        zs = rec.get("zero_shot")
        agg = rec["aggregate"]
        by_dataset[rec["dataset"]["name"]].append({
            "solver": rec["solver"]["name"], "model": rec["solver"]["model"], "kind": rec["solver"]["kind"],
            "paper": rec["solver"].get("paper"), "code": rec["solver"].get("code"),
            "dataset": rec["dataset"], "setting": rec["setting"], "source": rec["source"],
            "mean": mean, "std": std or 0.0,
            "metrics": {k: _stat(agg, k) for k, _ in METRIC_COLUMNS},
            "zero_shot": _stat(zs["aggregate"], PRIMARY_METRIC) if zs else None,
            "zero_shot_resolution": zs["resolution"] if zs else None,
            "n_parameters": rec.get("n_parameters"), "train_seconds": rec.get("train_seconds"),
            "inference_seconds_per_sample": rec.get("inference_seconds_per_sample"),
            "n_seeds": len(rec["seeds"]),
            "steps": agg.get("steps") or [],
            "per_step": [(s.get("mean"), s.get("std")) for s in agg.get("per_step", {}).get(PRIMARY_METRIC, [])],
        })
    return {name: rank_rows(rows) for name, rows in sorted(by_dataset.items())}


def rank_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort by mean nRMSE and assign ranks with ties (see the module docstring)."""
    rows = sorted(rows, key=lambda r: (r["mean"], r["solver"].lower()))
    leader = None
    for position, row in enumerate(rows, start=1):
        if leader is not None and row["mean"] - leader["mean"] <= max(leader["std"], row["std"]):
            row["rank"], row["tied"] = leader["rank"], True
            leader["tied"] = True
        else:
            row["rank"], row["tied"], leader = position, False, row
    return rows


def summary_rows(tables: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per solver name: its rank on each dataset (None: N/A) and the mean rank."""
    solvers: dict[str, dict[str, Any]] = {}
    for dataset, rows in tables.items():
        for row in rows:
            entry = solvers.setdefault(row["solver"].lower(), {"solver": row["solver"], "ranks": {}, "tied": {}})
            entry["ranks"][dataset] = row["rank"]
            entry["tied"][dataset] = row["tied"]
    for entry in solvers.values():
        ranks = list(entry["ranks"].values())
        entry["mean_rank"] = sum(ranks) / len(ranks)
        entry["n_datasets"] = len(ranks)
    return sorted(solvers.values(), key=lambda e: (e["mean_rank"], -e["n_datasets"], e["solver"].lower()))


# ------------------------------------------------------------------------------------------
# formatting
# ------------------------------------------------------------------------------------------
def fmt(x: float | None, digits: int = 3) -> str:
    """``digits`` significant digits (one more from 1 up), scientific outside [1e-3, 1e4)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return NA
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:.{digits + 1}g}"
    return f"{x:.{digits - 1}e}"


def fmt_pm(mean: float | None, std: float | None) -> str:
    return NA if mean is None else f"{fmt(mean)} ± {fmt(std or 0.0, 2)}"


def fmt_int(n: int | None) -> str:
    return NA if n is None else f"{n:,}"


def fmt_seconds(s: float | None) -> str:
    return NA if s is None else fmt(s)


def fmt_ms(s: float | None) -> str:
    return NA if s is None else fmt(1e3 * s)


def rank_label(row: Mapping[str, Any]) -> str:
    return f"{row['rank']}=" if row["tied"] else str(row["rank"])


def _safe_url(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


def dataset_title(rows: Sequence[Mapping[str, Any]], name: str) -> str:
    d = rows[0]["dataset"]
    return f"{name} — {d['family']}, {d['preset']} preset ({d['kind']}, {d['n_test_samples']} test samples)"


def zero_shot_header(rows: Sequence[Mapping[str, Any]]) -> str:
    res = next((r["zero_shot_resolution"] for r in rows if r["zero_shot_resolution"]), None)
    return f"zero-shot nRMSE @{res}" if res else "zero-shot nRMSE"


# ------------------------------------------------------------------------------------------
# README.md
# ------------------------------------------------------------------------------------------
HEADER = """\
# pdebench_x leaderboard

Generated by `pdebench-x board build` (or `python -m pdebench_x.leaderboard build`) from the
records in [submissions/](submissions/): do not edit by hand. The interactive page with sortable
tables and plots is [index.html](index.html); how to add a solver: [SUBMITTING.md](SUBMITTING.md).

Primary metric: **nRMSE** on the official test split (lower is better), mean ± sample standard
deviation over at least 3 training seeds; every other metric beside it is also a mean over
seeds. A rank written `2=` is a tie: that solver's mean lies within one standard deviation of
the solver heading its tie group. The zero-shot column scores the same checkpoints, unchanged,
on the test split regenerated at a higher resolution (trained at 64, tested at 128 on the small
presets); N/A where a solver was not or cannot be scored there.

**Setting.** The `Setting` column says how each solver was trained. Records at the *small*
setting were trained on a CPU for a few epochs so that anyone can reproduce them
(`python benchmarks/make_board.py`); they rank the solvers at that budget only and are not the
papers' numbers.
"""


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(tables: Mapping[str, list[dict[str, Any]]]) -> str:
    out = [HEADER]
    if not tables:
        out.append("\n_No submissions yet._\n")
        return "\n".join(out)
    datasets = list(tables)
    out.append("## Summary: rank per dataset and mean rank\n")
    out.append("| Solver | " + " | ".join(datasets) + " | mean rank | datasets |")
    out.append("|---|" + "---:|" * (len(datasets) + 2))
    for e in summary_rows(tables):
        cells = [(f"{e['ranks'][d]}{'=' if e['tied'][d] else ''}" if d in e["ranks"] else NA) for d in datasets]
        out.append(f"| {_md_escape(e['solver'])} | " + " | ".join(cells) + f" | {e['mean_rank']:.2f} | {e['n_datasets']} |")
    for name, rows in tables.items():
        out.append(f"\n## {dataset_title(rows, name)}\n")
        heads = ["Rank", "Solver", "nRMSE", zero_shot_header(rows)] + [h for _, h in METRIC_COLUMNS] + [
            "params", "train s", "infer ms/sample", "seeds", "Setting"]
        out.append("| " + " | ".join(heads) + " |")
        out.append("|---:|---|" + "---:|" * (len(heads) - 3) + "---|")
        for r in rows:
            link = _safe_url(r["code"]) or _safe_url(r["paper"])
            solver = f"[{_md_escape(r['solver'])}]({link})" if link else _md_escape(r["solver"])
            cells = [rank_label(r), solver, f"**{fmt_pm(r['mean'], r['std'])}**",
                     fmt_pm(*r["zero_shot"]) if r["zero_shot"] else NA]
            cells += [fmt(r["metrics"][k][0]) for k, _ in METRIC_COLUMNS]
            cells += [fmt_int(r["n_parameters"]), fmt_seconds(r["train_seconds"]),
                      fmt_ms(r["inference_seconds_per_sample"]), str(r["n_seeds"]), _md_escape(r["setting"])]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------
# SVG plots
# ------------------------------------------------------------------------------------------
def _nice_ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        return [10.0 ** k for k in range(a, b + 1)]
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=raw)
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(int(math.ceil((hi - first) / step)) + 1)]


def svg_plot(series: Sequence[Mapping[str, Any]], title: str, xlabel: str, ylabel: str,
             logx: bool = False, logy: bool = False, lines: bool = False, plot_id: str = "") -> str:
    """A small chart: each series {name, color, points: [(x, y, yerr)]}; error bars = ±yerr."""
    w, h, ml, mr, mt, mb = 460, 300, 64, 120, 28, 44
    pts = [(x, y, e) for s in series for x, y, e in s["points"]
           if x is not None and y is not None and (x > 0 or not logx) and (y > 0 or not logy)]
    head = (f'<svg class="plot" id="{html.escape(plot_id)}" xmlns="http://www.w3.org/2000/svg" width="{w}" '
            f'height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{html.escape(title)}">'
            f'<text x="{w / 2}" y="16" text-anchor="middle" class="ptitle">{html.escape(title)}</text>')
    if not pts:
        return head + f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle">no data</text></svg>'
    xs = [p[0] for p in pts]
    ys = [v for p in pts for v in (p[1] - (p[2] or 0), p[1] + (p[2] or 0)) if v > 0 or not logy] or [p[1] for p in pts]
    xt = _nice_ticks(min(xs), max(xs) if max(xs) > min(xs) else min(xs) * (10 if logx else 1) + (0 if logx else 1), logx)
    yt = _nice_ticks(min(ys), max(ys) if max(ys) > min(ys) else min(ys) * (10 if logy else 1) + (0 if logy else 1), logy)
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]
    f = (lambda v: math.log10(v)) if logx else (lambda v: v)
    g = (lambda v: math.log10(v)) if logy else (lambda v: v)

    def px(v: float) -> float:
        return ml + (f(v) - f(x0)) / ((f(x1) - f(x0)) or 1.0) * (w - ml - mr)

    def py(v: float) -> float:
        v = max(v, y0) if logy else v
        return h - mb - (g(v) - g(y0)) / ((g(y1) - g(y0)) or 1.0) * (h - mt - mb)

    parts = [head, f'<rect x="{ml}" y="{mt}" width="{w - ml - mr}" height="{h - mt - mb}" class="frame"/>']
    def tick(v: float, log: bool) -> str:
        k = round(math.log10(v)) if log and v > 0 else None
        return f"1e{k}" if k is not None and abs(k) >= 3 else fmt(v)

    for t in xt:
        parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{h - mb}" y2="{h - mb + 4}" class="axis"/>'
                     f'<text x="{px(t):.1f}" y="{h - mb + 16}" text-anchor="middle" class="tick">{tick(t, logx)}</text>')
    for t in yt:
        parts.append(f'<line x1="{ml - 4}" x2="{ml}" y1="{py(t):.1f}" y2="{py(t):.1f}" class="axis"/>'
                     f'<text x="{ml - 6}" y="{py(t) + 4:.1f}" text-anchor="end" class="tick">{tick(t, logy)}</text>')
    parts.append(f'<text x="{(ml + w - mr) / 2}" y="{h - 8}" text-anchor="middle">{html.escape(xlabel)}</text>'
                 f'<text transform="translate(14 {(mt + h - mb) / 2}) rotate(-90)" text-anchor="middle">'
                 f'{html.escape(ylabel)}</text>')
    for i, s in enumerate(series):
        color = s["color"]
        good = [(x, y, e) for x, y, e in s["points"] if x is not None and y is not None
                and (x > 0 or not logx) and (y > 0 or not logy)]
        if lines and len(good) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _ in good)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        for x, y, e in good:
            if e:
                parts.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{py(y - e):.1f}" y2="{py(y + e):.1f}" '
                             f'stroke="{color}"/>')
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}" class="pt">'
                         f'<title>{html.escape(s["name"])}: {fmt(y)} ± {fmt(e or 0)} at {fmt(x)}</title></circle>')
        ly = mt + 12 + 16 * i
        parts.append(f'<circle cx="{w - mr + 12}" cy="{ly - 4}" r="4" fill="{color}"/>'
                     f'<text x="{w - mr + 20}" y="{ly}" class="legend">{html.escape(s["name"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def dataset_plots(name: str, rows: Sequence[Mapping[str, Any]], colors: Mapping[str, str]) -> str:
    def series(xkey):
        return [{"name": r["solver"], "color": colors[r["solver"].lower()],
                 "points": [(r[xkey], r["mean"], r["std"])]} for r in rows]

    plots = [svg_plot(series("n_parameters"), "nRMSE vs parameters", "parameters", "nRMSE", logx=True, logy=True,
                      plot_id=f"plot-params-{name}"),
             svg_plot(series("train_seconds"), "nRMSE vs training cost", "training seconds", "nRMSE",
                      logx=True, logy=True, plot_id=f"plot-cost-{name}")]
    if any(len(r["steps"]) > 1 for r in rows):
        plots.append(svg_plot([{"name": r["solver"], "color": colors[r["solver"].lower()],
                                "points": [(t, m, s) for t, (m, s) in zip(r["steps"], r["per_step"])]}
                               for r in rows], "rollout nRMSE vs step", "frame", "nRMSE", logy=True, lines=True,
                              plot_id=f"plot-rollout-{name}"))
    else:
        plots.append('<p class="note">Steady problem: one scored frame per sample, so no rollout-error plot '
                     '(it appears for time-dependent datasets).</p>')
    return '<div class="plots">' + "".join(plots) + "</div>"


# ------------------------------------------------------------------------------------------
# index.html
# ------------------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap}
td.name,th.name,td.text{text-align:left}
th{background:#f2f2f2;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"} th[aria-sort=descending]::after{content:" \\25BC"}
tr.tied td.rank{color:#a05a00;font-weight:bold}
td.primary{font-weight:bold}
.scroll{overflow-x:auto}
.plots{display:flex;flex-wrap:wrap;gap:1em}
svg.plot{border:1px solid #ddd;background:#fff;font-size:11px}
svg .frame{fill:none;stroke:#999} svg .axis{stroke:#999} svg .ptitle{font-weight:bold;font-size:12px}
.note,.banner{color:#555} .banner{background:#fff8e0;border:1px solid #e8d9a0;padding:.6em 1em}
"""

JS = r"""
(function () {
  "use strict";
  function cellValue(row, index, type) {
    var cell = row.cells[index];
    var raw = cell.getAttribute("data-value");
    if (raw === null) { raw = cell.textContent.trim(); }
    if (type === "num") { var v = parseFloat(raw); return isNaN(v) ? null : v; }
    return raw.toLowerCase();
  }
  function sortTable(table, index, descending) {
    var header = table.tHead.rows[0].cells[index];
    var type = header.getAttribute("data-type") || "text";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, type), y = cellValue(b, index, type);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }   // N/A last, whichever the direction
      if (y === null) { return -1; }
      var c = x < y ? -1 : (x > y ? 1 : 0);
      return descending ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.setAttribute("aria-sort", i === index ? (descending ? "descending" : "ascending") : "none");
    });
  }
  function columnIndex(table, key) {
    var cells = table.tHead.rows[0].cells;
    for (var i = 0; i < cells.length; i++) { if (cells[i].getAttribute("data-key") === key) { return i; } }
    return -1;
  }
  function sortFromHash() {
    var m = /^#sort=([^:]+):([^:]+)(?::(asc|desc))?$/.exec(decodeURIComponent(window.location.hash));
    if (!m) { return; }
    var table = document.getElementById(m[1]);
    if (!table) { return; }
    var index = columnIndex(table, m[2]);
    if (index >= 0) { sortTable(table, index, m[3] === "desc"); }
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
        th.setAttribute("tabindex", "0");
        th.addEventListener("click", function () {
          sortTable(table, i, th.getAttribute("aria-sort") === "ascending");
        });
      });
    });
    sortFromHash();
    document.body.setAttribute("data-ready", "1");
  }
  window.pdebenchBoard = { sortTable: sortTable, columnIndex: columnIndex };
  window.addEventListener("hashchange", sortFromHash);
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
"""


def _td(text: str, value: Any = None, cls: str = "") -> str:
    attr = "" if value is None else f' data-value="{html.escape(str(value))}"'
    klass = f' class="{cls}"' if cls else ""
    return f"<td{klass}{attr}>{text}</td>"


def _num(x: float | None) -> str:
    return "" if x is None else repr(float(x))


def _th(key: str, label: str, numeric: bool, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (f'<th{klass} data-key="{key}" data-type="{"num" if numeric else "text"}" aria-sort="none">'
            f"{html.escape(label)}</th>")


def render_html(tables: Mapping[str, list[dict[str, Any]]]) -> str:
    names = sorted({r["solver"].lower(): r["solver"] for rows in tables.values() for r in rows})
    colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    body = ['<h1>pdebench_x leaderboard</h1>',
            '<p class="banner"><b>Setting.</b> Records at the <i>small</i> setting were trained on a CPU for a few '
            'epochs so that anyone can reproduce them (<code>python benchmarks/make_board.py</code>); they rank '
            "the solvers at that budget only and are not the papers' numbers. Primary metric: nRMSE, mean ± std "
            'over ≥ 3 training seeds; <code>2=</code> marks a tie (within one std of the group leader). Click a '
            'column header to sort.</p>']
    if not tables:
        body.append("<p>No submissions yet.</p>")
    else:
        datasets = list(tables)
        head = [_th("solver", "Solver", False, "name")] + [_th(f"rank-{d}", d, True) for d in datasets] + [
            _th("mean_rank", "mean rank", True), _th("n_datasets", "datasets", True)]
        rows = []
        for e in summary_rows(tables):
            cells = [_td(html.escape(e["solver"]), e["solver"], "name")]
            for d in datasets:
                if d in e["ranks"]:
                    cells.append(_td(f"{e['ranks'][d]}{'=' if e['tied'][d] else ''}", e["ranks"][d]))
                else:
                    cells.append(_td(NA, ""))
            cells += [_td(f"{e['mean_rank']:.2f}", e["mean_rank"]), _td(str(e["n_datasets"]), e["n_datasets"])]
            rows.append(f'<tr data-solver="{html.escape(e["solver"])}">' + "".join(cells) + "</tr>")
        body.append('<h2 id="summary">Summary: rank per dataset and mean rank</h2>')
        body.append('<table class="sortable" id="table-summary"><thead><tr>' + "".join(head)
                    + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
        for name, rows_ in tables.items():
            body.append(f'<h2 id="{html.escape(name)}">{html.escape(dataset_title(rows_, name))}</h2>')
            body.append(_dataset_table(name, rows_))
            body.append(dataset_plots(name, rows_, colors))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>pdebench_x leaderboard</title><style>" + CSS + "</style></head><body>"
            + "\n".join(body) + "<script>" + JS + "</script></body></html>\n")


def _dataset_table(name: str, rows: Sequence[Mapping[str, Any]]) -> str:
    head = [_th("rank", "Rank", True), _th("solver", "Solver", False, "name"), _th("nrmse", "nRMSE", True),
            _th("zero_shot", zero_shot_header(rows), True)]
    head += [_th(k, label, True) for k, label in METRIC_COLUMNS]
    head += [_th("params", "params", True), _th("train_seconds", "train s", True),
             _th("inference_ms", "infer ms/sample", True), _th("seeds", "seeds", True),
             _th("setting", "Setting", False, "name")]
    body = []
    for r in rows:
        link = _safe_url(r["code"]) or _safe_url(r["paper"])
        solver = html.escape(r["solver"])
        if link:
            solver = f'<a href="{html.escape(link)}">{solver}</a>'
        zs = r["zero_shot"]
        cells = [_td(rank_label(r), r["rank"], "rank"), _td(solver, r["solver"], "name"),
                 _td(fmt_pm(r["mean"], r["std"]), _num(r["mean"]), "primary"),
                 _td(fmt_pm(*zs) if zs else NA, _num(zs[0]) if zs else "")]
        cells += [_td(fmt(r["metrics"][k][0]), _num(r["metrics"][k][0])) for k, _ in METRIC_COLUMNS]
        cells += [_td(fmt_int(r["n_parameters"]), _num(r["n_parameters"])),
                  _td(fmt_seconds(r["train_seconds"]), _num(r["train_seconds"])),
                  _td(fmt_ms(r["inference_seconds_per_sample"]),
                      _num(None if r["inference_seconds_per_sample"] is None else 1e3 * r["inference_seconds_per_sample"])),
                  _td(str(r["n_seeds"]), r["n_seeds"]), _td(html.escape(r["setting"]), r["setting"], "text")]
        cls = ' class="tied"' if r["tied"] else ""
        body.append(f'<tr{cls} data-solver="{html.escape(r["solver"])}">' + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table class="sortable" id="table-{html.escape(name)}"><thead><tr>'
            + "".join(head) + "</tr></thead><tbody>" + "".join(body) + "</tbody></table></div>")


# ------------------------------------------------------------------------------------------
# build
# ------------------------------------------------------------------------------------------
def build(board_dir: str | Path) -> tuple[Path, Path]:
    """Validate every record, then write <board>/README.md and <board>/index.html.

    Nothing is written when any record is invalid (the error lists them all).
    """
    board_dir = Path(board_dir)
    records = [rec for _, rec in load_board(board_dir)]
    tables = make_rows(records)
    readme, page = board_dir / "README.md", board_dir / "index.html"
    md, doc = render_markdown(tables), render_html(tables)
    readme.write_text(md)
    page.write_text(doc)
    return readme, page
