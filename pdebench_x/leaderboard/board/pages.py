"""The board's two pages, README.md and index.html, rendered from the Jinja2 templates.

The templates (``pdebench_x/leaderboard/templates/``: ``board.md.j2``, ``index.html.j2``) lay
out the tables of :mod:`.tables` with the texts of :mod:`.formatting`; index.html gets the CSS
and JS of ``pdebench_x/leaderboard/static/`` inlined and the plots of :mod:`.plots` as inline
SVG, so that it stays one self-contained file that needs no network.
"""
from __future__ import annotations

import math
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Mapping, Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from pdebench_x.leaderboard.board import formatting, plots
from pdebench_x.leaderboard.board.tables import METRIC_COLUMNS, make_rows, same_k_tables, summary_rows
from pdebench_x.evaluation.long_horizon import MIN_CORRELATION, VALID_NRMSE
from pdebench_x.leaderboard.statistics import ALPHA, CONVERGENCE_RULE
from pdebench_x.leaderboard.store import load_board, load_error_floors, load_solver_costs


def same_k_table_id(name: str, index: int) -> str:
    """The id of dataset ``name``'s ``index``-th same-K table in index.html."""
    return f"table-samek-{name}" + (f"-{index}" if index else "")


def _num(x: float | None, scale: float = 1.0) -> str:
    """A cell's sort value (``data-value``): the number's repr, '' when there is none ("Infinity", which
    the page's parseFloat reads, for a blown-up rollout)."""
    if x is None:
        return ""
    return "Infinity" if float(x) == math.inf else repr(float(x) * scale)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """Templates from the package; HTML autoescaped; a line holding only a block tag leaves nothing."""
    env = Environment(loader=PackageLoader("pdebench_x.leaderboard", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=StrictUndefined)
    env.filters.update(md=formatting.md_escape, num=_num)
    env.globals.update(
        {name: getattr(formatting, name) for name in (
            "NA", "EQUATION_MARK", "UNVERIFIED", "UNVERIFIED_TITLE", "NOT_CONVERGED", "NOT_CONVERGED_TITLE",
            "BELOW_FLOOR", "BELOW_FLOOR_TITLE", "BELOW_OOD_FLOOR", "BELOW_OOD_FLOOR_TITLE", "SAME_K_NOTE", "SAME_K_HEADS", "fmt", "fmt_pm", "fmt_ci", "fmt_speedup", "ood_ratio", "ood_shift", "long_shift",
            "horizon_header", "fmt_horizon", "horizon_sort_value", "trained_until", "BLOWN_UP", "fmt_drift",
            "fmt_int", "fmt_seconds", "fmt_ms", "rank_label", "safe_url", "zero_shot_header", "same_k_caption",
            "same_k_cells", "same_k_note")},
        METRIC_COLUMNS=METRIC_COLUMNS, CONVERGENCE_RULE=CONVERGENCE_RULE, ALPHA=ALPHA,
        VALID_NRMSE=VALID_NRMSE, MIN_CORRELATION=MIN_CORRELATION, same_k_table_id=same_k_table_id, zip=zip)
    return env


def _static(name: str) -> str:
    return (files("pdebench_x.leaderboard") / "static" / name).read_text()


#: the track splits' error floors, as the board names them
TRACK_FLOOR_LABELS = (("ood", "the out-of-distribution split"), ("long", "the long-horizon split, over its whole window"))


def _sections(tables: Mapping[str, list[dict[str, Any]]], same_k: Mapping[str, list[dict[str, Any]]],
              error_floors: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One section per dataset with a ranked table or a same-K group, in name order."""
    out = []
    for name in sorted(set(tables) | set(same_k)):
        rows, groups = tables.get(name) or [], same_k.get(name, [])
        title = formatting.dataset_title(rows or [r for g in groups for r in g["rows"]], name)
        out.append({"name": name, "title": title, "rows": rows, "groups": groups, "floor": error_floors.get(name),
                    "track_floors": [(label, error_floors[f"{track}/{name}"]) for track, label in TRACK_FLOOR_LABELS
                                     if f"{track}/{name}" in error_floors]})
    return out


def _context(tables: Mapping[str, list[dict[str, Any]]], same_k: Mapping[str, list[dict[str, Any]]] | None,
             error_floors: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    return {"sections": _sections(tables, same_k or {}, error_floors or {}), "datasets": list(tables),
            "summary": summary_rows(tables)}


def render_markdown(tables: Mapping[str, list[dict[str, Any]]],
                    same_k: Mapping[str, list[dict[str, Any]]] | None = None,
                    error_floors: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    return environment().get_template("board.md.j2").render(_context(tables, same_k, error_floors))


def render_html(tables: Mapping[str, list[dict[str, Any]]],
                same_k: Mapping[str, list[dict[str, Any]]] | None = None,
                error_floors: Mapping[str, Mapping[str, Any]] | None = None,
                solver_costs: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    context = _context(tables, same_k, error_floors)
    names = sorted({r["solver"].lower() for rows in tables.values() for r in rows}
                   | {r["solver"].lower() for groups in (same_k or {}).values() for g in groups for r in g["rows"]})
    colors = {n: plots.PALETTE[i % len(plots.PALETTE)] for i, n in enumerate(names)}
    for section in context["sections"]:
        if section["rows"]:
            # the per-instance solvers' fits join the cost plot (their error on the K instances)
            fits = [dict(r, k=g["k"]) for g in section["groups"] for r in g["rows"]
                    if r["kind"] == "per_instance" and r.get("cpu_seconds_per_instance") and r["mean"] is not None]
            section["plots"] = [Markup(svg) for svg in plots.dataset_plots(
                section["name"], section["rows"], colors, (solver_costs or {}).get(section["name"]), fits)]
            section["rollout"] = plots.shows_rollout(section["rows"])
    return environment().get_template("index.html.j2").render(context, css=_static("board.css"),
                                                              js=_static("board.js"))


def render(records: Sequence[Mapping[str, Any]], error_floors: Mapping[str, Mapping[str, Any]] | None = None,
           solver_costs: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[str, str]:
    """(README.md, index.html) of a board holding ``records`` (and its datasets' error floors and
    numerical solvers' cost curves)."""
    tables, same_k = make_rows(records, error_floors, solver_costs), same_k_tables(records)
    return (render_markdown(tables, same_k, error_floors),
            render_html(tables, same_k, error_floors, solver_costs))


def build(board_dir: str | Path) -> tuple[Path, Path]:
    """Validate every record, then write <board>/README.md and <board>/index.html.

    Nothing is written when any record is invalid (the error lists them all).
    """
    board_dir = Path(board_dir)
    records = [rec for _, rec in load_board(board_dir)]
    readme, page = board_dir / "README.md", board_dir / "index.html"
    md, doc = render(records, load_error_floors(board_dir), load_solver_costs(board_dir))
    readme.write_text(md)
    page.write_text(doc)
    return readme, page
