"""Reading a job's configuration: its setup, seeds and ratio, checked (shared by every job kind)."""
from __future__ import annotations

from ..config import Setup, setup_name
from ..errors import ConfigError
from ..pipeline import Pipeline
from ..validation import check_seed as _check_seed
from ..validation import Ratio, check_seed_list
from .registry import JobEnv


def setup_of(config: dict) -> Setup:
    """The job's setup (``config["setup"]``, a Setup dict); validated (names, recipe overrides, BLO parameters)."""
    if not isinstance(config, dict):
        raise ConfigError("A job's configuration must be a JSON object.")
    s = config.get("setup")
    if s is not None and not isinstance(s, dict):
        raise ConfigError("The job's setup must be a JSON object.")
    return Setup.from_dict(s).validate()


def pipeline_for(config: dict, env: JobEnv):
    """The Pipeline of a job's setup, on the device slot the manager assigned."""
    setup = setup_of(config)
    if env.device and env.device != "auto":
        setup = setup.replace(device=env.device)
    return Pipeline(env.store, setup)


def setup_label(config: dict) -> str:
    """The job's setup named to users (config.setup_name)."""
    return setup_name(setup_of(config))


def check_seed(seed) -> int:
    """A job's seed (validation.check_seed: an integer in 0..2^32-1)."""
    return _check_seed(seed)


def check_seeds(config: dict, default=(0,)) -> list[int]:
    return check_seed_list(config.get("seeds", list(default)))


def check_ratio(config: dict, default: float | None = 0.1) -> float | None:
    r = config.get("ratio", default)
    return None if r is None else Ratio(r)


def check_setup(config: dict) -> None:
    setup_of(config)
