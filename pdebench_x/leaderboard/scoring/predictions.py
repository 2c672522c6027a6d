"""Bring your own predictions: an HDF5 file per training seed, from any framework, into a record;
or arrays in memory into the metrics such a file would get (:func:`score_prediction_arrays`).

The file's layout (:data:`PREDICTIONS_LAYOUT`) is checked against the official test split
(dataset, field names, shapes, sample order, dtypes) before anything is scored; the metrics are
those of :mod:`pdebench_x.evaluation.metrics`, the code every other solver is scored with. Files
and arrays pass the same checks of names, shapes and dtypes and are scored by one function
(:func:`_score`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import h5py
import numpy as np

from pdebench_x.core.grid import domain_measure
from pdebench_x.leaderboard.fingerprint import load_fingerprint, load_track, official_split
from pdebench_x.leaderboard.scoring.errors import ScoringError
from pdebench_x.leaderboard.scoring.provenance import sha256_file
from pdebench_x.leaderboard.scoring.records import build_record, instances_block, require_seeds, seed_instances
from pdebench_x.leaderboard.scoring.runs import instance_choice

if TYPE_CHECKING:
    from pdebench_x.data.datamodule import WindowDataset
    from pdebench_x.data.formats import FieldSource

log = logging.getLogger(__name__)

PREDICTIONS_LAYOUT = """\
HDF5 file, one per training seed:
  root attributes: dataset (str, e.g. "darcy_small"), solver (str), seed (int);
                   optional: model, paper, code, framework, kind ("operator" | "per_instance"),
                   n_parameters (int), train_seconds, inference_seconds_per_sample (float),
                   n_instances (int), instance_seed (int) (the K-instance section's choice;
                   default: the family's conf/data/<family>.yaml)
  /predictions/<channel>   float16/32/64 [N, T, X, Y]: one dataset per target channel, in
                           physical units; N = test samples, T = scored frames (1 for steady
                           problems; for rollouts every frame after the context frames)
  /sample_index            int [N]: the test-split index of each row, which must be 0..N-1
  optional, where the board has the dataset's track splits (leaderboard/fingerprints/<track>/):
  /ood_predictions/<channel>   the same layout on the out-of-distribution test split
  /long_predictions/<channel>  the same layout on the long-horizon test split: every frame after the
                               context frames, rolled out to its end (a rollout that turns
                               non-finite there is scored as blown up, not refused)
"""

#: The optional groups of a predictions file that hold a track split's predictions, by track.
TRACK_GROUPS = {"ood": "ood_predictions", "long": "long_predictions"}


#: The dtypes a predictions array may have: real floating point (scored in float64).
PREDICTION_DTYPES = ("float16", "float32", "float64")


def _dtype_problem(label: str, dtype: Any) -> str | None:
    """Why an array of ``dtype`` cannot be scored (None: it can): integers, booleans, complex
    numbers or strings would be cast into meaningless scores."""
    name = dtype.name if isinstance(dtype, np.dtype) else str(dtype).removeprefix("torch.")  # numpy or torch
    if name in PREDICTION_DTYPES:
        return None
    return (f"{label} has dtype {dtype}; predictions must be real floating point ({', '.join(PREDICTION_DTYPES)}): "
            "write them as float32 or float64 in physical units")


def _attr(f: h5py.File, name: str, default=None):
    v = f.attrs.get(name, default)
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.generic):
        v = v.item()
    return v


def write_predictions(path: str | Path, dataset: str, solver: str, seed: int, predictions: Mapping[str, np.ndarray],
                      ood: Mapping[str, np.ndarray] | None = None, long: Mapping[str, np.ndarray] | None = None,
                      **attrs: Any) -> Path:
    """Write a predictions file in the layout :data:`PREDICTIONS_LAYOUT` describes (``ood``, ``long``:
    the optional predictions of the track splits, {channel: [N, T, X, Y]})."""
    path = Path(path)
    n = {np.asarray(v).shape[0] for v in predictions.values()}
    if len(n) != 1:
        raise ValueError(f"every channel needs the same number of samples, got {sorted(n)}")
    with h5py.File(path, "w") as f:
        f.attrs.update({"dataset": dataset, "solver": solver, "seed": int(seed),
                        **{k: v for k, v in attrs.items() if v is not None}})
        for group, arrays in (("predictions", predictions), (TRACK_GROUPS["ood"], ood), (TRACK_GROUPS["long"], long)):
            g = f.create_group(group) if arrays else None
            for name, arr in (arrays or {}).items():
                g.create_dataset(name, data=np.asarray(arr))
        f.create_dataset("sample_index", data=np.arange(n.pop()))
    return path


@dataclass(frozen=True)
class _Targets:
    """An official split's targets as WindowDataset items, and what a prediction of them must be."""

    split: str
    dataset: WindowDataset
    source: FieldSource
    offset: int                  # the trajectory frame of the first scored frame
    channels: list[str]          # the target channels, in order
    shape: tuple[int, ...]       # one channel's predictions: (N, T, X, Y)

    def describe(self) -> str:
        n, t, *xy = self.shape
        return f"{n} {self.split} samples, {t} scored frame(s), grid {xy}"


def _expected_targets(fp: Mapping[str, Any], data_root: str | Path, split: str = "test") -> _Targets:
    """The official ``split``'s targets (generated if missing, checked against the fingerprint)."""
    from pdebench_x.data.datamodule import WindowDataset, frame_range
    from pdebench_x.data.formats import open_source
    path = official_split(fp, data_root, split)
    source = open_source(path, "well")
    problem = fp["problem"]
    dataset = WindowDataset(source, problem, train=False)
    offset = 0 if problem["kind"] == "steady" else frame_range(source, problem)[0] + int(problem["history"])
    first_y = dataset[0]["y"]
    shape = (len(dataset), first_y.shape[0], *first_y.shape[-2:])
    return _Targets(split, dataset, source, offset, list(fp["test"]["target_channels"]), shape)


def _name_problems(found: Sequence[str], channels: Sequence[str]) -> list[str]:
    found = sorted(found)
    missing = [c for c in channels if c not in found]
    extra = [c for c in found if c not in channels]
    if not (missing or extra):
        return []
    return [f"field names {found} do not match the targets {list(channels)}"
            + (f" (missing {missing})" if missing else "") + (f" (unexpected {extra})" if extra else "")]


def _shape_problems(predictions: Mapping[str, Any], targets: _Targets, label: str) -> list[str]:
    """``label``: how a channel's array is named in the message, a format string of the channel."""
    n, t, *xy = targets.shape
    return [f"{label.format(c)} has shape {list(predictions[c].shape)}, expected [N, T, X, Y] = {[n, t, *xy]} "
            f"({targets.describe()})"
            for c in targets.channels if tuple(predictions[c].shape) != targets.shape]


def _open_predictions(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ScoringError(f"cannot open predictions {path} as HDF5 ({err})") from err


def check_prediction_dtypes(path: str | Path) -> None:
    """Refuse (ScoringError, one line) a file whose /predictions (or track) arrays are not real floating point."""
    path = Path(path)
    with _open_predictions(path) as f:
        for label in ("predictions", *TRACK_GROUPS.values()):
            group = f.get(label)
            for name in sorted(group.keys()) if isinstance(group, h5py.Group) else []:
                if not isinstance(group[name], h5py.Dataset):
                    raise ScoringError(f"{path}: /{label}/{name} is a group, not an array of predictions")
                problem = _dtype_problem(f"{path}: /{label}/{name}", group[name].dtype)
                if problem:
                    raise ScoringError(problem)


def _score(predictions: Mapping[str, Any], targets: _Targets, fp: Mapping[str, Any], where: str,
           instances: tuple[int, int | None] | None = None,
           batch: int = 16) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(metrics ``{"steady"|"rollout": summary}``, K-instance section or None) of checked predictions.

    ``predictions``: {channel: [N, T, X, Y] array} (numpy arrays or HDF5 datasets, read ``batch``
    rows at a time), rows in split order; ``where``: what they are called in an error message;
    ``instances`` (K, seed): the K-instance section too.
    """
    import torch

    from pdebench_x.evaluation.metrics import MetricAccumulator
    n, channels = targets.shape[0], targets.channels
    acc = MetricAccumulator(domain_area=domain_measure(targets.source.info.x, targets.source.info.y))
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        pred = np.stack([np.asarray(predictions[c][start:stop], dtype=np.float64) for c in channels], axis=2)
        bad = ~np.isfinite(pred)
        if bad.any():
            rows = sorted(set((np.nonzero(bad)[0] + start).tolist()))[:5]
            raise ScoringError(f"{where} hold NaN or infinite values (samples {rows}...); a "
                               "diverged solver cannot be ranked")
        y = torch.stack([targets.dataset[i]["y"] for i in range(start, stop)])
        acc.update(torch.from_numpy(pred), y)
    summary = acc.summary(channels, targets.offset)
    section = "steady" if fp["problem"]["kind"] == "steady" else "rollout"
    on_k = None
    if instances is not None:
        k, k_seed = instances
        if k <= n:
            from pdebench_x.evaluation.instances import instance_section, select_instances
            indices = select_instances(n, k, k_seed)
            # rows are in split order (checked by the callers): row i is sample i
            on_k = instance_section(acc, indices, indices, k, k_seed, fp["problem"]["kind"], channels,
                                    targets.offset)
        else:
            log.warning("K = %d instances but %s has %d test samples: no K-instance section", k, fp["dataset"], n)
    return {section: summary}, on_k


def score_predictions_file(path: str | Path, fp: Mapping[str, Any], data_root: str | Path,
                           batch: int = 16, tracks: Mapping[str, Mapping[str, Any] | None] | None = None
                           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(seed entry, file attributes) of one predictions file, every layout fact checked; ``tracks``:
    the board's track fingerprints ({"ood": fp, "long": fp}), against which the file's optional
    track predictions are scored."""
    path = Path(path)
    check_prediction_dtypes(path)
    targets = _expected_targets(fp, data_root)
    n = targets.shape[0]
    with _open_predictions(path) as f:
        attrs = {k: _attr(f, k) for k in f.attrs}
        problems = []
        if attrs.get("dataset") != fp["dataset"]:
            problems.append(f"attribute dataset is {attrs.get('dataset')!r}, expected {fp['dataset']!r}")
        for key in ("solver", "seed"):
            if attrs.get(key) is None:
                problems.append(f"root attribute {key!r} is missing")
        if "predictions" not in f:
            problems.append("group /predictions is missing")
        else:
            problems += _name_problems(list(f["predictions"].keys()), targets.channels)
        if not problems:
            problems += _shape_problems(f["predictions"], targets, "/predictions/{}")
            if "sample_index" not in f:
                problems.append("/sample_index is missing: give the test-split index of each row (0..N-1)")
            else:
                idx = np.asarray(f["sample_index"][()])
                if idx.shape != (n,) or not np.array_equal(idx, np.arange(n)):
                    head = idx.reshape(-1)[:8].tolist()
                    problems.append(f"/sample_index must be 0..{n - 1} in order (rows in test-split order), "
                                    f"got {head}{'...' if idx.size > 8 else ''}: sort your predictions by sample index")
        if problems:
            raise ScoringError(f"{path} does not match the official test split of {fp['dataset']}:\n"
                               + "\n".join(f"  - {p}" for p in problems) + "\nExpected layout:\n" + PREDICTIONS_LAYOUT)
        metrics, on_k = _score(f["predictions"], targets, fp, f"{path}: predictions",
                               _predictions_instance_choice(attrs, fp), batch)
        on_tracks = _score_tracks(f, path, fp, tracks or {}, data_root, batch)
    entry = {
        "seed": int(attrs["seed"]),
        "metrics": metrics,
        "zero_shot": None,
        **on_tracks,
        "n_parameters": None if attrs.get("n_parameters") is None else int(attrs["n_parameters"]),
        "train_seconds": None if attrs.get("train_seconds") is None else float(attrs["train_seconds"]),
        "inference_seconds_per_sample": None if attrs.get("inference_seconds_per_sample") is None
        else float(attrs["inference_seconds_per_sample"]),
        "checkpoint": attrs.get("checkpoint"),
        "predictions_sha256": sha256_file(path),
        "config": None,
        "instances": seed_instances(on_k),
    }
    return entry, attrs


def _score_tracks(f: h5py.File, path: Path, fp: Mapping[str, Any], tracks: Mapping[str, Mapping[str, Any] | None],
                  data_root: str | Path, batch: int) -> dict[str, Any]:
    """The seed entry's ``ood`` and ``long_horizon`` scores from the file's track groups (None where it
    has none), each checked against its track split as /predictions is against the test split."""
    from pdebench_x.leaderboard.statistics import primary_section
    out: dict[str, Any] = {"ood": None, "long_horizon": None}
    for kind, group in TRACK_GROUPS.items():
        if group not in f:
            continue
        track = tracks.get(kind)
        if track is None:
            raise ScoringError(f"{path}: /{group} is given, but the board has no {kind} split of {fp['dataset']} "
                               f"(no fingerprints/{kind}/{fp['dataset']}.json): remove the group")
        targets = _expected_targets(track, data_root)
        problems = (_name_problems(list(f[group].keys()), targets.channels)
                    or _shape_problems(f[group], targets, f"/{group}/{{}}"))
        if problems:
            raise ScoringError(f"{path}: /{group} does not match the {kind} split of {fp['dataset']}:\n"
                               + "\n".join(f"  - {p}" for p in problems))
        if kind == "ood":
            metrics, _ = _score(f[group], targets, track, f"{path}: /{group}", None, batch)
            section = primary_section(metrics)
            out["ood"] = {"overall": section["overall"], "n_samples": targets.shape[0],
                          "per_sample": section.get("per_sample")}
        else:
            out["long_horizon"] = _long_horizon_scores(f[group], targets, track)
    return out


def _long_horizon_scores(group: h5py.Group, targets: _Targets, track: Mapping[str, Any]) -> dict[str, Any]:
    """The long-horizon scores of a rollout given as predictions, as a checkpoint's rollout is scored
    (:func:`pdebench_x.leaderboard.scoring.checkpoints.long_horizon_seed`): blow-ups kept, not refused."""
    import torch

    from pdebench_x.evaluation.long_horizon import family_rollout_scores
    pred = torch.from_numpy(np.stack([np.asarray(group[c], dtype=np.float64) for c in targets.channels], axis=2))
    truth = torch.stack([targets.dataset[i]["y"] for i in range(targets.shape[0])])
    scores = family_rollout_scores(pred, truth, targets.source.info.times, targets.offset, track["family"],
                                   targets.channels)
    return {"fingerprint": track["id"], **scores}


def _as_channel_arrays(predictions: Any, targets: _Targets) -> tuple[dict[str, Any], list[str]]:
    """In-memory predictions -> ({channel: numpy array}, problems): a mapping {channel: array}, or
    one array [N, T, C, X, Y] in target channel order; numpy arrays, torch tensors, array-likes."""
    import torch

    def as_array(value: Any, label: str) -> tuple[Any, str | None]:
        if isinstance(value, torch.Tensor):
            problem = _dtype_problem(label, value.dtype)
            return (None, problem) if problem else (value.detach().cpu().numpy(), None)
        value = np.asarray(value)
        return value, _dtype_problem(label, value.dtype)

    channels = targets.channels
    if isinstance(predictions, Mapping):
        problems = _name_problems([str(k) for k in predictions], channels)
        if problems:
            return {}, problems
        arrays, problems = {}, []
        for c in channels:
            arrays[c], problem = as_array(predictions[c], f"predictions[{c!r}]")
            problems += [problem] if problem else []
        return arrays, problems or _shape_problems(arrays, targets, "predictions[{!r}]")
    array, problem = as_array(predictions, "predictions")
    if problem:
        return {}, [problem]
    n, t, *xy = targets.shape
    expected = (n, t, len(channels), *xy)
    if array.shape != expected:
        return {}, [f"predictions has shape {list(array.shape)}, expected [N, T, C, X, Y] = {list(expected)} "
                    f"({targets.describe()}, channels {channels})"]
    return {c: array[:, :, i] for i, c in enumerate(channels)}, []


def score_prediction_arrays(predictions: Any, fp: Mapping[str, Any], data_root: str | Path,
                            split: str = "test") -> dict[str, Any]:
    """The metrics ``{"steady"|"rollout": summary}`` of in-memory predictions of an official split
    (``"test"``, or ``"zero_shot"`` where the fingerprint has one): on the test split, exactly a
    predictions file's seed entry ``metrics``. Names, shapes and dtypes are checked as in a file;
    rows are in split order."""
    targets = _expected_targets(fp, data_root, split)
    arrays, problems = _as_channel_arrays(predictions, targets)
    if problems:
        raise ScoringError(f"the predictions do not match the official {split} split of {fp['dataset']}:\n"
                           + "\n".join(f"  - {p}" for p in problems) + "\nExpected: {channel: array [N, T, X, Y]} "
                           f"for the channels {targets.channels}, or one array [N, T, C, X, Y], channels in that "
                           "order; real floating point, physical units, rows in split order")
    metrics, _ = _score(arrays, targets, fp, "the predictions")
    return metrics


def _predictions_instance_choice(attrs: Mapping[str, Any], fp: Mapping[str, Any]) -> tuple[int, int | None]:
    """(K, seed) from the file's n_instances / instance_seed attributes, else the family default."""
    k, seed = instance_choice(fp)
    if attrs.get("n_instances") is not None:
        k = int(attrs["n_instances"])
    if attrs.get("instance_seed") is not None:
        seed = int(attrs["instance_seed"])
    return k, seed


def score_predictions(files: Sequence[str | Path], fingerprints_dir: str | Path, data_root: str | Path,
                      dataset: str | None = None, solver_name: str | None = None,
                      setting: str | None = None) -> dict[str, Any]:
    """Score >= MIN_SEEDS predictions files (one per training seed) of one solver -> record."""
    if not files:
        raise ScoringError("no predictions file given")
    if dataset is None:
        with h5py.File(files[0], "r") as f:
            dataset = _attr(f, "dataset")
        if not dataset:
            raise ScoringError(f"{files[0]} has no 'dataset' attribute; pass dataset=<name>")
    fp = load_fingerprint(fingerprints_dir, dataset)
    require_seeds(len(files))
    for p in files:  # every file, before any is scored
        check_prediction_dtypes(p)
    for group in TRACK_GROUPS.values():  # a track for every seed or none, before anything is scored
        given = []
        for p in files:
            with _open_predictions(Path(p)) as f:
                given += [str(p)] if group in f else []
        if given and len(given) != len(files):
            raise ScoringError(f"/{group} is in {given} but not in every file: give it for every seed, or for none")
    tracks = {kind: load_track(fingerprints_dir, fp["dataset"], kind) for kind in TRACK_GROUPS}
    scored = [score_predictions_file(p, fp, data_root, tracks=tracks) for p in files]
    attrs = scored[0][1]
    solvers = {a.get("solver") for _, a in scored}
    if len(solvers) > 1:
        raise ScoringError(f"the files name different solvers {sorted(map(str, solvers))}; one record is one solver")
    kind = attrs.get("kind") or "external"
    if kind not in ("operator", "per_instance", "external"):
        raise ScoringError(f"attribute kind must be operator, per_instance or external, got {kind!r}")
    solver = {"name": solver_name or attrs["solver"], "model": attrs.get("model") or attrs["solver"], "kind": kind,
              "paper": attrs.get("paper"), "code": attrs.get("code"), "framework": attrs.get("framework")}
    entries = [e for e, _ in scored]
    return build_record(entries, fp, solver, setting or f"{fp['preset']} preset, own training", "predictions",
                        instances_block(entries, fp, _predictions_instance_choice(attrs, fp)),
                        ood=tracks["ood"], long=tracks["long"])
