"""The board's index.html in a real headless browser (Debian's chromium).

The browser is driven through the DevTools protocol over ``--remote-debugging-pipe`` (JSON
messages separated by NUL on file descriptors 3 and 4), so no websocket package is needed.
Skipped, with the reason, where chromium is not installed (``apt-get install -y chromium``).
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import h5py
import pytest

from pdebench_x.leaderboard import board as board_mod
from pdebench_x.leaderboard import fingerprint as fpm
from pdebench_x.leaderboard import scoring, store
from pdebench_x.leaderboard.board.formatting import fmt
from pdebench_x.leaderboard.board.pages import same_k_table_id

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y "
                                                         "chromium); the browser tests need a real browser")


class DevTools:
    """A minimal DevTools-protocol client over chromium's debugging pipe."""

    def __init__(self, exe: str, profile: Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        cmd_r, self._cmd_w = os.pipe()   # we write, chromium reads on fd 3
        self._res_r, res_w = os.pipe()   # chromium writes on fd 4, we read

        def wire():  # in the child, before exec: the protocol's fixed descriptors
            os.dup2(cmd_r, 3)
            os.dup2(res_w, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(res_w)
        self._inbox: queue.Queue = queue.Queue()
        self.events: list[dict] = []
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable", session=self.session)

    def _read(self) -> None:
        buf = b""
        while True:
            chunk = os.read(self._res_r, 1 << 16)
            if not chunk:
                self._inbox.put(None)
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for m in messages:
                self._inbox.put(json.loads(m))

    def _pump(self, until, what: str):
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"chromium did not answer {what} within {self.timeout} s")
            try:
                msg = self._inbox.get(timeout=left)
            except queue.Empty:
                continue
            if msg is None:
                raise RuntimeError(f"chromium closed the pipe while waiting for {what}")
            if "id" not in msg:
                self.events.append(msg)
            found = until(msg)
            if found is not None:
                return found

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        reply = self._pump(lambda m: m if m.get("id") == self._next else None, method)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", {"url": url}, self.session)
        self._pump(lambda m: m if m.get("method") == "Page.loadEventFired" else None, f"loading {url}")

    def eval(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions, console.error/assert calls and error log entries so far."""
        time.sleep(0.2)  # let late events arrive
        while not self._inbox.empty():
            msg = self._inbox.get_nowait()
            if msg and "id" not in msg:
                self.events.append(msg)
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(f"{d.get('text')} {d.get('exception', {}).get('description', '')}"[:300])
            elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(json.dumps(p.get("args"))[:300])
            elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", "")[:300])
        return out

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = DevTools(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


SOLVERS = {  # name: (prediction scale per seed -> nRMSE = |scale - 1|, parameter count)
    "solver-b": ((1.20, 1.22, 1.18), 10),
    "solver-a": ((1.05, 1.06, 1.04), 1000),
    "solver-c": ((0.50, 0.45, 0.55), 100000),
}


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """A board of three solvers, scored from predictions files on a tiny Darcy split."""
    from pdebench_x.data.build import plan_from_config
    root = tmp_path_factory.mktemp("board_page")
    data_cfg = {"family": "darcy", "preset": "small",
                "presets": {"small": {"generator": {"grid": "cells", "resolution": 16},
                                      "sizes": {"train": 2, "valid": 2, "test": 3}}},
                "generator": {}, "sizes": {}, "seed": 0, "path": None,
                "problem": {"kind": "steady", "inputs": ["a"], "targets": ["u"]}}
    fp = fpm.make_fingerprint(data_cfg, root / "data", zero_shot=False, progress=False)
    board = root / "board"
    fpm.write_fingerprint(fp, store.fingerprints_dir(board))
    with h5py.File(plan_from_config(data_cfg, root / "data").split_path("test"), "r") as f:
        y = f["t0_fields/u"][()][:, None]
    for name, (scales, params) in SOLVERS.items():
        files = [scoring.write_predictions(root / f"{name}{i}.h5", fp["dataset"], name, i, {"u": y * s},
                                           n_parameters=params, train_seconds=10.0 * (i + 1))
                 for i, s in enumerate(scales)]
        store.add_record(scoring.score_predictions(files, store.fingerprints_dir(board), root / "data"), board)
    board_mod.build(board)
    return board / "index.html"


def table_order(browser, table_id: str) -> list[str]:
    return browser.eval(f"Array.from(document.querySelectorAll('#{table_id} tbody tr'))"
                        ".map(r => r.getAttribute('data-solver'))")


def test_page_loads_without_errors_and_lists_every_submission(browser, page):
    browser.open(page.as_uri())
    assert browser.errors() == []
    assert browser.eval("document.body.getAttribute('data-ready')") == "1"  # the script ran to the end
    tables = browser.eval("Array.from(document.querySelectorAll('table.sortable')).map(t => t.id)")
    dataset_table = next(t for t in tables if t != "table-summary")
    assert sorted(table_order(browser, dataset_table)) == sorted(SOLVERS)
    assert sorted(table_order(browser, "table-summary")) == sorted(SOLVERS)
    # ranked by nRMSE: a (0.05) < b (0.2) < c (0.5)
    assert table_order(browser, dataset_table) == ["solver-a", "solver-b", "solver-c"]
    assert browser.eval("document.querySelectorAll('svg.plot circle.pt').length") == 2 * len(SOLVERS)


def test_sorting_by_a_column_reorders_rows(browser, page):
    browser.open(page.as_uri())
    table = browser.eval("document.querySelector('table.sortable:not(#table-summary)').id")
    before = table_order(browser, table)
    click = f"document.querySelector('#{table} th[data-key=\"params\"]').click()"
    browser.eval(click)
    ascending = table_order(browser, table)
    by_params = sorted(SOLVERS, key=lambda n: SOLVERS[n][1])
    assert ascending == by_params and ascending != before
    assert browser.eval(f"document.querySelector('#{table} th[data-key=\"params\"]').getAttribute('aria-sort')") \
        == "ascending"
    browser.eval(click)
    assert table_order(browser, table) == by_params[::-1]
    browser.eval(f"document.querySelector('#{table} th[data-key=\"solver\"]').click()")
    assert table_order(browser, table) == sorted(SOLVERS)
    # a shared link sorts on load (leave the page first: a hash change alone is not a load)
    browser.open("about:blank")
    browser.open(page.as_uri() + f"#sort={table}:params:desc")
    assert table_order(browser, table) == by_params[::-1]
    assert browser.errors() == []


def test_error_detection_can_fail(browser, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>notDefinedAnywhere();</script></body></html>")
    browser.open(broken.as_uri())
    errors = browser.errors()
    assert errors and "notDefinedAnywhere" in " ".join(errors)


def test_shipped_board_page_matches_its_records(browser):
    page = REPO / "leaderboard" / "index.html"
    records = sorted((REPO / "leaderboard" / "submissions").glob("*.json"))
    if not page.exists() or not records:
        pytest.skip("no board shipped yet (run benchmarks/make_board.py)")
    browser.open(page.as_uri())
    assert browser.errors() == []
    for path in records:
        rec = json.loads(path.read_text())
        # ranked table: solvers scored on the full split; the same-K table: per-instance runs and N/A
        on_full_split = rec.get("status", "ok") == "ok" and rec["source"] != "run"
        table = same_k_table_id(rec["dataset"]["name"], 0) if not on_full_split else \
            f"table-{rec['dataset']['name']}"
        rows = table_order(browser, table)
        assert rec["solver"]["name"] in rows, f"{path.name} is not on the shipped page: rebuild the board"


@pytest.fixture(scope="module")
def samek_page(tmp_path_factory) -> Path:
    """A board with operator learners (predictions), a per-instance PINN run (3 iterations) and
    LPINN's not-applicable record on a tiny Darcy split: the same-K table with both kinds and N/A."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from conftest import compose_config

    from pdebench_x.data.build import plan_from_config
    from pdebench_x.core.errors import NotApplicableError
    from pdebench_x.training.run import run_training
    root = tmp_path_factory.mktemp("samek_page")
    data = ["data.sizes.train=2", "data.sizes.valid=2", "data.sizes.test=4", "data.generator.resolution=16",
            "data.n_instances=2"]
    cfg = compose_config(data, data_dir=root / "data", output_dir=root / "out")
    fp = fpm.make_fingerprint(cfg.data, root / "data", zero_shot=False, progress=False, measure_samples=1)
    board = root / "board"
    fpm.write_fingerprint(fp, store.fingerprints_dir(board))
    with h5py.File(plan_from_config(cfg.data, root / "data").split_path("test"), "r") as f:
        y = f["t0_fields/u"][()][:, None]
    for name, (scales, params) in SOLVERS.items():
        files = [scoring.write_predictions(root / f"{name}{i}.h5", fp["dataset"], name, i, {"u": y * s},
                                           n_parameters=params, n_instances=2, instance_seed=0)
                 for i, s in enumerate(scales)]
        store.add_record(scoring.score_predictions(files, store.fingerprints_dir(board), root / "data"), board)
    pinn = ["model=pinn", "model.net.width=8", "model.net.depth=1", "model.fit.collocation=64",
            "model.fit.optimizers=[{name: adam, iterations: 3, lr: 1.0e-3}]"]
    run_training(compose_config(data + pinn, data_dir=root / "data", output_dir=root / "out"), root / "pinn")
    with pytest.raises(NotApplicableError):
        run_training(compose_config(data + ["model=lpinn"], data_dir=root / "data", output_dir=root / "out"),
                     root / "lpinn")
    # the OOD track: the PINN fitted afresh on the same K instances of the shifted split
    ood = fpm.make_track_fingerprint(cfg.data, root / "data", "ood", progress=False)
    fpm.write_track(ood, store.fingerprints_dir(board))
    run_training(compose_config(data + pinn + fpm.track_overrides(ood), data_dir=root / "data",
                                output_dir=root / "out"), root / "pinn_ood")
    runs = {"pinn": [root / "pinn", root / "pinn_ood"], "lpinn": [root / "lpinn"]}
    for run in ("pinn", "lpinn"):
        store.add_record(scoring.score_runs(runs[run], store.fingerprints_dir(board), root / "data"), board)
    board_mod.build(board)
    return board / "index.html"


def test_same_k_table_shows_both_kinds_and_na(browser, samek_page):
    browser.open(samek_page.as_uri())
    assert browser.errors() == []
    tables = browser.eval("Array.from(document.querySelectorAll('table.sortable')).map(t => t.id)")
    samek = [t for t in tables if t.startswith("table-samek-")]
    main = [t for t in tables if t not in samek and t != "table-summary"]
    assert len(samek) == 1 and len(main) == 1
    assert sorted(table_order(browser, main[0])) == sorted(SOLVERS)          # per-instance solvers not ranked
    assert sorted(table_order(browser, samek[0])) == sorted([*SOLVERS, "pinn", "lpinn"])
    kinds = browser.eval(f"Object.fromEntries(Array.from(document.querySelectorAll('#{samek[0]} tbody tr'))"
                         ".map(r => [r.getAttribute('data-solver'), r.getAttribute('data-kind')]))")
    assert kinds["pinn"] == kinds["lpinn"] == "per_instance" and kinds["solver-a"] == "external"
    col = browser.eval(f"pdebenchBoard.columnIndex(document.getElementById('{samek[0]}'), 'nrmse')")
    lpinn = browser.eval(f"document.querySelector('#{samek[0]} tr[data-solver=\"lpinn\"]').cells[{col}].textContent")
    assert lpinn == "N/A"
    assert "Darcy" in browser.eval(f"document.querySelector('#{samek[0]} tr[data-solver=\"lpinn\"]').textContent")
    # sorted by nRMSE on the K instances, N/A last; a click on the header keeps N/A last descending too
    assert table_order(browser, samek[0])[-1] == "lpinn"
    values = (f"Array.from(document.querySelectorAll('#{samek[0]} tbody tr'))"
              f".map(r => r.cells[{col}].getAttribute('data-value'))")
    ascending = [float(v) for v in browser.eval(values)[:-1]]
    assert ascending == sorted(ascending) and len(ascending) == 4
    browser.eval(f"document.querySelector('#{samek[0]} th[data-key=\"nrmse\"]').click()")
    browser.eval(f"document.querySelector('#{samek[0]} th[data-key=\"nrmse\"]').click()")
    assert table_order(browser, samek[0])[-1] == "lpinn"
    assert [float(v) for v in browser.eval(values)[:-1]] == sorted(ascending, reverse=True)
    # the track columns: the PINN's OOD error on the K (its own OOD run), — where a solver was not
    # scored there (predictions of the official split only), N/A where it does not apply
    ood = browser.eval(f"pdebenchBoard.columnIndex(document.getElementById('{samek[0]}'), 'ood_k')")
    cells = browser.eval(f"Object.fromEntries(Array.from(document.querySelectorAll('#{samek[0]} tbody tr'))"
                         f".map(r => [r.getAttribute('data-solver'), r.cells[{ood}].textContent]))")
    record = json.loads(next(p for p in (samek_page.parent / "submissions").glob("*pinn.json")
                             if "lpinn" not in p.name).read_text())
    assert cells["pinn"] == fmt(record["ood"]["aggregate"]["overall"]["nrmse"]["mean"])
    assert cells["solver-a"] == "—" and cells["lpinn"] == "N/A"
    assert browser.errors() == []
