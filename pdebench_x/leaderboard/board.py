"""Rendering the board: leaderboard/README.md and a static, self-contained index.html.

One ranked table per dataset (= family and preset), ranked by the mean nRMSE over seeds: the
solvers scored on the full official test split (operator learners; predictions files).
Ties: rows are walked in order of mean nRMSE; a row whose mean lies within one standard
deviation of its group's leader, m - m_leader <= max(s_leader, s), joins the leader's group
and shares its rank (shown as "2="); otherwise it starts a new group with rank = its
position. The cross-dataset summary ranks each solver per dataset and averages the ranks
over the datasets it has a record on (N/A elsewhere: the solver does not apply or was not
submitted).

Beside it, per dataset, a "same K instances" table (:func:`same_k_tables`): the per-instance
solvers (PINN, LPINN, PIG: fitted afresh on each of K test instances) and the operator
learners on exactly those K instances (their records' K-instance section, computed from the
same per-sample metrics as their full-split row), so the comparison is like with like. Its
nRMSE is the mean over the K instances (operator learners: then the mean over training
seeds); the spread is given over the K instances for every row (a per-instance solver has no
training seeds) and, for operator learners, over seeds too. It is sorted by nRMSE, not
ranked: the ranking is the main table's. A solver that does not apply to the dataset
(``status: not_applicable``, e.g. LPINN on Darcy) is a row of N/A with the reason.

The HTML page needs no network: inline CSS, a small vanilla-JS table sorter (click a header;
``index.html#sort=<table id>:<column key>[:desc]`` sorts on load) and inline SVG plots
(nRMSE vs parameters, nRMSE vs training cost, and rollout nRMSE vs step for time-dependent
datasets), drawn here in Python.

A record that does not link, for every seed, the checkpoint or predictions file it was scored
from (a per-instance solver's run; a record whose file hashes were left out) has nothing that
``--verify`` could re-score: its Setting cell starts with **unverified** (:func:`unverified`).
"""
from __future__ import annotations

import html
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from pdebench_x.leaderboard.schema import ARTIFACT_HASHES, PRIMARY_METRIC
from pdebench_x.leaderboard.store import load_board

#: Columns of a dataset table after the primary metric: (metric key, header).
METRIC_COLUMNS = [
    ("rmse", "RMSE"), ("relative_l2_fno", "rel. L2"), ("vrmse", "VRMSE"), ("max_error", "max err"),
    ("crmse", "cRMSE"), ("brmse", "bRMSE"), ("frmse_low", "fRMSE low"), ("frmse_mid", "fRMSE mid"),
    ("frmse_high", "fRMSE high"),
]
#: Columns of a same-K table after nRMSE and its spreads.
SAME_K_METRICS = [("relative_l2_fno", "rel. L2"), ("rmse", "RMSE"), ("max_error", "max err")]
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22"]
NA = "N/A"


# ------------------------------------------------------------------------------------------
# tables as data
# ------------------------------------------------------------------------------------------
def _stat(agg: Mapping[str, Any] | None, metric: str) -> tuple[float | None, float | None]:
    s = (agg or {}).get("overall", {}).get(metric) or {}
    return s.get("mean"), s.get("std")


def on_full_split(rec: Mapping[str, Any]) -> bool:
    """A record ranked in the main table: scored on the whole official test split."""
    return rec.get("status", "ok") == "ok" and rec["source"] != "run"


