"""What a record must satisfy beyond its JSON schema: finite, non-negative metrics; enough
distinct seeds; K-instance sections that follow from their per-instance values; and figures
that agree with each other (overall vs per channel and per step, relative L2 vs nRMSE,
aggregates vs seeds, seeds that are not copies of one another). Each problem is one line
naming the JSON path and the check that failed."""
from __future__ import annotations

import math
from typing import Any, Iterator

from pdebench_x.evaluation.metrics import AGGREGATION, PRIMARY_METRIC
from pdebench_x.leaderboard.statistics import instance_spread, mean_std, primary_section

#: Training seeds a record of an operator learner (or a predictions file set) needs.
MIN_SEEDS = 3
#: Fields a version-1 record cannot have (added in 1.1).
V1_1_FIELDS = ("status", "reason", "instances")
#: Fields of a seed (and of its metric sections) that only a version-2 record has.
V2_SEED_FIELDS = ("budget", "learning_curve", "ood", "long_horizon", "inference_cpu_seconds_per_sample")
#: The splits beyond the official test split whose aggregates are checked against their seeds.
TRANSFER_SPLITS = ("zero_shot", "ood")
V2_SECTION_FIELDS = ("per_sample",)
#: Relative tolerance of the aggregate-vs-seeds consistency check (records are written by json
#: from float64, so the round trip is exact; this only absorbs a reordering of the sum).
AGGREGATE_RTOL = 1e-9
#: How a metric's overall value follows from its per-channel and per-step values, where that
#: is not their mean (from ``AGGREGATION``): max_error is their max; crmse ("rms") is their mean
#: too, as its root-mean-square runs over the samples first, but not the mean of its
#: per-instance values.
NON_MEAN_METRICS = {name: how for name, how in AGGREGATION.items() if how != "mean"}
#: Seed fields naming the file a seed was scored from (the checkpoint or the predictions file).
ARTIFACT_HASHES = ("checkpoint_sha256", "predictions_sha256")


