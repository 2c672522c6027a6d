"""Fingerprints of the official test splits: what makes a score comparable.

A leaderboard number means something only on the exact test samples everyone else was
scored on. For each (dataset, preset) the suite ships ``leaderboard/fingerprints/<name>.json``
describing its test split (and, where defined, the zero-shot split at a higher resolution):

* the generator (class and version), its settings, the seed and the number of samples;
* an exact hash of the seeded random inputs (the coefficient field of a steady problem, the
  initial frame of a time-dependent one): SHA-256 of each sample's float32 bytes. They come
  from the seeded random stream, but some pass through floating-point transforms before they
  are stored (the NS initial vorticity: numpy FFTs in float64, then the solver's float32 torch
  FFT round trip), so their last bits are those of the FFT library. The generators keep them
  bitwise reproducible where the official fingerprints were made (x86 torch with MKL: the NS
  generator runs its FFTs with 2+ threads, as MKL's one-thread kernel rounds differently);
  another FFT library (a non-MKL torch build, e.g. ARM) gives other last bits, and the check
  then says so (inputs differ while the target statistics agree);
* per-sample statistics of the targets (mean, std, min, max per channel), compared with a
  tolerance: the targets come from a numerical solver whose last digits depend on the
  machine (BLAS, FFT, solver fallback, float32 or float64 arithmetic).

The tolerance is measured per dataset when the fingerprint is made: the test split is
regenerated in the other precision (generators with a ``dtype`` setting) or, for solvers
that always work in float64, taken as float64 before the float32 storage, and the largest
per-sample statistic difference d = |s_file - s_regen| / max(|min|, |max|) of the sample is
recorded. The check accepts d <= max(SAFETY * measured, FLOOR): a regeneration on another
machine differs by round-off (~1e-7), a different split by O(1).

A mismatch is refused with a message listing what differs and how to fix it.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from pdebench_x.core.plain import to_plain
from pdebench_x.data.build import (DatasetPlan, check_existing, file_lock, generate_split,
                                   generator_class)
from pdebench_x.data.formats import DataFormatError, open_source
from pdebench_x.data.generators.base import sample_seed
from pdebench_x.pdes import get_family

FORMAT_VERSION = 1
STATS = ("mean", "std", "min", "max")
#: Tolerance = max(SAFETY * measured difference, FLOOR) (see the module docstring).
SAFETY = 100.0
FLOOR = 1e-6
#: Samples regenerated to measure the tolerance (the rest are checked, not measured).
MEASURE_SAMPLES = 8



class FingerprintMismatch(ValueError):
    """A test split that is not the official one (the message says what differs)."""


class FingerprintMissing(FileNotFoundError):
    """No fingerprint is shipped for the dataset."""


# ------------------------------------------------------------------------------------------
# where fingerprints live
# ------------------------------------------------------------------------------------------
def fingerprint_path(directory: str | Path, dataset: str) -> Path:
    return Path(directory) / f"{dataset}.json"


def available(directory: str | Path) -> list[str]:
    return sorted(p.stem for p in Path(directory).glob("*.json"))


def content_id(fp: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of everything but the id itself."""
    body = {k: v for k, v in fp.items() if k != "id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def load_fingerprint(directory: str | Path, dataset: str) -> dict[str, Any]:
    path = fingerprint_path(directory, dataset)
    if not path.exists():
        known = available(directory) if Path(directory).is_dir() else []
        raise FingerprintMissing(
            f"no fingerprint for dataset {dataset!r} in {directory} (official datasets: {known or 'none'}). "
            "Only official test splits can be scored for the board: train on an official preset "
            "(e.g. data=darcy data.preset=small), or make a fingerprint with "
            "`pdebench-x fingerprint data=<family> ...` for a new dataset in its own pull request.")
    fp = json.loads(path.read_text())
    if fp.get("format_version") != FORMAT_VERSION:
        raise FingerprintMismatch(f"{path}: fingerprint format {fp.get('format_version')!r}, this code reads "
                                  f"{FORMAT_VERSION}")
    if fp.get("id") != content_id(fp):
        raise FingerprintMismatch(f"{path} was edited after it was made (its id no longer matches its "
                                  "content); restore it from git or remake it with `pdebench-x fingerprint data=<family> [data.preset=...]`")
    return fp


# ------------------------------------------------------------------------------------------
# plans of the official splits
# ------------------------------------------------------------------------------------------
def plan_of(fp: Mapping[str, Any], root: str | Path, split: str = "test") -> DatasetPlan:
    """The DatasetPlan that generates the fingerprinted split ("test" or "zero_shot")."""
    plan = fp["plan"]
    generator = dict(plan["generator"])
    customised = bool(plan["customised"])
    if split == "zero_shot":
        if not fp.get("zero_shot"):
            raise KeyError(f"dataset {fp['dataset']} has no zero-shot split")
        generator.update(fp["zero_shot"]["overrides"])
        customised = True
    return DatasetPlan(family=fp["family"], preset=fp["preset"], generator=generator, sizes=dict(plan["sizes"]),
                       seed=int(plan["seed"]), root=Path(root), customised=customised)


def trained_horizon(fp: Mapping[str, Any]) -> float | None:
    """The last time of the fingerprinted dataset's frames (t = 20 for ns_small): the horizon a model
    trained on it was trained to, which the long-horizon split runs past. From the generator's
    description of the plan (nothing is generated); None for a steady problem."""
    times = generator_class(fp["family"])(**fp["plan"]["generator"]).describe().times
    return None if times is None or len(times) < 2 else float(times[-1])


def ensure_test_split(plan: DatasetPlan, progress: bool = True) -> Path:
    """The plan's test split file, generated if missing (only that split: scoring needs no other)."""
    path = plan.split_path("test")
    # the build driver's per-split lock: a training run may be generating the same split
    with file_lock(path.parent / f".{path.name}.lock", f"generating {plan.name}/test"):
        if path.exists():
            check_existing(path, plan, "test")
            return path
        return generate_split(plan, "test", progress=progress)


# ------------------------------------------------------------------------------------------
# computing a split's fingerprint
# ------------------------------------------------------------------------------------------
def _channels(problem: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    if problem["kind"] == "steady":
        return list(problem["inputs"]), list(problem["targets"])
    return list(problem["fields"]), list(problem["fields"])


def _read_inputs(source, index: int, problem: Mapping[str, Any]) -> np.ndarray:
    inputs, _ = _channels(problem)
    if problem["kind"] == "steady":
        return source.read(index, inputs)
    return source.read(index, inputs, slice(0, 1))  # the seeded initial condition


def target_stats(arr: np.ndarray) -> list[list[float]]:
    """[T, C, X, Y] -> per channel [mean, std, min, max] in float64."""
    a = np.asarray(arr, dtype=np.float64)
    a = np.moveaxis(a, 1, 0).reshape(a.shape[1], -1)
    return [[float(c.mean()), float(c.std()), float(c.min()), float(c.max())] for c in a]


def split_content(path: str | Path, plan: DatasetPlan, problem: Mapping[str, Any]) -> dict[str, Any]:
    """Generator facts, input hashes and target statistics of one split file."""
    source = open_source(path, "well")
    inputs, targets = _channels(problem)
    attrs = source.info.attrs
    hashes, stats = [], []
    for i in range(len(source)):
        x = np.ascontiguousarray(_read_inputs(source, i, problem), dtype="<f4")
        hashes.append(hashlib.sha256(x.tobytes()).hexdigest()[:16])
        stats.append(target_stats(source.read(i, targets)))
    return {
        "generator": str(attrs.get("generator")),
        "generator_version": str(attrs.get("generator_version")),
        "settings": json.loads(attrs.get("settings", "{}")) if isinstance(attrs.get("settings"), str)
        else attrs.get("settings"),
        "seed": int(attrs.get("seed", -1)),
        "n_samples": len(source),
        "spatial_shape": list(source.info.spatial_shape),
        "input_channels": inputs,
        "target_channels": targets,
        "inputs_sha256": hashlib.sha256("".join(hashes).encode()).hexdigest(),
        "inputs_sha256_per_sample": hashes,
        "target_stats": {"names": list(STATS), "per_sample": stats},
    }


def _as_channels(desc, out: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Generator output {field: [B, (T,) X, Y(, 2)]} -> {channel: [B, T, X, Y]} float64."""
    channels = {}
    for fi in desc.fields:
        arr = np.asarray(out[fi.name], dtype=np.float64)
        if not fi.time_varying:
            arr = arr[:, None]
        if fi.order == 0:
            channels[fi.name] = arr
        else:
            for k, name in enumerate(fi.channel_names()):
                channels[name] = arr[..., k]
    return channels


def _regenerate_other_precision(plan: DatasetPlan, n: int) -> tuple[dict[str, np.ndarray], str]:
    """The first n test samples, regenerated another way (see the module docstring)."""
    cls = generator_class(plan.family)
    seeds = [sample_seed(plan.seed, "test", i) for i in range(n)]
    gen = cls(**plan.generator)
    # the precision in use: an explicit setting, else the generator's own default
    current = str(gen.settings.get("dtype") or getattr(gen, "dtype", "")).replace("torch.", "")
    if current in ("float32", "float64"):
        other = "float64" if current == "float32" else "float32"
        try:
            alt = cls(**{**plan.generator, "dtype": other})
        except (TypeError, ValueError):
            alt = None
        if alt is not None:
            return (_as_channels(alt.describe(), alt.generate(seeds)),
                    f"regenerated in {other} (stored run: {current}, saved as float32)")
    if hasattr(gen, "sample"):
        # Solvers that always work in float64: the float64 solution before float32 storage.
        fields = [fi.name for fi in gen.describe().fields]
        samples = [gen.sample(s) for s in seeds]
        out = {name: np.stack([s[k] for s in samples]) for k, name in enumerate(fields)}
        return _as_channels(gen.describe(), out), "float64 solution vs its float32 storage"
    return _as_channels(gen.describe(), gen.generate(seeds)), "same-precision regeneration"


def measure_tolerance(content: Mapping[str, Any], plan: DatasetPlan, n: int = MEASURE_SAMPLES) -> dict[str, Any]:
    n = min(n, content["n_samples"])
    regen, how = _regenerate_other_precision(plan, n)
    targets = content["target_channels"]
    worst = 0.0
    for i in range(n):
        arr = np.stack([regen[c][i] for c in targets], axis=1)  # [T, C, X, Y]
        diff = _stat_differences(content["target_stats"]["per_sample"][i], target_stats(arr))
        worst = max(worst, max(d for d, _ in diff))
    return {"rtol": max(SAFETY * worst, FLOOR), "measured": worst, "samples": n, "how": how,
            "rule": f"max({SAFETY:g} x measured, {FLOOR:g}); difference = |stat - stat_ref| / max(|min|, |max|) "
                    "of the reference sample"}


def _stat_differences(ref: list[list[float]], other: list[list[float]]) -> list[tuple[float, str]]:
    out = []
    for c, (r, o) in enumerate(zip(ref, other)):
        scale = max(abs(r[2]), abs(r[3]), 1e-30)
        for k, name in enumerate(STATS):
            out.append((abs(r[k] - o[k]) / scale, f"channel {c} {name}"))
    return out


def make_fingerprint(data_cfg: Mapping[str, Any], root: str | Path, zero_shot: bool = True,
                     measure_samples: int = MEASURE_SAMPLES, progress: bool = True,
                     zero_shot_overrides: Mapping[str, Any] | None = None,
                     samples: int | None = None) -> dict[str, Any]:
    """Fingerprint the test split (and the zero-shot split) of a data config's dataset.

    ``samples``: a partial fingerprint of the first ``samples`` test samples only, for presets
    too expensive to generate whole where the fingerprint is made (the NS benchmark presets
    solve at 256^2: tens of CPU seconds per sample). It records ``checked_samples``; a local
    split is then checked on its generator facts, settings, seed and size, and on the inputs and
    target statistics of those first samples; the rest are covered by generator version,
    settings and seed alone. Regenerate it whole (``--overwrite``) where a GPU makes that cheap.

    The splits are generated under ``root`` if missing. ``data_cfg`` is the data config as
    train.py sees it (conf/data/<family>.yaml with the preset chosen). The zero-shot split's
    generator overrides default to the family's ``zero_shot`` settings for the preset.
    """
    from pdebench_x.data.build import plan_from_config
    cfg = to_plain(data_cfg)
    if cfg.get("path"):
        raise ValueError("official splits are generated ones: fingerprint a data config with path: null")
    plan = plan_from_config(cfg, root)
    problem = dict(cfg["problem"])
    fp: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "dataset": plan.name,
        "family": plan.family,
        "preset": plan.preset,
        "plan": {"generator": plan.generator, "sizes": plan.sizes, "seed": plan.seed,
                 "customised": plan.customised, "plan_fingerprint": plan.fingerprint()},
        "problem": problem,
        "data_config": {k: v for k, v in cfg.items() if k not in ("presets",)},
        "test": _split_entry(plan, problem, measure_samples, progress, samples),
        "zero_shot": None,
    }
    overrides = zero_shot_overrides or get_family(plan.family).zero_shot.get(plan.preset)
    if zero_shot and overrides:
        zplan = plan_of({**fp, "zero_shot": {"overrides": overrides}}, root, "zero_shot")
        fp["zero_shot"] = {"overrides": dict(overrides), "dataset": zplan.name,
                           "resolution": int(overrides.get("resolution", 0)) or None,
                           **_split_entry(zplan, problem, measure_samples, progress)}
    fp["id"] = content_id(fp)
    return fp


def _split_entry(plan: DatasetPlan, problem, measure_samples: int, progress: bool,
                 samples: int | None = None) -> dict[str, Any]:
    full = int(plan.sizes["test"])
    if samples is None or samples >= full:
        path = ensure_test_split(plan, progress=progress)
        content = split_content(path, plan, problem)
        content["tolerance"] = measure_tolerance(content, plan, measure_samples)
        return content
    # Partial fingerprint: every sample's inputs come from its own seed (sample_seed(seed, split,
    # index)), so the first N samples of a split of N are those of the full split, bit for bit.
    import tempfile
    with tempfile.TemporaryDirectory(prefix="pdebench_x_fp_") as tmp:
        head = DatasetPlan(family=plan.family, preset=plan.preset, generator=dict(plan.generator),
                           sizes={**plan.sizes, "test": int(samples)}, seed=plan.seed, root=Path(tmp),
                           customised=plan.customised)
        content = split_content(generate_split(head, "test", progress=progress), head, problem)
        content["tolerance"] = measure_tolerance(content, head, measure_samples)
    content["n_samples"] = full
    content["checked_samples"] = int(samples)
    return content


#: The extra test splits of a preset, each fingerprinted on its own in <fingerprints>/<track>/:
#: ``ood`` (physical parameters outside the trained range), ``long`` (far past the trained horizon).
TRACKS = ("ood", "long")
#: Test samples of a track's split, where it keeps fewer than its preset's test split (at most that
#: many: the first ones, bit for bit, as every sample has its own seed). The long-horizon rollout is
#: 10x the official one and dominated the cost of scoring a record (ns_small FNO: 50 CPU-s a
#: checkpoint on 25 samples; swe_small: 24 CPU-s on 8); 4 are the per-instance solvers' K = 4
#: (data.n_instances), so that every solver kind is rolled out on the same problems.
TRACK_TEST_SAMPLES = {"long": 4}
#: The record's section holding each track's scores.
TRACK_SECTIONS = {"ood": "ood", "long": "long_horizon"}


def make_track_fingerprint(data_cfg: Mapping[str, Any], root: str | Path, track: str,
                           progress: bool = True) -> dict[str, Any]:
    """The fingerprint of a preset's ``track`` test split: the family's generator overrides for it
    (``ood`` or ``long_horizon`` of pdebench_x/pdes/<family>.py) applied to the preset, its test split
    generated under ``root`` and fingerprinted like an official one, plus ``track`` = {kind, of
    (the official dataset), overrides, shift (what they change)}."""
    from pdebench_x.data.build import plan_from_config
    if track not in TRACKS:
        raise ValueError(f"track={track!r}: choose one of {TRACKS}")
    cfg = to_plain(data_cfg)
    base = plan_from_config(cfg, root)
    family = get_family(base.family)
    table = family.ood if track == "ood" else family.long_horizon
    if base.preset not in table:
        raise ValueError(f"{base.name}: no {track} split is defined for preset {base.preset!r} (the {base.family} "
                         f"family's `{'ood' if track == 'ood' else 'long_horizon'}` in pdebench_x/pdes/ covers "
                         f"{sorted(table)})")
    overrides, text = table[base.preset]
    shifted = {**cfg, "generator": {**(cfg.get("generator") or {}), **overrides}}
    sizes = {}
    if track in TRACK_TEST_SAMPLES and int(base.sizes["test"]) > TRACK_TEST_SAMPLES[track]:
        sizes = {"test": TRACK_TEST_SAMPLES[track]}
        shifted["sizes"] = {**(cfg.get("sizes") or {}), **sizes}
        text = f"{text}, on the first {sizes['test']} of the {base.sizes['test']} test problems"
    fp = make_fingerprint(shifted, root, zero_shot=False, progress=progress)
    fp["track"] = {"kind": track, "of": base.name, "overrides": dict(overrides), "sizes": sizes, "shift": text}
    fp["id"] = content_id(fp)
    return fp


def track_path(directory: str | Path, dataset: str, track: str = "ood") -> Path:
    """Where the fingerprint of dataset's ``track`` split lives: <fingerprints>/<track>/<dataset>.json
    (a folder of its own: the board's official datasets are the files directly in <fingerprints>)."""
    return Path(directory) / track / f"{dataset}.json"


def load_track(directory: str | Path, dataset: str, track: str = "ood") -> dict[str, Any] | None:
    """The fingerprint of ``dataset``'s ``track`` split, checked like any other; None where it has none."""
    path = track_path(directory, dataset, track)
    return load_fingerprint(path.parent, dataset) if path.exists() else None


def track_overrides(track: Mapping[str, Any]) -> list[str]:
    """The ``train.py`` overrides that put a run on a track's split (its preset's generator settings
    and test size changed as the track changes them), e.g. ``["data.generator.n_steps=200",
    "data.sizes.test=4"]``."""
    return ([f"data.generator.{key}={json.dumps(value, separators=(',', ':'))}"
             for key, value in track["track"]["overrides"].items()]
            + [f"data.sizes.{split}={n}" for split, n in (track["track"].get("sizes") or {}).items()])


def write_track(fp: Mapping[str, Any], directory: str | Path, overwrite: bool = False) -> Path:
    return _write(fp, track_path(directory, fp["track"]["of"], fp["track"]["kind"]), overwrite)


def write_fingerprint(fp: Mapping[str, Any], directory: str | Path, overwrite: bool = False) -> Path:
    return _write(fp, fingerprint_path(directory, fp["dataset"]), overwrite)


def _write(fp: Mapping[str, Any], path: Path, overwrite: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fp, indent=1, allow_nan=False) + "\n"
    if overwrite:
        path.write_text(text)
    else:
        try:
            with open(path, "x") as f:
                f.write(text)
        except FileExistsError:
            raise FileExistsError(f"{path} exists; a shipped fingerprint is never replaced silently "
                                  "(pass --overwrite when the generator version changed on purpose)") from None
    return path


# ------------------------------------------------------------------------------------------
# checking a local split against the fingerprint
# ------------------------------------------------------------------------------------------
def split_differences(path: str | Path, expected: Mapping[str, Any], problem: Mapping[str, Any],
                      plan: DatasetPlan) -> list[str]:
    """What differs between the split at ``path`` and its fingerprint (empty: it matches)."""
    try:
        found = split_content(path, plan, problem)
    except (DataFormatError, OSError, KeyError) as err:
        return [f"the file cannot be read as the expected split ({err})"]
    diffs = []
    for key in ("generator", "generator_version", "settings", "seed", "n_samples", "spatial_shape",
                "input_channels", "target_channels"):
        if found[key] != expected[key]:
            diffs.append(f"{key}: local {found[key]!r}, official {expected[key]!r}")
    if diffs:
        return diffs  # different data altogether: sample-level comparisons would only add noise
    # zip stops at the expected lists: a partial fingerprint (checked_samples) checks its first samples only
    bad = [i for i, (a, b) in enumerate(zip(found["inputs_sha256_per_sample"], expected["inputs_sha256_per_sample"]))
           if a != b]
    rtol = float(expected["tolerance"]["rtol"])
    worst = (0.0, "", -1)
    for i, (ref, got) in enumerate(zip(expected["target_stats"]["per_sample"], found["target_stats"]["per_sample"])):
        for d, what in _stat_differences(ref, got):
            if d > worst[0] or not math.isfinite(d):
                worst = (d, what, i)
    targets_agree = worst[0] <= rtol
    if bad and targets_agree:
        # Still refused (the hashes are the exact check); the message names the benign cause too:
        # the same fields with other last bits, e.g. from another FFT library (module docstring).
        diffs.append(f"inputs of {len(bad)} of {found['n_samples']} samples differ in their bits (first: sample(s) "
                     f"{bad[:5]}) while every target statistic agrees within the tolerance {rtol:.1e}: either "
                     "this machine's floating-point libraries round the same seeded fields differently (e.g. "
                     "the FFT of a torch build without MKL) or the inputs were changed after generation. The "
                     "inputs cannot be certified bit for bit here: regenerate the split on an x86 machine with "
                     "the board's pinned versions, or report this machine (torch build, "
                     "torch.get_num_threads()) in an issue")
    elif bad:
        diffs.append(f"inputs of {len(bad)} of {found['n_samples']} samples differ (first: sample(s) "
                     f"{bad[:5]}): the seeded random fields are not the official ones")
    if not targets_agree:
        diffs.append(f"target statistics differ beyond the tolerance {rtol:.1e}: sample {worst[2]} "
                     f"{worst[1]} differs by {worst[0]:.2e} (relative to the sample's max |value|)")
    return diffs


def check_split(path: str | Path, fp: Mapping[str, Any], split: str, root: str | Path) -> None:
    """Raise :class:`FingerprintMismatch` unless ``path`` holds the fingerprinted split."""
    expected = fp["test"] if split == "test" else fp["zero_shot"]
    diffs = split_differences(path, expected, fp["problem"], plan_of(fp, root, split))
    if diffs:
        lines = "\n".join(f"  - {d}" for d in diffs)
        raise FingerprintMismatch(
            f"{path} is not the official {split} split of {fp['dataset']}:\n{lines}\n"
            "Nothing was scored. Delete the file so that the official split is regenerated, and make "
            "sure your pdebench_x (generator versions) matches the board's; a genuinely new split "
            "needs a new fingerprint in its own pull request.")


def official_split(fp: Mapping[str, Any], data_root: str | Path, split: str = "test", progress: bool = False) -> Path:
    """The local file of an official split, generated if missing and checked against its fingerprint."""
    plan = plan_of(fp, data_root, split)
    path = ensure_test_split(plan, progress=progress)
    check_split(path, fp, split, data_root)
    return path
