"""Typed configuration objects and the one place that hashes them.

Every cached result is keyed by :func:`config_key` of its full configuration; nothing else in the project
hashes a configuration.
"""
from __future__ import annotations

import hashlib
import json
import math

from .errors import ConfigError


def config_key(config: dict) -> str:
    """Stable hash of a JSON-serialisable configuration (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def forget_count(ratio: float, n: int) -> int:
    """m = round(ratio·N), validated: 0 < ratio < 1 and 1 <= m < N."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or math.isnan(ratio) or not 0 < ratio < 1:
        raise ConfigError(f"Forget ratio must be strictly between 0 and 1 (e.g. 0.1 for 10%), got {ratio}.")
    m = int(round(ratio * n))
    if m < 1:
        raise ConfigError(f"Forget ratio {ratio} of {n} training samples gives an empty forget set; use a larger ratio.")
    if m >= n:
        raise ConfigError(f"Forget ratio {ratio} would forget all {n} training samples.")
    return m