def _numbers(value: Any, path: str = "$") -> Iterator[tuple[str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield path, float(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _numbers(v, f"{path}[{i}]")


def _metric_sections(record: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The parts of a record that hold metric values (all must be >= 0)."""
    for i, seed in enumerate(record.get("seeds") or []):
        if isinstance(seed, dict):
            yield f"$.seeds[{i}].metrics", seed.get("metrics")
            for split in TRANSFER_SPLITS:
                yield f"$.seeds[{i}].{split}", seed.get(split)
            if isinstance(seed.get("instances"), dict):
                yield f"$.seeds[{i}].instances", seed["instances"]
    yield "$.aggregate", record.get("aggregate")
    for split in TRANSFER_SPLITS:
        if isinstance(record.get(split), dict):
            yield f"$.{split}.aggregate", record[split].get("aggregate")
    if isinstance(record.get("instances"), dict):
        yield "$.instances.aggregate", record["instances"].get("aggregate")
        yield "$.instances.spread", record["instances"].get("spread")


def _min_seeds(record: dict[str, Any]) -> int:
    if record.get("status") == "not_applicable":
        return 0
    if record.get("schema_version") != "1" and record.get("source") == "run" \
            and (record.get("solver") or {}).get("kind") == "per_instance":
        return 1
    return MIN_SEEDS


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=AGGREGATE_RTOL, abs_tol=1e-15)


def status_errors(record: dict[str, Any]) -> list[str]:
    """Seed counts, version-1 fields, not_applicable records."""
    errors = []
    seeds = record.get("seeds") or []
    if record.get("schema_version") == "1":
        used = [k for k in V1_1_FIELDS if k in record] + [f"seeds[{i}].instances" for i, s in enumerate(seeds)
                                                          if isinstance(s, dict) and "instances" in s]
        used += ["source 'run'"] if record.get("source") == "run" else []
        if used:
            errors.append(f"$: field(s) {used} need schema_version '1.1' (this record says '1')")
    if record.get("schema_version") in ("1", "1.1"):
        used = [k for k in ("ood", "long_horizon", "inference_cpu_seconds_per_sample") if record.get(k) is not None]
        used += [f"seeds[{i}].{k}" for i, s in enumerate(seeds) if isinstance(s, dict) for k in V2_SEED_FIELDS if k in s]
        used += [f"seeds[{i}].metrics.{name}.{k}" for i, s in enumerate(seeds) if isinstance(s, dict)
                 for name, section in (s.get("metrics") or {}).items() if isinstance(section, dict)
                 for k in V2_SECTION_FIELDS if k in section]
        if used:
            errors.append(f"$: field(s) {used[:4]}{' ...' if len(used) > 4 else ''} need schema_version '2' "
                          f"(this record says {record.get('schema_version')!r})")
    if record.get("status") == "not_applicable":
        if seeds:
            errors.append("$.seeds: a not_applicable record has no seeds (the solver was not run on this dataset)")
        if not (record.get("reason") or "").strip():
            errors.append("$.reason: a not_applicable record must say why the solver does not apply")
        if (record.get("aggregate") or {}).get("overall"):
            errors.append("$.aggregate.overall: a not_applicable record has no metrics")
    elif record.get("source") == "run" and (record.get("solver") or {}).get("kind") != "per_instance":
        errors.append("$.source: 'run' (metrics taken from the run itself) is for per-instance solvers only; "
                      "operator learners are re-scored from their checkpoints")
    need = _min_seeds(record)
    if len(seeds) < need:
        errors.append(f"$.seeds: {len(seeds)} seed(s); the board shows mean ± std over at least {need} training "
                      "seeds. Train again with other seeds (e.g. `python train.py -m seed=0,1,2 ...`) and score "
                      "all runs together")
    return errors


def instance_errors(record: dict[str, Any]) -> list[str]:
    """The K-instance section: indices, per-seed sections over K samples, aggregate and spread."""
    block = record.get("instances")
    seeds = [s for s in record.get("seeds") or [] if isinstance(s, dict)]
    per_instance_run = (record.get("solver") or {}).get("kind") == "per_instance" and record.get("source") == "run"
    ok = record.get("status", "ok") == "ok"
    if block is None:
        errors = [f"$.seeds[{i}].instances: present but the record has no 'instances' section"
                  for i, s in enumerate(seeds) if s.get("instances")]
        if per_instance_run and ok:
            errors.append("$.instances: a per-instance solver's record must say which K test instances it was "
                          "scored on")
        return errors
    errors = []
    k, indices = block["k"], block["indices"]
    n_test = (record.get("dataset") or {}).get("n_test_samples")
    if len(indices) != k:
        errors.append(f"$.instances.indices: {len(indices)} indices for K = {k}")
    if indices != sorted(set(indices)):
        errors.append(f"$.instances.indices: {indices} must be distinct and sorted")
    if block["n_test_split"] != n_test or any(i >= block["n_test_split"] for i in indices):
        errors.append(f"$.instances: indices {indices} / n_test_split {block['n_test_split']} do not fit the "
                      f"{n_test} samples of the official test split")
    if not ok:
        return errors
    for i, seed in enumerate(seeds):
        mine = seed.get("instances")
        if not isinstance(mine, dict):
            errors.append(f"$.seeds[{i}].instances: missing; every seed must be scored on the K instances")
            continue
        if mine["indices"] != indices:
            errors.append(f"$.seeds[{i}].instances.indices {mine['indices']} differ from $.instances.indices "
                          f"{indices}: one record, one set of instances")
        try:
            section = primary_section(mine["metrics"])
        except KeyError:
            errors.append(f"$.seeds[{i}].instances.metrics: no 'steady' or 'rollout' section")
            continue
        if section.get("n_samples") != k:
            errors.append(f"$.seeds[{i}].instances.metrics: {section.get('n_samples')} samples, K = {k}")
        if section.get("overall", {}).get(PRIMARY_METRIC) is None:
            errors.append(f"$.seeds[{i}].instances: the primary metric {PRIMARY_METRIC} is missing or null")
        for name, values in mine["per_instance"].items():
            if len(values) != k:
                errors.append(f"$.seeds[{i}].instances.per_instance.{name}: {len(values)} values for K = {k}")
        if per_instance_run and primary_section(seed.get("metrics") or {}).get("n_samples") != k:
            errors.append(f"$.seeds[{i}].metrics: a per-instance run is scored on its K = {k} instances only")
    if errors or not seeds:
        return errors
    for where, want in (("aggregate", _aggregate_overall([primary_section(s["instances"]["metrics"]) for s in seeds])),
                        ("spread", instance_spread(seeds))):
        have = block.get(where) or {}
        have = have.get("overall", {}) if where == "aggregate" else have
        for name, stat in want.items():
            got = have.get(name)
            if not isinstance(got, dict) or not all(_close(got.get(key), stat[key]) for key in ("mean", "std")):
                errors.append(f"$.instances.{where}: {name} is {got} but the seeds give mean {stat['mean']}, std "
                              f"{stat['std']}: it must be computed from the seeds' K-instance values")
    return errors


def _aggregate_overall(sections: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    names = list(dict.fromkeys(n for s in sections for n in s["overall"]))
    return {n: mean_std([s["overall"].get(n) for s in sections]) for n in names}


def semantic_errors(record: dict[str, Any]) -> list[str]:
    errors = status_errors(record)
    for path, x in _numbers(record):
        if not math.isfinite(x):
            errors.append(f"{path} is {x}: metrics and costs must be finite numbers (a diverged "
                          "solver cannot be ranked; undefined metrics are null)")
    for base, section in _metric_sections(record):
        for path, x in _numbers(section, base):
            if math.isfinite(x) and x < 0 and ".steps[" not in path:
                errors.append(f"{path} is {x}: error metrics cannot be negative")
    seeds = [s for s in record.get("seeds") or [] if isinstance(s, dict)]
    values = [s.get("seed") for s in seeds]
    dup = sorted({v for v in values if values.count(v) > 1}, key=str)
    if dup:
        errors.append(f"$.seeds: seed value(s) {dup} appear more than once; the spread must come "
                      "from distinct training seeds")
    for i, seed in enumerate(seeds):
        try:
            overall = primary_section(seed["metrics"])["overall"]
        except (KeyError, TypeError):
            errors.append(f"$.seeds[{i}].metrics: no 'steady' or 'rollout' section with 'overall' metrics")
            continue
        if overall.get(PRIMARY_METRIC) is None:
            errors.append(f"$.seeds[{i}]: the primary metric {PRIMARY_METRIC} is missing or null "
                          "(the solver diverged?); every seed must have a finite nRMSE")
    if not errors:
        errors += instance_errors(record)
    if not errors:
        errors += consistency_errors(record)
    return errors


# ------------------------------------------------------------------------------------------
# figures that must agree with each other
# ------------------------------------------------------------------------------------------
def _combined(name: str, values: list[float]) -> float:
    """Metric ``name``'s overall value from its per-channel or per-step values."""
    return max(values) if NON_MEAN_METRICS.get(name) == "max" else math.fsum(values) / len(values)


def _parts_errors(path: str, overall: dict[str, Any], parts: dict[str, list], what: str) -> list[str]:
    """``overall[name]`` vs :func:`_combined` of ``parts[name]`` (its values per channel, step or instance)."""
    errors = []
    for name, values in parts.items():
        have = overall.get(name)
        if have is None or not values:
            continue
        if any(v is None for v in values):
            errors.append(f"{path}.overall.{name} is {have!r} but its {what} values include null: an undefined "
                          "value makes the overall value undefined too")
        elif not _close(have, _combined(name, values)):
            errors.append(f"{path}.overall.{name} is {have!r} but its {what} values give "
                          f"{_combined(name, values)!r}: the figures of a section must agree (edited?)")
    return errors


def _by_channel(section: dict[str, Any]) -> dict[str, list]:
    """{metric: [its value in each channel]} of a metric section's per_channel table."""
    out: dict[str, list] = {}
    for values in (section.get("per_channel") or {}).values():
        for name, v in values.items():
            out.setdefault(name, []).append(v)
    return out


def _relative_l2_errors(path: str, section: dict[str, Any]) -> list[str]:
    """One channel, one scored frame: per sample, relative_l2_fno = rms(e) / (rms(y) + eps / sqrt(N))
    >= rms(e) / (rms(y) + eps) = nRMSE (N grid points), so their means over samples keep the order."""
    overall = section.get("overall") or {}
    rel, nrmse = overall.get("relative_l2_fno"), overall.get(PRIMARY_METRIC)
    if len(section.get("per_channel") or {}) != 1 or len(section.get("steps") or []) != 1 \
            or rel is None or nrmse is None or rel >= nrmse * (1 - AGGREGATE_RTOL):
        return []
    return [f"{path}.overall.relative_l2_fno is {rel!r}, below its nrmse {nrmse!r}: with one channel and one "
            "scored frame relative_l2_fno >= nrmse for every sample (edited?)"]


def _per_sample_errors(path: str, section: dict[str, Any]) -> list[str]:
    """Version 2: one value per test sample for each listed metric, whose mean is the overall value."""
    per_sample = section.get("per_sample") or {}
    n = section.get("n_samples")
    errors = [f"{path}.per_sample.{name} holds {len(values)} values for {n} samples: one per test sample"
              for name, values in per_sample.items() if len(values) != n]
    means = {name: v for name, v in per_sample.items() if NON_MEAN_METRICS.get(name) is None}
    return errors or _parts_errors(path, section.get("overall") or {}, means, "per_sample")


def section_errors(path: str, section: dict[str, Any]) -> list[str]:
    """A metric section's overall values vs its per-channel, per-step and per-sample values, and
    rel. L2 vs nRMSE."""
    overall = section.get("overall") or {}
    return (_parts_errors(path, overall, _by_channel(section), "per_channel")
            + _parts_errors(path, overall, section.get("per_step") or {}, "per_step")
            + _per_sample_errors(path, section)
            + _relative_l2_errors(path, section))


def budget_errors(path: str, seed: dict[str, Any]) -> list[str]:
    """Version 2: the budget's epochs and steps are the seed's, and the learning curve's lists have one
    entry per validation, at non-decreasing epochs."""
    errors = []
    budget = seed.get("budget") or {}
    for key, own in (("epochs", "epochs"), ("optimizer_steps", "global_steps")):
        if budget.get(key) is not None and seed.get(own) is not None and budget[key] != seed[own]:
            errors.append(f"{path}.budget.{key} is {budget[key]} but the seed's {own} is {seed[own]}: "
                          "the budget counts the same training (edited?)")
    curve = seed.get("learning_curve") or {}
    epochs = curve.get("epoch") or []
    for key, values in curve.items():
        if len(values) != len(epochs):
            errors.append(f"{path}.learning_curve.{key} has {len(values)} entries for {len(epochs)} epochs")
    if any(b < a for a, b in zip(epochs, epochs[1:])):
        errors.append(f"{path}.learning_curve.epoch must not decrease, got {epochs}")
    return errors


def _per_instance_errors(path: str, block: dict[str, Any]) -> list[str]:
    """A seed's K-instance section: its overall values vs its per-instance values (not crmse's)."""
    parts = {k: v for k, v in block["per_instance"].items() if NON_MEAN_METRICS.get(k) != "rms"}
    key = next(k for k in ("rollout", "steady") if k in block["metrics"])
    return _parts_errors(f"{path}.metrics.{key}", block["metrics"][key]["overall"], parts, "per_instance")


def _stat_errors(path: str, have: Any, values: list[Any]) -> list[str]:
    """An aggregate statistic vs :func:`mean_std` of the seeds' values."""
    if not isinstance(have, dict):
        return [f"{path}: missing (the mean and std of the seeds' values)"]
    want = mean_std(values)
    keys = ["mean", "std"] + [k for k in ("min", "max", "n") if k in have]
    return [f"{path}.{k} is {have.get(k)!r} but the seeds give {want[k]!r}: the aggregate must be computed "
            "from the per-seed values" for k in keys if not _close(have.get(k), want[k])]


def _aggregate_errors(path: str, agg: dict[str, Any], sections: list[dict[str, Any]]) -> list[str]:
    """An aggregate (overall and per-step statistics) vs the seeds' sections it is computed from."""
    errors = []
    for name in dict.fromkeys(n for s in sections for n in s["overall"]):
        errors += _stat_errors(f"{path}.overall.{name}", (agg.get("overall") or {}).get(name),
                               [s["overall"].get(name) for s in sections])
    for name, first in (sections[0].get("per_step") or {}).items() if sections else ():
        stats = (agg.get("per_step") or {}).get(name) or []
        for t in range(len(first)):
            errors += _stat_errors(f"{path}.per_step.{name}[{t}]", stats[t] if t < len(stats) else None,
                                   [_step_value(s, name, t) for s in sections])
    return errors


def _step_value(section: dict[str, Any], name: str, t: int) -> Any:
    values = (section.get("per_step") or {}).get(name) or []
    return values[t] if t < len(values) else None


def _transfer_errors(record: dict[str, Any], seeds: list[dict[str, Any]], split: str) -> list[str]:
    """A zero-shot or out-of-distribution aggregate is that of its seeds' scores on the split."""
    block = record.get(split)
    if not isinstance(block, dict):
        return []
    missing = [i for i, s in enumerate(seeds) if not isinstance(s.get(split), dict)]
    if missing:
        return [f"$.{split}: an aggregate on the {split} split, but seeds {missing} have no scores there"]
    return _aggregate_errors(f"$.{split}.aggregate", block["aggregate"], [s[split] for s in seeds])


def _same_run(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Why seeds ``a`` and ``b`` are one run scored twice (a shared file hash, identical metrics), or None."""
    shared = [k for k in ARTIFACT_HASHES if a.get(k) and a.get(k) == b.get(k)]
    if shared:
        return f"the same {shared[0]} {a[shared[0]][:12]}... (one file scored as two seeds)"
    if primary_section(a["metrics"])["overall"] == primary_section(b["metrics"])["overall"]:
        return "identical overall metrics (identical predictions: one file copied under two seeds?)"
    return None


def identical_seed_errors(seeds: list[dict[str, Any]]) -> list[str]:
    """Seeds that are one run: each later seed is reported once, against the first seed it repeats."""
    errors = []
    for j, later in enumerate(seeds):
        for i, earlier in enumerate(seeds[:j]):
            why = _same_run(earlier, later)
            if why:
                errors.append(f"$.seeds[{j}] and $.seeds[{i}] have {why}; the spread must come from distinct "
                              "training seeds, each its own checkpoint or predictions file")
                break
    return errors


def consistency_errors(record: dict[str, Any]) -> list[str]:
    """Every identity between a record's figures (see the module docstring); [] if they all hold."""
    seeds = record.get("seeds") or []
    errors = []
    for i, seed in enumerate(seeds):
        for key, section in seed["metrics"].items():
            errors += section_errors(f"$.seeds[{i}].metrics.{key}", section)
        errors += budget_errors(f"$.seeds[{i}]", seed)
        block = seed.get("instances")
        if block:
            for key, section in block["metrics"].items():
                errors += section_errors(f"$.seeds[{i}].instances.metrics.{key}", section)
            errors += _per_instance_errors(f"$.seeds[{i}].instances", block)
    errors += identical_seed_errors(seeds)
    if seeds:
        errors += _aggregate_errors("$.aggregate", record["aggregate"], [primary_section(s["metrics"]) for s in seeds])
    errors += _long_horizon_errors(record, seeds)
    return errors + [e for split in TRANSFER_SPLITS for e in _transfer_errors(record, seeds, split)]


def _long_horizon_errors(record: dict[str, Any], seeds: list[dict[str, Any]]) -> list[str]:
    """The long-horizon section's valid and correlation times are those of its seeds."""
    block = record.get("long_horizon")
    if not isinstance(block, dict):
        return []
    if not all(isinstance(s.get("long_horizon"), dict) for s in seeds):
        return ["$.long_horizon: a long-horizon section, but some seeds have no long-horizon scores"]
    errors = []
    for key in ("valid_time", "correlation_time"):
        errors += _stat_errors(f"$.long_horizon.{key}", block[key], [s["long_horizon"][key] for s in seeds])
    return errors
