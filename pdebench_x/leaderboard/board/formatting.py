"""How the board writes its figures and labels: numbers, ranks, links, captions, same-K cells.

Plain text, shared by the Markdown and HTML pages (the templates add the markup).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from pdebench_x.evaluation.long_horizon import HORIZON_MULTIPLES
from pdebench_x.leaderboard.board.tables import SAME_K_METRICS
from pdebench_x.leaderboard.statistics import CONVERGENCE_RULE

NA = "N/A"


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


def ood_ratio(row: Mapping[str, Any]) -> float | None:
    """The out-of-distribution nRMSE over the in-distribution one (None without an OOD score)."""
    if not row.get("ood") or row["ood"][0] is None or not row["mean"]:
        return None
    return row["ood"][0] / row["mean"]


def ood_shift(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """What a dataset's out-of-distribution split shifts (from its rows' records), if it has one."""
    return next((r["ood_shift"] for r in rows if r.get("ood_shift")), None)


def long_shift(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """How far a dataset's long-horizon split runs (from its rows' records), if it has one."""
    return next((r["long_shift"] for r in rows if r.get("long_shift")), None)


#: The cell of a rollout that turned non-finite by then.
BLOWN_UP = "blown up"


def horizon_header() -> str:
    """The column of the error at multiples of the trained horizon."""
    return "nRMSE at " + " / ".join(f"{m}x" for m in HORIZON_MULTIPLES) + " horizon"


def fmt_horizon(values: Sequence[tuple[int, float | None]] | None) -> str:
    """The error at 2x / 5x / 10x the trained horizon ("0.12 / 0.4 / blown up"); N/A where the record
    does not say what it was trained to."""
    if not values:
        return NA
    return " / ".join(BLOWN_UP if v == math.inf else fmt(v) for _, v in values)


def horizon_sort_value(values: Sequence[tuple[int, float | None]] | None) -> float | None:
    """The column's sort key: the error at the farthest multiple scored (a blow-up sorts last)."""
    scored = [v for _, v in values or () if v is not None]
    return scored[-1] if scored else None


def fmt_drift(drift: Sequence[tuple[str, float | None, float | None]] | None) -> str:
    """The drift at the last long-horizon frame: "high-k energy x0.31; enstrophy x0.82; mean vorticity
    1.2e-4 (truth 0)": a ratio to the truth where the truth is not (numerically) zero, else both values."""
    if not drift:
        return NA
    parts = []
    for name, value, truth in drift:
        if value is None:
            parts.append(f"{name} {BLOWN_UP}")
        elif truth is None:
            parts.append(f"{name} x{fmt(value)}")
        elif abs(truth) > 1e-9 * max(abs(value), 1.0):
            parts.append(f"{name} x{fmt(value / truth)}")
        else:
            parts.append(f"{name} {fmt(value)} (truth {fmt(truth)})")
    return "; ".join(parts)


def trained_until(rows: Sequence[Mapping[str, Any]]) -> float | None:
    """The horizon a dataset's models were trained to (from its rows' records), if they say."""
    return next((r["trained_until"] for r in rows if r.get("trained_until")), None)


def fmt_speedup(value: tuple[float, bool] | None) -> str:
    """A speed-up over the numerical solver: "12x", ">= 12x" for a lower bound, N/A."""
    if value is None:
        return NA
    return f"{'' if value[1] else '>= '}{fmt(value[0])}x"


def fmt_ci(ci: Sequence[float] | None) -> str:
    """A confidence interval as [lo, hi]; N/A without per-sample values."""
    return NA if ci is None else f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def rank_label(row: Mapping[str, Any]) -> str:
    return f"{row['rank']}=" if row["tied"] else str(row["rank"])


#: Appended to a solver's name when it is given the PDE's equation and coefficients as an input.
EQUATION_MARK = " (eq.)"

