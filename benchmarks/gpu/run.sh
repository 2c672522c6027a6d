#!/usr/bin/env bash
# The GPU kit's one device call (benchmarks/gpu/README.md), from the repository root:
#
#   bash benchmarks/gpu/run.sh        # device call: carry [".whl"], timeout_s 560
#
# Installs the carried wheels (.whl/, made by prepare.sh) into /tmp/site, then, each under its
# own timeout so that the whole ends within 8 minutes:
#   (a) the FNO Darcy s = 85 reproduction, seed 0, generation included (benchmarks/reproduce.py);
#   (b) generation throughput at the NS and SWE benchmark presets, GPU beside CPU (generation.py);
#   (c) the training run's metrics.json, config and training curve.
# Every log and result goes to $OUT (7 files; a device call brings back at most 8).
#
# GPU_KIT_DRY_RUN=1 checks the script without a GPU (OUT must be set; PY names a Python that
# has the project's requirements, default python3): the wheels are installed for CPython 3.12
# into a temporary folder that nothing then uses (this Python may be another version), (a)
# becomes `reproduce.py --report` (trains nothing), (b) runs on the CPU on 1 sample.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
: "${OUT:?OUT must name the folder the results go to}"
mkdir -p "$OUT"

DRY=${GPU_KIT_DRY_RUN:-0}
PY=${PY:-python3}
RUN_DIR=outputs/reproduce/fno_darcy/seed0
# seconds for each step, each followed by up to 5 s of grace before a kill: 4 x 5 + 40 + 40 + 290 + 85 = 475
INSTALL_S=40 PREFLIGHT_S=40 REPRODUCE_S=290 GENERATION_S=85 GRACE_S=5
export PYTHONUNBUFFERED=1 PDEBENCH_X_DATA=${PDEBENCH_X_DATA:-/tmp/data}

if [ "$DRY" = 1 ]; then
    site=$(mktemp -d)
    trap 'rm -rf "$site"' EXIT
    wheel_tags=(--python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none --only-binary=:all:
                --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
    export PYTHONPATH=$PWD
    reproduce_args=(--report)
    generation_args=(--device cpu --n 1 --cpu-n 1 --families swe ns)
else
    site=/tmp/site
    wheel_tags=()
    export PYTHONPATH=$site:$PWD
    reproduce_args=(-- trainer.accelerator=gpu trainer.devices=1)
    generation_args=(--device cuda --n 96 --cpu-n 4 --cpu-threads 1 --families swe ns)
fi

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

{
    step "GPU"
    if command -v nvidia-smi >/dev/null; then nvidia-smi -L; else echo "nvidia-smi: not found"; fi
    step "wheels: $(find .whl -type f -name '*.whl' | wc -l) from .whl/ into $site"
    timeout -k "$GRACE_S" "$INSTALL_S" "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target "$site" "${wheel_tags[@]}" .whl/*.whl
} 2>&1 | tee "$OUT/setup.log"
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
    echo "run.sh: the wheels did not install (bash benchmarks/gpu/prepare.sh, and carry .whl)" | tee -a "$OUT/setup.log"
    exit 1
fi

# Imports of everything train.py needs, and the versions and places they come from: a failure
# here names the missing or clashing package in seconds instead of minutes into (a).
{
    step "imports"
    timeout -k "$GRACE_S" "$PREFLIGHT_S" "$PY" - <<'EOF'
import importlib, importlib.metadata as md, sys
import torch
print("python", sys.version.split()[0], "| torch", torch.__version__, "| CUDA", torch.cuda.is_available(),
      "|", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")
for module, dist in [("typing_extensions", "typing-extensions"), ("google.protobuf", "protobuf"),
                     ("numpy", "numpy"), ("lightning", "lightning"), ("hydra", "hydra-core"),
                     ("omegaconf", "omegaconf"), ("pydantic", "pydantic"), ("wandb", "wandb"),
                     ("neuralop", "neuraloperator"), ("jsonschema", "jsonschema"), ("pdebench_x.cli.train", None),
                     ("pdebench_x.models.fno", None)]:
    try:
        where = importlib.import_module(module).__file__
        print(f"{module:22s} {md.version(dist) if dist else '':10s} {where}")
    except Exception as err:  # keep going: every failure is listed at once
        print(f"{module:22s} FAILED: {type(err).__name__}: {err}")
EOF
    step "pip check (the whole environment; only lines naming carried packages matter)"
    "$PY" -m pip check 2>&1 | head -40
} 2>&1 | tee -a "$OUT/setup.log"

step "(a) FNO Darcy s = 85, seed 0 (timeout ${REPRODUCE_S} s)" | tee "$OUT/reproduce.log"
timeout -k "$GRACE_S" "$REPRODUCE_S" "$PY" benchmarks/reproduce.py fno_darcy --seeds 0 "${reproduce_args[@]}" \
    2>&1 | tee -a "$OUT/reproduce.log"
echo "reproduce.py exit status ${PIPESTATUS[0]} (124: stopped by its timeout)" | tee -a "$OUT/reproduce.log"

step "(b) generation throughput, NS and SWE benchmark presets (timeout ${GENERATION_S} s)" | tee "$OUT/generation.log"
timeout -k "$GRACE_S" "$GENERATION_S" "$PY" benchmarks/gpu/generation.py "${generation_args[@]}" \
    --json "$OUT/generation.json" 2>&1 | tee -a "$OUT/generation.log"
echo "generation.py exit status ${PIPESTATUS[0]} (124: stopped by its timeout)" | tee -a "$OUT/generation.log"

step "(c) the training run's files"
for pair in "metrics.json:metrics.json" ".hydra/config.yaml:config.yaml"; do
    if [ -f "$RUN_DIR/${pair%%:*}" ]; then cp "$RUN_DIR/${pair%%:*}" "$OUT/${pair##*:}"; fi
done
curve=$(find "$RUN_DIR" -name metrics.csv 2>/dev/null | head -1)
if [ -n "$curve" ]; then cp "$curve" "$OUT/train_metrics.csv"; fi
ls -l "$OUT"
