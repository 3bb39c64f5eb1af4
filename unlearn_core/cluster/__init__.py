"""The Ray grid executor: a grid's units as Ray tasks on a cluster (optional extra: ``pip install -e .[cluster]``).

``make_executor("ray", address=...)`` (CLI: ``compare --executor ray --ray-address auto``; jobs: the
``experiment`` kind with ``"executor": "ray"``) runs :func:`~unlearn_core.grid.plan`'s units as Ray tasks, with
the dependencies between units passed as ObjectRefs, so Ray starts a unit as soon as everything it needs exists.

What travels where:

- **driver → worker**: the unit (a small frozen dataclass), the setup as JSON (the device comes from the setup,
  never from Ray's ``CUDA_VISIBLE_DEVICES``), the driver's setup identity (to refuse a worker whose data set
  differs) and, as ObjectRefs resolved from Ray's object store, the *bundles* (``Store.export_runs``) of every
  run the unit depends on, transitively (θ_o, scores, forget set).
- **worker**: loads the data set from its own data root, imports the dependency bundles into a fresh store in a
  temporary folder (or under ``worker_dir``), computes the unit there with the ordinary pipeline and returns two
  objects: the bundle of the unit's own result (which downstream units receive) and a bundle of whatever else it
  created (θ_o's per-sample predictions, shadow-model banks, ...), which only the driver fetches.
- **driver**: never lets a worker near its SQLite. It checks every unit against its store first (read-only
  ``find_*`` lookups; cached units are not recomputed, their verified bundles are shipped downstream), imports
  each finished unit's bundles (atomically per run, checksums verified) as units finish, records a unit that
  failed after its retries as a ``failed`` run row, and cancels every Ray task on cancel / Ctrl-C.

A unit's result depends only on its configuration and seed (same keys, same thread policy, randomness through
explicit generators), so a grid gives bit-identical results locally and on Ray on the CPU.
"""
from __future__ import annotations

from .driver import GridUnitsFailed, RayExecutor
from .options import (DEFAULT_GPUS_PER_UNIT, DEFAULT_MAX_RETRIES, STAGES, check_address, check_options,
                      experiment_executor, ray_available, require_ray)
from .worker import TransientUnitError, UnitError, code_digest

__all__ = ["RayExecutor", "UnitError", "TransientUnitError", "GridUnitsFailed", "check_options", "check_address",
           "experiment_executor", "ray_available", "require_ray", "code_digest",
           "DEFAULT_GPUS_PER_UNIT", "DEFAULT_MAX_RETRIES", "STAGES"]