def make_rows(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """dataset name -> rows (one per record scored on the full test split), ranked."""
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        if not on_full_split(rec):
            continue
        mean, std = _stat(rec["aggregate"], PRIMARY_METRIC)
        zs = rec.get("zero_shot")
        agg = rec["aggregate"]
        by_dataset[rec["dataset"]["name"]].append({
            "solver": rec["solver"]["name"], "model": rec["solver"]["model"], "kind": rec["solver"]["kind"],
            "paper": rec["solver"].get("paper"), "code": rec["solver"].get("code"),
            "given_equation": given_equation(rec), "dataset": rec["dataset"], "setting": rec["setting"], "source": rec["source"],
            "unverified": unverified(rec),
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


KIND_LABEL = {"per_instance": "per-instance", "operator": "operator", "external": "operator (external)"}


def _same_k_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    block = rec.get("instances") or {}
    agg = block.get("aggregate")
    per_instance = rec["solver"]["kind"] == "per_instance" and rec["source"] == "run"
    applicable = rec.get("status", "ok") == "ok"
    mean, std_seeds = _stat(agg, PRIMARY_METRIC) if applicable else (None, None)
    spread = (block.get("spread") or {}).get(PRIMARY_METRIC) or {}
    return {
        "solver": rec["solver"]["name"], "model": rec["solver"]["model"], "kind": rec["solver"]["kind"],
        "kind_label": KIND_LABEL.get(rec["solver"]["kind"], rec["solver"]["kind"]),
        "paper": rec["solver"].get("paper"), "code": rec["solver"].get("code"), "dataset": rec["dataset"],
        "given_equation": given_equation(rec), "setting": rec["setting"], "applicable": applicable, "reason": rec.get("reason"),
        "unverified": unverified(rec),
        "mean": mean,
        "std_instances": spread.get("std") if applicable else None,
        # one fit per instance has no training seeds: its "over seeds" spread is only shown for
        # several fit seeds; for operator learners it is the std over training seeds
        "std_seeds": std_seeds if applicable and len(rec["seeds"]) > 1 else None,
        "metrics": {k: _stat(agg, k) if applicable else (None, None) for k, _ in SAME_K_METRICS},
        # per instance: fit + prediction for a per-instance solver, inference for an operator learner
        "seconds_per_instance": (block.get("seconds_per_instance") if per_instance
                                 else rec.get("inference_seconds_per_sample")) if applicable else None,
        "train_seconds": rec.get("train_seconds") if applicable else None,
        "n_seeds": len(rec["seeds"]),
    }


def same_k_tables(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """dataset name -> same-K groups: per-instance solvers and operator learners on one set of K test instances.

    A group {"k", "seed", "indices", "rows", "missing"} exists for each set of instances a
    per-instance solver was scored on (or, for a dataset whose per-instance solvers are all
    N/A, the operator learners' set); operator learners join the group of their K-instance
    section's indices; N/A records join every group of their dataset (a row of N/A).
    ``missing`` names the full-split solvers with no K-instance section on those indices
    (records of schema 1, or another K). Datasets without a per-instance record have none.
    """
    by_dataset: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for rec in records:
        by_dataset[rec["dataset"]["name"]].append(rec)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, recs in sorted(by_dataset.items()):
        per_instance = [r for r in recs if r["source"] == "run" and r.get("status", "ok") == "ok"]
        na = [r for r in recs if r.get("status", "ok") == "not_applicable"]
        full = [r for r in recs if on_full_split(r)]
        if not per_instance and not na:
            continue
        keys = list(dict.fromkeys(tuple(r["instances"]["indices"]) for r in per_instance))
        if not keys:  # only N/A per-instance records: show the operator learners' instances beside them
            keys = list(dict.fromkeys(tuple(r["instances"]["indices"]) for r in full if r.get("instances")))[:1]
        groups = []
        for key in keys or [None]:
            members = [r for r in per_instance + full
                       if key is not None and r.get("instances") and tuple(r["instances"]["indices"]) == key]
            block = members[0]["instances"] if members else {}
            rows = sorted((_same_k_row(r) for r in members), key=lambda r: (r["mean"], r["solver"].lower()))
            rows += sorted((_same_k_row(r) for r in na), key=lambda r: r["solver"].lower())
            missing = sorted(r["solver"]["name"] for r in full if r not in members)
            groups.append({"k": block.get("k"), "seed": block.get("seed"), "indices": list(key or []),
                           "rows": rows, "missing": missing})
        out[name] = groups
    return out


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


#: Appended to a solver's name when it is given the PDE's equation and coefficients as an input.
EQUATION_MARK = " (eq.)"


def given_equation(rec: Mapping[str, Any]) -> bool:
    """Whether the solver read the symbolic equation with its coefficients (PROSE with its symbol
    branch on), beyond the fields every operator learner sees: the record's own flag if it has
    one, else the training config of its seeds (``model.net.use_symbols``)."""
    flag = rec["solver"].get("given_equation")
    if flag is not None:
        return bool(flag)
    for seed in rec.get("seeds") or []:
        net = (((seed.get("config") or {}).get("model") or {}).get("net") or {})
        if net.get("use_symbols"):
            return True
    return False


#: Put before the Setting of a record with nothing to re-score (see :func:`unverified`).
UNVERIFIED = "unverified"
UNVERIFIED_TITLE = "no checkpoint or predictions file linked: nothing to re-score with --verify"


def _links_file(seed: Mapping[str, Any]) -> bool:
    return bool(seed.get("checkpoint") or any(seed.get(k) for k in ARTIFACT_HASHES))


def unverified(rec: Mapping[str, Any]) -> bool:
    """Whether a record with metrics fails to link, for some seed, the checkpoint or predictions
    file it was scored from: then nothing can re-score it (``--verify``), its figures are taken
    as written. A not-applicable record has no figures to verify."""
    seeds = rec.get("seeds") or []
    return rec.get("status", "ok") == "ok" and not (seeds and all(_links_file(s) for s in seeds))


def setting_markdown(r: Mapping[str, Any], text: str) -> str:
    """A row's Setting (or note) cell in Markdown, marked when the record is unverified."""
    return (f"**{UNVERIFIED}**: " if r.get("unverified") else "") + _md_escape(text)


def setting_html(r: Mapping[str, Any], text: str) -> str:
    """A row's Setting (or note) cell content in HTML, marked when the record is unverified."""
    mark = f'<span class="unverified" title="{html.escape(UNVERIFIED_TITLE)}">{UNVERIFIED}</span>: '
    return (mark if r.get("unverified") else "") + html.escape(text)


def _safe_url(url: str | None) -> str | None:
    """The http(s) address at the start of a record's link field ("https://... (commit abc)" is
    common: the note after the address would break a Markdown link and an href)."""
    url = (url or "").strip().split(maxsplit=1)[0] if url and url.strip() else ""
    return url if url.startswith(("https://", "http://")) and all(c not in url for c in '"<>()') else None


def dataset_title(rows: Sequence[Mapping[str, Any]], name: str) -> str:
    """``rows``: any rows of the dataset (main or same-K), each carrying the record's dataset."""
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

**Equation input.** A solver marked `(eq.)` is given the PDE's symbolic equation with its
coefficients as an input (PROSE with its symbol branch on), beyond the fields every operator
learner sees; on a fixed-coefficient dataset that input is the same for every sample.

**Unverified.** A Setting that starts with **unverified** belongs to a record that links no
checkpoint or predictions file for some seed (a per-instance solver's own run, for one): there
is nothing to re-score, so its figures are as submitted; the others can be re-scored with
`python score.py --verify <record>`.

**Same K instances.** Per-instance solvers (PINN, LPINN, PIG) are fitted afresh on each of K
test instances, not on the full split, so they are not in the ranked tables. Where they have
records, a *same K instances* table follows the dataset's ranked table: the per-instance solvers
and the operator learners scored on exactly those K instances (a seeded choice, the same for
every solver), with the same metrics on the same frames. Its nRMSE is the mean over the K
instances (operator learners: also over training seeds); the spread is the standard deviation
over the K instances for every row, and over training seeds for operator learners (a
per-instance solver has no training seeds: `—`). `s/instance` is fit + prediction for a
per-instance solver, inference alone for an operator learner, whose training (`train s`) is
paid once for all instances. N/A: the solver does not apply to the dataset (the reason is given).
"""


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _all_datasets(tables: Mapping[str, Any], same_k: Mapping[str, Any]) -> list[str]:
    return sorted(set(tables) | set(same_k))


def _any_rows(name: str, tables: Mapping[str, Any], same_k: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return tables.get(name) or [r for g in same_k.get(name, []) for r in g["rows"]]


def same_k_caption(group: Mapping[str, Any]) -> str:
    if group["k"] is None:
        return "Same K instances: no per-instance solver scored here yet"
    seed = "first K" if group["seed"] is None else f"instance seed {group['seed']}"
    return f"Same K instances: K = {group['k']} test instances {group['indices']} ({seed})"


SAME_K_NOTE = ("Per-instance solvers fitted afresh on each of these test instances, and the operator learners "
               "scored on the same instances, frames and metrics (sorted by nRMSE, not ranked). nRMSE: mean over "
               "the K instances (operator learners: and over training seeds); ± instances: std over the K "
               "instances; ± seeds: std over training seeds (— : no training seeds). s/instance: fit + prediction "
               "(per-instance), inference (operator); train s: the operator learner's training, paid once, or "
               "the per-instance solver's K fits together.")


def _same_k_cells(r: Mapping[str, Any]) -> list[tuple[str, float | None]]:
    """(text, sort value) of the numeric cells of a same-K row, from nRMSE to seeds."""
    def num(x, f=fmt):
        return (f(x) if r["applicable"] else NA, x)
    dash = "—" if r["applicable"] else NA
    cells = [num(r["mean"]), num(r["std_instances"]),
             (fmt(r["std_seeds"]) if r["std_seeds"] is not None else dash, r["std_seeds"])]
    cells += [num(r["metrics"][k][0]) for k, _ in SAME_K_METRICS]
    cells += [num(r["seconds_per_instance"], fmt_seconds), num(r["train_seconds"], fmt_seconds),
              (str(r["n_seeds"]) if r["applicable"] else NA, r["n_seeds"] if r["applicable"] else None)]
    return cells


SAME_K_HEADS = [("nrmse", "nRMSE on the K"), ("std_instances", "± instances"), ("std_seeds", "± seeds")] + \
    list(SAME_K_METRICS) + [("seconds_per_instance", "s/instance"), ("train_seconds", "train s"), ("seeds", "seeds")]


def _same_k_note(r: Mapping[str, Any]) -> str:
    return f"N/A: {r['reason']}" if not r["applicable"] else r["setting"]


def render_same_k_markdown(name: str, group: Mapping[str, Any]) -> list[str]:
    out = [f"\n### {same_k_caption(group)}\n", f"{SAME_K_NOTE}\n"]
    heads = ["Solver", "kind"] + [h for _, h in SAME_K_HEADS] + ["Setting"]
    out.append("| " + " | ".join(heads) + " |")
    out.append("|---|---|" + "---:|" * len(SAME_K_HEADS) + "---|")
    for r in group["rows"]:
        link = _safe_url(r["code"]) or _safe_url(r["paper"])
        solver = f"[{_md_escape(r['solver'])}]({link})" if link else _md_escape(r["solver"])
        solver += EQUATION_MARK if r.get("given_equation") else ""
        cells = [solver, r["kind_label"]] + [text for text, _ in _same_k_cells(r)]
        cells.append(setting_markdown(r, _same_k_note(r)))
        out.append("| " + " | ".join(cells) + " |")
    if group["missing"]:
        out.append(f"\n_Not scored on these instances: {', '.join(map(_md_escape, group['missing']))} (no K-instance "
                   "section on these indices: a record of schema 1, or another K; re-score with this score.py)._")
    return out


def render_markdown(tables: Mapping[str, list[dict[str, Any]]],
                    same_k: Mapping[str, list[dict[str, Any]]] | None = None) -> str:
    same_k = same_k or {}
    out = [HEADER]
    if not tables and not same_k:
        out.append("\n_No submissions yet._\n")
        return "\n".join(out)
    datasets = list(tables)
    out.append("## Summary: rank per dataset and mean rank\n")
    if not tables:
        out.append("_No solver scored on the full test split yet._")
    else:
        out.append("| Solver | " + " | ".join(datasets) + " | mean rank | datasets |")
        out.append("|---|" + "---:|" * (len(datasets) + 2))
    for e in summary_rows(tables):
        cells = [(f"{e['ranks'][d]}{'=' if e['tied'][d] else ''}" if d in e["ranks"] else NA) for d in datasets]
        out.append(f"| {_md_escape(e['solver'])} | " + " | ".join(cells) + f" | {e['mean_rank']:.2f} | {e['n_datasets']} |")
    for name in _all_datasets(tables, same_k):
        out.append(f"\n## {dataset_title(_any_rows(name, tables, same_k), name)}\n")
        out += _markdown_main_table(tables.get(name) or [])
        for group in same_k.get(name, []):
            out += render_same_k_markdown(name, group)
    return "\n".join(out) + "\n"


def _markdown_main_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    out: list[str] = []
    if not rows:
        out.append("_No solver scored on the full test split yet._")
        return out
    heads = ["Rank", "Solver", "nRMSE", zero_shot_header(rows)] + [h for _, h in METRIC_COLUMNS] + [
        "params", "train s", "infer ms/sample", "seeds", "Setting"]
    out.append("| " + " | ".join(heads) + " |")
    out.append("|---:|---|" + "---:|" * (len(heads) - 3) + "---|")
    for r in rows:
        link = _safe_url(r["code"]) or _safe_url(r["paper"])
        solver = f"[{_md_escape(r['solver'])}]({link})" if link else _md_escape(r["solver"])
        solver += EQUATION_MARK if r.get("given_equation") else ""
        cells = [rank_label(r), solver, f"**{fmt_pm(r['mean'], r['std'])}**",
                 fmt_pm(*r["zero_shot"]) if r["zero_shot"] else NA]
        cells += [fmt(r["metrics"][k][0]) for k, _ in METRIC_COLUMNS]
        cells += [fmt_int(r["n_parameters"]), fmt_seconds(r["train_seconds"]),
                  fmt_ms(r["inference_seconds_per_sample"]), str(r["n_seeds"]), setting_markdown(r, r["setting"])]
        out.append("| " + " | ".join(cells) + " |")
    return out


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
tr.na td{color:#888;font-style:italic}
.unverified{color:#a00;font-weight:bold}
table.samek{border-top:3px solid #9467bd}
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


def render_html(tables: Mapping[str, list[dict[str, Any]]],
                same_k: Mapping[str, list[dict[str, Any]]] | None = None) -> str:
    same_k = same_k or {}
    names = sorted({r["solver"].lower(): r["solver"] for rows in tables.values() for r in rows})
    colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    body = ['<h1>pdebench_x leaderboard</h1>',
            '<p class="banner"><b>Setting.</b> Records at the <i>small</i> setting were trained on a CPU for a few '
            'epochs so that anyone can reproduce them (<code>python benchmarks/make_board.py</code>); they rank '
            "the solvers at that budget only and are not the papers' numbers. Primary metric: nRMSE, mean ± std "
            'over ≥ 3 training seeds; <code>2=</code> marks a tie (within one std of the group leader); '
            '<code>(eq.)</code> marks a solver given the symbolic equation with its coefficients as input; '
            f'<span class="unverified">{UNVERIFIED}</span> before a Setting marks a record that links no '
            'checkpoint or predictions file to re-score (its figures are as submitted). '
            'Per-instance solvers (fitted afresh on K test instances) are not ranked here: they appear in each '
            "dataset's <i>same K instances</i> table, beside the operator learners scored on the same instances. "
            'Click a column header to sort.</p>']
    if not tables and not same_k:
        body.append("<p>No submissions yet.</p>")
    elif not tables:
        body.append('<h2 id="summary">Summary: rank per dataset and mean rank</h2>'
                    "<p>No solver scored on the full test split yet.</p>")
    if tables:
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
    for name in _all_datasets(tables, same_k):
        rows_ = tables.get(name) or []
        body.append(f'<h2 id="{html.escape(name)}">'
                    f'{html.escape(dataset_title(_any_rows(name, tables, same_k), name))}</h2>')
        if rows_:
            body.append(_dataset_table(name, rows_))
            body.append(dataset_plots(name, rows_, colors))
        else:
            body.append('<p class="note">No solver scored on the full test split yet.</p>')
        for i, group in enumerate(same_k.get(name, [])):
            body.append(_same_k_table(name, group, i))
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
        solver += html.escape(EQUATION_MARK) if r.get("given_equation") else ""
        zs = r["zero_shot"]
        cells = [_td(rank_label(r), r["rank"], "rank"), _td(solver, r["solver"], "name"),
                 _td(fmt_pm(r["mean"], r["std"]), _num(r["mean"]), "primary"),
                 _td(fmt_pm(*zs) if zs else NA, _num(zs[0]) if zs else "")]
        cells += [_td(fmt(r["metrics"][k][0]), _num(r["metrics"][k][0])) for k, _ in METRIC_COLUMNS]
        cells += [_td(fmt_int(r["n_parameters"]), _num(r["n_parameters"])),
                  _td(fmt_seconds(r["train_seconds"]), _num(r["train_seconds"])),
                  _td(fmt_ms(r["inference_seconds_per_sample"]),
                      _num(None if r["inference_seconds_per_sample"] is None else 1e3 * r["inference_seconds_per_sample"])),
                  _td(str(r["n_seeds"]), r["n_seeds"]), _td(setting_html(r, r["setting"]), r["setting"], "text")]
        cls = ' class="tied"' if r["tied"] else ""
        body.append(f'<tr{cls} data-solver="{html.escape(r["solver"])}">' + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table class="sortable" id="table-{html.escape(name)}"><thead><tr>'
            + "".join(head) + "</tr></thead><tbody>" + "".join(body) + "</tbody></table></div>")


def same_k_table_id(name: str, index: int) -> str:
    return f"table-samek-{name}" + (f"-{index}" if index else "")


def _same_k_table(name: str, group: Mapping[str, Any], index: int) -> str:
    table_id = same_k_table_id(name, index)
    head = [_th("solver", "Solver", False, "name"), _th("kind", "kind", False, "name")]
    head += [_th(k, label, True) for k, label in SAME_K_HEADS] + [_th("setting", "Setting", False, "name")]
    body = []
    for r in group["rows"]:
        link = _safe_url(r["code"]) or _safe_url(r["paper"])
        solver = html.escape(r["solver"])
        if link:
            solver = f'<a href="{html.escape(link)}">{solver}</a>'
        solver += html.escape(EQUATION_MARK) if r.get("given_equation") else ""
        cells = [_td(solver, r["solver"], "name"), _td(html.escape(r["kind_label"]), r["kind_label"], "text")]
        for (text, value), (key, _) in zip(_same_k_cells(r), SAME_K_HEADS):
            cells.append(_td(html.escape(text), _num(value), "primary" if key == "nrmse" else ""))
        note = _same_k_note(r)
        cells.append(_td(setting_html(r, note), note, "text"))
        cls = ' class="na"' if not r["applicable"] else ""
        body.append(f'<tr{cls} data-solver="{html.escape(r["solver"])}" data-kind="{html.escape(r["kind"])}">'
                    + "".join(cells) + "</tr>")
    missing = ""
    if group["missing"]:
        missing = (f'<p class="note">Not scored on these instances: {html.escape(", ".join(group["missing"]))} '
                   "(no K-instance section on these indices: a record of schema 1, or another K; re-score with "
                   "this score.py).</p>")
    return (f'<h3 id="samek-{html.escape(name)}{f"-{index}" if index else ""}">{html.escape(same_k_caption(group))}'
            f'</h3><p class="note">{html.escape(SAME_K_NOTE)}</p>'
            f'<div class="scroll"><table class="sortable samek" id="{html.escape(table_id)}"><thead><tr>'
            + "".join(head) + "</tr></thead><tbody>" + "".join(body) + "</tbody></table></div>" + missing)


# ------------------------------------------------------------------------------------------
# build
# ------------------------------------------------------------------------------------------
def render(records: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(README.md, index.html) of a board holding ``records``."""
    tables, same_k = make_rows(records), same_k_tables(records)
    return render_markdown(tables, same_k), render_html(tables, same_k)


def build(board_dir: str | Path) -> tuple[Path, Path]:
    """Validate every record, then write <board>/README.md and <board>/index.html.

    Nothing is written when any record is invalid (the error lists them all).
    """
    board_dir = Path(board_dir)
    records = [rec for _, rec in load_board(board_dir)]
    readme, page = board_dir / "README.md", board_dir / "index.html"
    md, doc = render(records)
    readme.write_text(md)
    page.write_text(doc)
    return readme, page
