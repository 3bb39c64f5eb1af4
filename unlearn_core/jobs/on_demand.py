"""The job kind that computes on-demand metrics (the non-default MIA feature variants) for finished runs.

Config: ``{"run_keys": [...], "metrics": ["MIA_entropy", ...]}``. Each run is evaluated in the setup it was made
in (:func:`~unlearn_core.pipeline.setup_of_run`), from its stored model; values land in the store as metric
records (``metrics.registry``), which every results view reads. Found by discovery like every kind.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..metrics import registry as metric_registry
from ..pipeline import Pipeline, setup_of_run
from .registry import JobEnv, register_job_kind

MAX_RUNS = 10_000


def _check(config: dict) -> None:
    if not isinstance(config, dict):
        raise ConfigError("A job's configuration must be a JSON object.")
    keys = config.get("run_keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise ConfigError("Name the runs: run_keys must be a non-empty list of run keys.")
    if len(keys) > MAX_RUNS:
        raise ConfigError(f"{len(keys)} runs is more than the limit of {MAX_RUNS}.")
    names = config.get("metrics")
    if not isinstance(names, list) or not names:
        raise ConfigError("Name the metrics to compute (e.g. MIA_entropy).")
    metric_registry.check_model_metrics(names)


@register_job_kind("run_metrics", title="Compute metrics of stored runs", check=_check, resource="cpu",
                   describe=lambda c: f"Compute {', '.join(c.get('metrics', []))} · {len(c.get('run_keys', []))} runs")
def _job_run_metrics(config: dict, env: JobEnv) -> dict:
    names = metric_registry.check_model_metrics(config["metrics"])
    groups: dict[str, tuple[dict, list[str]]] = {}  # runs grouped by the setup they were made in
    for key in config["run_keys"]:
        run = env.store.done_run(key)
        if run is None or run.get("kind") != "unlearn":
            raise ConfigError(f"No finished unlearning run with key {key[:12]} in this store.")
        cfg = setup_of_run(run["config"], env.device or "auto")
        groups.setdefault(cfg.to_json(), (cfg, []))[1].append(key)
    done = 0
    for i, (setup, keys) in enumerate(groups.values()):
        pipe = Pipeline(env.store, setup)
        got = pipe.on_demand_metrics(keys, names, env.ctx.sub(i / len(groups), (i + 1) / len(groups)))
        for key, vals in got.items():
            env.ctx.log(f"{key[:10]}: " + ", ".join(f"{n} {v:.2f}" for n, v in vals.items()))
        done += len(got)
    return {"n_runs": done, "metrics": names}
