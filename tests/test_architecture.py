"""The layers of docs/ARCHITECTURE.md hold: imports flow one way (import-linter's contract in
pyproject.toml), every module belongs to a layer, and no private name crosses packages."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "pdebench_x"


def layers() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return contract["layers"]


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        out.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return out


def test_imports_flow_one_way():
    lint = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(REPO)}   # this checkout's package, whatever is installed
    done = subprocess.run([str(lint), str(REPO / "pyproject.toml")], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_every_module_belongs_to_a_layer():
    top = set(layers())
    outside = [name for name, _ in modules()
               if name not in ("pdebench_x", "pdebench_x.__main__")
               and not any(name == layer or name.startswith(layer + ".") for layer in top)]
    assert not outside, f"modules outside the layers of pyproject.toml's contract: {outside}"


def _package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_private_name_is_imported_across_packages():
    crossings = []
    for name, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("pdebench_x."):
                continue
            if _package_of(node.module) == _package_of(name):
                continue
            crossings += [f"{name} imports {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_")]
    assert not crossings, crossings


def test_the_contract_lists_every_package():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists() and p.name != "conf"}
    listed = {layer.split(".")[1] for layer in layers()}
    assert packages <= listed | {"cli"}, f"packages not in a layer: {packages - listed}"
