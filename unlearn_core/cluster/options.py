"""The Ray executor's options, checked without importing Ray: whether Ray is installed, the cluster address, the
per-stage resource requests, and an ``experiment`` job's executor fields."""
from __future__ import annotations

import importlib.util
import os
import re
from typing import Any

from ..errors import ConfigError

STAGES = ("original", "score", "forget_set", "run", "bank")
# GPU fraction per unit by model when the setup may use a GPU and the caller gives none: small models share a
# GPU (several units train at once), large ones get more of it. A model not listed gets a whole GPU.
DEFAULT_GPUS_PER_UNIT = {"mlp": 0.125, "cnn": 0.125, "resnet18": 0.25, "resnet50": 0.5, "vgg16_bn": 0.5}
DEFAULT_MAX_RETRIES = 2
_ADDRESS = re.compile(r"^(auto|local|ray://[A-Za-z0-9_.\-\[\]:]+(:\d+)?|[A-Za-z0-9_.\-]+:\d+)$")


def ray_available() -> bool:
    """Whether Ray is installed here (the ``cluster`` extra); cheap: it does not import Ray."""
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError, AttributeError):  # a broken or blocked entry in sys.modules
        return False


def require_ray() -> None:
    """Raise a clear :class:`ConfigError` when Ray is not installed."""
    if not ray_available():
        raise ConfigError("The Ray executor needs Ray, which is not installed here. Install the cluster extra: "
                          "pip install -e '.[cluster]' (or pip install 'ray[default]').")


def _per_stage(value: Any, what: str, allow_none: bool) -> dict[str, float] | None:
    """A number for every unit, or {stage: number} (``default`` for the stages not named)."""
    if value is None:
        if allow_none:
            return None
        raise ConfigError(f"{what} must be a number or {{stage: number}}.")
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(STAGES) - {"default"})
        if unknown:
            raise ConfigError(f"{what}: unknown stages {unknown}; use {', '.join(STAGES)} or default.")
        out = {k: _resource_number(v, what) for k, v in value.items()}
        return {s: out.get(s, out.get("default", 1.0 if what == "cpus_per_unit" else 0.0)) for s in STAGES}
    v = _resource_number(value, what)
    return {s: v for s in STAGES}


def _resource_number(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= float(v) <= 1024:
        raise ConfigError(f"{what} must be a number between 0 and 1024 (fractions share a device), got {v!r}.")
    v = float(v)
    if v > 1 and not v.is_integer():
        raise ConfigError(f"{what}: Ray accepts fractions below 1 or whole numbers, got {v}.")
    return v


def check_address(address: str | None) -> str | None:
    """``auto`` (a running cluster), ``local`` (start one in this process), ``ray://host:port`` (Ray Client),
    ``host:port`` (a cluster's GCS address), or None (Ray's own default: $RAY_ADDRESS, a running cluster, or a
    new local one)."""
    if address is None or (isinstance(address, str) and not address.strip()):
        return None
    if not isinstance(address, str) or not _ADDRESS.match(address.strip()):
        raise ConfigError(f"Ray address {address!r} is not one of auto, local, ray://host:port or host:port.")
    return address.strip()


def check_options(**options: Any) -> dict:
    """Validate the Ray executor's options (without importing Ray); returns them normalised."""
    known = {"address", "gpus_per_unit", "cpus_per_unit", "max_retries", "worker_dir", "worker_data_root",
             "threads", "worker_setup", "fail_fast", "init_options", "reuse_workers", "check_code"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"Unknown Ray executor options {unknown}. Known: {', '.join(sorted(known))}.")
    out = dict(options)
    out["address"] = check_address(options.get("address"))
    out["gpus_per_unit"] = _per_stage(options.get("gpus_per_unit"), "gpus_per_unit", allow_none=True)
    out["cpus_per_unit"] = _per_stage(options.get("cpus_per_unit", 1), "cpus_per_unit", allow_none=False)
    r = options.get("max_retries", DEFAULT_MAX_RETRIES)
    if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r <= 100:
        raise ConfigError(f"max_retries must be an integer between 0 and 100, got {r!r}.")
    t = options.get("threads")
    if t is not None and (isinstance(t, bool) or not isinstance(t, int) or t < 1):
        raise ConfigError(f"threads must be a positive integer, got {t!r}.")
    for name in ("worker_dir", "worker_data_root"):
        if options.get(name) is not None and not isinstance(options[name], (str, os.PathLike)):
            raise ConfigError(f"{name} must be a folder path.")
    if options.get("worker_setup") is not None and not callable(options["worker_setup"]):
        raise ConfigError("worker_setup must be a function of the unit.")
    if options.get("init_options") is not None and not isinstance(options["init_options"], dict):
        raise ConfigError("init_options must be a dict of ray.init arguments.")
    return out


def experiment_executor(config: dict) -> dict:
    """Validate an ``experiment`` job's executor fields; returns make_executor's options (``name`` included).

    ``executor``: local (default) or ray; ``ray_address``: see :func:`check_address`; ``executor_options``:
    the Ray executor's JSON-able options (gpus_per_unit, cpus_per_unit, max_retries, worker_dir, ...).
    """
    name = config.get("executor") or "local"
    if name not in ("local", "ray"):
        raise ConfigError(f"Unknown executor {name!r}: use local or ray.")
    extra = {k: config[k] for k in ("ray_address", "executor_options") if config.get(k) is not None}
    if name == "local":
        if extra:
            raise ConfigError(f"{', '.join(sorted(extra))} only apply with \"executor\": \"ray\".")
        return {"name": "local"}
    require_ray()
    opts = config.get("executor_options") or {}
    if not isinstance(opts, dict):
        raise ConfigError("executor_options must be a JSON object.")
    for k in ("worker_setup", "address"):
        if k in opts:
            raise ConfigError(f"executor_options cannot set {k!r}" + (" (use ray_address)" if k == "address" else
                                                                     " (not JSON)") + ".")
    check_options(address=config.get("ray_address"), **opts)
    return {"name": "ray", "address": config.get("ray_address"), **opts}