#: Put before the Setting of a record with nothing to re-score (see :func:`.tables.unverified`).
UNVERIFIED = "unverified"
UNVERIFIED_TITLE = "no checkpoint or predictions file linked: nothing to re-score with --verify"
BELOW_FLOOR = "below the error floor"
BELOW_FLOOR_TITLE = "the mean nRMSE is below the nRMSE of the data's own truth against a finer solve"
BELOW_OOD_FLOOR = "OOD below the error floor"
BELOW_OOD_FLOOR_TITLE = "the OOD nRMSE is below the nRMSE of the OOD split's own truth against a finer solve"
NOT_CONVERGED = "not converged"
NOT_CONVERGED_TITLE = f"by the board's rule, for seed(s) named: {CONVERGENCE_RULE}"


def md_escape(text: str) -> str:
    """Text for a Markdown table cell (a "|" would end the cell)."""
    return text.replace("|", "\\|")


def safe_url(url: str | None) -> str | None:
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


def same_k_caption(group: Mapping[str, Any]) -> str:
    if group["k"] is None:
        return "Same K instances: no per-instance solver scored here yet"
    seed = "first K" if group["seed"] is None else f"instance seed {group['seed']}"
    return f"Same K instances: K = {group['k']} test instances {group['indices']} ({seed})"


SAME_K_NOTE = ("Per-instance solvers fitted afresh on each of these test instances, and the operator learners "
               "scored on the same instances, frames and metrics (sorted by nRMSE, not ranked). nRMSE: mean over "
               "the K instances (operator learners: and over training seeds); 95% CI: the bootstrap of the ranked "
               "tables over the seeds, then the K instances (N/A without per-instance values); ± instances: std over the K "
               "instances; ± seeds: std over training seeds (— : no training seeds). s/instance: fit + prediction "
               "(per-instance), inference (operator); train s: the operator learner's training, paid once, or "
               "the per-instance solver's K fits together. OOD nRMSE and valid time on the K: the same K "
               "instances of the out-of-distribution and long-horizon splits, where the per-instance solvers are "
               "fitted afresh (their fitted horizon is the long one) and the operator learners' checkpoints are "
               "scored (— : not scored there).")


def same_k_cells(r: Mapping[str, Any]) -> list[tuple[str, float | None]]:
    """(text, sort value) of the numeric cells of a same-K row, from nRMSE to seeds."""
    def num(x, f=fmt):
        return (f(x) if r["applicable"] else NA, x)
    dash = "—" if r["applicable"] else NA
    cells = [num(r["mean"]), (fmt_ci(r["ci"]) if r["applicable"] else NA, r["ci"][0] if r.get("ci") else None),
             num(r["std_instances"]),
             (fmt(r["std_seeds"]) if r["std_seeds"] is not None else dash, r["std_seeds"])]
    cells += [num(r["metrics"][k][0]) for k, _ in SAME_K_METRICS]
    cells += [(fmt(r[key]) if r[key] is not None else dash, r[key]) for key in ("ood_k", "valid_time_k")]
    cells += [num(r["seconds_per_instance"], fmt_seconds), num(r["train_seconds"], fmt_seconds),
              (str(r["n_seeds"]) if r["applicable"] else NA, r["n_seeds"] if r["applicable"] else None)]
    return cells


SAME_K_HEADS = [("nrmse", "nRMSE on the K"), ("ci", "95% CI"), ("std_instances", "± instances"), ("std_seeds", "± seeds")] + \
    list(SAME_K_METRICS) + [("ood_k", "OOD nRMSE on the K"), ("valid_time_k", "valid time on the K"),
                            ("seconds_per_instance", "s/instance"), ("train_seconds", "train s"), ("seeds", "seeds")]


def same_k_note(r: Mapping[str, Any]) -> str:
    """A same-K row's last cell: its Setting, or why the solver does not apply."""
    return f"N/A: {r['reason']}" if not r["applicable"] else r["setting"]
