"""The board's plots (matplotlib, inline SVG): deterministic, embeddable in one page, with tooltips."""
from __future__ import annotations

import re
from xml.dom import minidom

from pdebench_x.leaderboard.board.plots import svg_plot

SERIES = [{"name": "a", "color": "#1f77b4", "points": [(10.0, 0.2, 0.01)]},
          {"name": "b|c", "color": "#d62728", "points": [(1e4, 0.05, 0.0), (None, 0.1, 0.0)]},
          {"name": "d", "color": "#2ca02c", "points": [(0.0, 0.3, 0.1)]}]   # x = 0: not on a log axis


def test_plot_is_deterministic_embeddable_and_has_a_tooltip_per_point():
    svg = svg_plot(SERIES, "nRMSE vs parameters", "parameters", "nRMSE", logx=True, logy=True, plot_id="plot-x")
    assert svg == svg_plot(SERIES, "nRMSE vs parameters", "parameters", "nRMSE", logx=True, logy=True,
                           plot_id="plot-x")
    root = minidom.parseString(svg).documentElement
    assert (root.getAttribute("id"), root.getAttribute("class"), root.getAttribute("role"),
            root.getAttribute("aria-label")) == ("plot-x", "plot", "img", "nRMSE vs parameters")
    # every id inside is the plot's own (several plots share one page), every reference resolves
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert len(ids) == len(set(ids)) and all(i.startswith("plot-x") for i in ids)
    assert set(re.findall(r'(?:href="#|url\(#)([^")]+)', svg)) <= set(ids)
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "") and "xlink" not in svg
    # the drawable points only (None, and x = 0 on a log axis, are left out), each with its tooltip
    titles = [c.getElementsByTagName("title")[0].firstChild.data for c in root.getElementsByTagName("circle")
              if c.getAttribute("class") == "pt"]
    assert titles == ["a: 0.2 ± 0.01 at 10", "b|c: 0.05 ± 0 at 1.00e+04"]


def test_plot_without_data_says_so():
    svg = svg_plot([{"name": "a", "color": "#1f77b4", "points": [(None, None, None)]}], "t", "x", "y",
                   logx=True, plot_id="plot-empty")
    assert "no data" in svg and 'class="pt"' not in svg

