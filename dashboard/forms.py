"""Parsing of what users type into the pages' forms (every value validated by the core's own checks)."""
from __future__ import annotations

import json
from typing import Any

import pandas as pd

from unlearn_core.errors import ConfigError
from unlearn_core.methods import get_method


def params_from_frame(method: str, ds, frame: pd.DataFrame) -> dict[str, Any]:
    """Overrides (values that differ from the preset) parsed from an edited (parameter, value) table; validated."""
    m = get_method(method)
    preset = m.default_params(ds)
    out = {}
    for p, v in zip(frame["parameter"], frame["value"]):
        if p not in preset:
            raise ConfigError(f"{method}: unknown hyperparameter '{p}'. Known: {', '.join(preset) or 'none'}.")
        try:
            val = json.loads(v) if isinstance(v, str) else v
        except json.JSONDecodeError:
            val = v
        if isinstance(preset[p], (int, float)) and not isinstance(preset[p], bool):
            try:
                val = type(preset[p])(val)
            except (TypeError, ValueError):
                raise ConfigError(f"{method}: '{p}' must be a number, got {v!r}.") from None
            if val != val or val in (float("inf"), float("-inf")):
                raise ConfigError(f"{method}: '{p}' must be finite.")
        if val != preset[p]:
            out[p] = val
    m.resolve_params(ds, out)
    return out


EXECUTOR_FIELDS = ("executor", "ray_address", "executor_options")


def with_executor(config: dict, fields: dict) -> dict:
    """An ``experiment`` job's config with its executor fields (executor, ray_address, executor_options) replaced
    by ``fields`` (``{}`` = this machine; from ``job_widgets.executor_choice``)."""
    out = {k: v for k, v in config.items() if k not in EXECUTOR_FIELDS}
    out.update({k: v for k, v in fields.items() if k in EXECUTOR_FIELDS})
    return out
