"""The versioned submission-record schema and the checks every record must pass.

The schema is published as JSON Schema (draft 2020-12) in ``record.schema.json`` beside this
module and checked with the ``jsonschema`` library (every keyword of the draft applies), its
errors restated as "JSON path: what is wrong" (:func:`schema_errors`). One deviation from the
draft, kept from the first format: an ``integer`` must be a JSON integer (``3.0`` is refused),
as the scorer writes Python ints.

On top of the schema, :func:`validate_record` checks what JSON Schema cannot say:

* every number is finite (the scorer never writes NaN/Infinity; a record carrying one was
  edited or produced by a diverged solver) and every metric non-negative;
* the primary metric (nRMSE) is present for every seed;
* seeds are distinct and the aggregate is the mean / sample standard deviation
  (ddof = 1) of the per-seed values, so a hand-edited aggregate is caught;
* enough seeds: at least :data:`MIN_SEEDS` training seeds, except a per-instance solver's
  record from its own run (``source: run``, at least one fit seed: it has no training seeds)
  and a ``not_applicable`` record (none);
* the K-instance section (version 1.1): K distinct sorted test indices inside the split, the
  same in every seed, each seed's K-instance metrics over exactly K samples, and its aggregate
  and ``spread`` recomputed from the seeds (:func:`instance_spread`).
* the figures agree with each other as the scorer computes them (:func:`consistency_errors`):
  in every metric section, each overall value is the mean (max_error: the max) of its
  per-channel values and of its per-step values; with one channel and one scored frame,
  relative_l2_fno >= nRMSE; a K-instance section's overall values are the mean (max_error: the
  max; not crmse) of its per-instance values; the aggregate's overall and per-step statistics
  and the zero-shot aggregate are those of the seeds; so an edit of one figure is caught;
* the seeds are distinct runs: no two seeds share a checkpoint or predictions hash, and no two
  have identical overall metrics (one predictions file copied under several seeds).

Versions: "1" (the first), "1.1" (status/reason, per-instance records, the K-instance
section) and "2" (each metric section's ``per_sample`` values, each seed's training ``budget``
and ``learning_curve``; the out-of-distribution and long-horizon tracks of issue 18 join this
version). Every field a version adds is optional, so an older record is valid under the newer
version and needs no migration; an older record must not carry a newer version's fields. Version
2 checks: each per-sample list has one value per test sample and its mean is the overall value;
the budget's epochs and optimiser steps are the seed's; the curve's lists have one entry per
validation.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import extend

from pdebench_x.leaderboard.checks import semantic_errors

SCHEMA_PATH = Path(__file__).with_name("record.schema.json")
#: Record format versions this code reads; bump (and add a migration) when the format changes.
SCHEMA_VERSIONS = ("1", "1.1", "2")
CURRENT_VERSION = "2"

class RecordError(ValueError):
    """A submission record that is malformed or fails a check; the message lists every problem."""

    def __init__(self, problems: list[str] | str, source: str = "record") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} is not a valid submission record:\n{lines}")


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


# ------------------------------------------------------------------------------------------
# the schema, checked by jsonschema
# ------------------------------------------------------------------------------------------
def _is_integer(checker: Any, value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: Draft 2020-12 with JSON integers only (see the module docstring).
RecordValidator = extend(Draft202012Validator,
                         type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))


def _json_path(error: ValidationError) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)


def _types(want: str | list[str]) -> str:
    return " or ".join(want if isinstance(want, list) else [want])


#: What is wrong, per keyword, in our words (any other keyword: in jsonschema's).
_MESSAGES = {
    "type": lambda value, want: f"expected {_types(want)}, got {type(value).__name__} {_short(value)}",
    "const": lambda value, want: f"must be {want!r}, got {_short(value)}",
    "enum": lambda value, want: f"must be one of {want}, got {_short(value)}",
    "minimum": lambda value, want: f"must be >= {want}, got {value}",
    "minLength": lambda value, want: "must not be empty" if want == 1 else f"needs at least {want} characters",
    "pattern": lambda value, want: f"{value!r} does not match the pattern {want}",
    "minItems": lambda value, want: f"needs at least {want} item(s), got {len(value)}",
}


def _problems(error: ValidationError) -> list[str]:
    """One jsonschema error as 'path: what is wrong' lines (one per missing or unknown field)."""
    path, value, want = _json_path(error), error.instance, error.validator_value
    if error.validator == "required":
        return [f"{path}: missing required field {key!r}" for key in want if key not in value]
    if error.validator == "additionalProperties" and want is False:
        allowed = sorted(error.schema.get("properties", {}))
        return [f"{path}: unknown field {key!r} (allowed: {allowed})" for key in value if key not in allowed]
    message = _MESSAGES.get(error.validator)
    return [f"{path}: {message(value, want) if message else error.message}"]


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of ``schema`` by ``value``, as 'path: what is wrong' strings."""
    problems = [p for error in RecordValidator(schema).iter_errors(value) for p in _problems(error)]
    return list(dict.fromkeys(problems))  # one 'required' error per missing field, each restating them all


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_record(text: str, source: str = "record") -> dict[str, Any]:
    """JSON text -> dict, with a clear error for text that is not JSON at all."""
    try:
        # NaN/Infinity are accepted here on purpose, to be reported with their path below.
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise RecordError(f"not valid JSON ({err}); a record is one JSON object as written by "
                          "`python score.py`", source) from err
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}", source)
    return record


def validate_record(record: dict[str, Any], source: str = "record") -> dict[str, Any]:
    """Raise :class:`RecordError` listing every problem; return the record when valid."""
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}", source)
    version = record.get("schema_version")
    if version not in SCHEMA_VERSIONS:
        raise RecordError(
            f"unknown schema_version {version!r}; this pdebench_x reads {list(SCHEMA_VERSIONS)}. "
            "Re-score with this version's score.py, or upgrade pdebench_x if the record is newer", source)
    errors = schema_errors(record, load_schema())
    errors += semantic_errors(record) if not errors else []
    if errors:
        raise RecordError(errors, source)
    return record


def load_record(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise RecordError(f"cannot read it ({err})", str(path)) from err
    return validate_record(parse_record(text, str(path)), str(path))


def dump_record(record: dict[str, Any]) -> str:
    """Strict JSON (NaN refused), stable key order, trailing newline."""
    return json.dumps(record, indent=2, sort_keys=False, allow_nan=False) + "\n"
