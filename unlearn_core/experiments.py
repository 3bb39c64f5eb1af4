"""Pipeline (train → score → select → unlearn → evaluate) with caching, and experiment grids.

:class:`Pipeline` is bound to one data set + model + training recipe + device and computes each step once:
the original model per seed, scores per (seed[, ratio]), forget sets per (selector, ratio, seed), and runs per
(method, params, forget set, seed). Everything is keyed by a hash of its full configuration in the
:class:`~unlearn_core.store.Store`, so a repeated request is served from the cache.

:func:`run_experiment` runs a grid data set × model × selector × method × ratio × seed and returns a
pandas DataFrame with one row per run; :func:`aggregate` turns it into mean ± std over seeds with the gap to
Retrain for the same selector, ratio and seed.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from .context import NULL_CONTEXT, RunContext
from .data import ImageDataset, default_model_for, load_dataset
from .device import resolve_device
from .errors import CheckpointError, ConfigError, DivergenceError, ForgetsetError
from .methods import UnlearnInput, get_method, method_names
from .metrics import GAP_METRICS, evaluate, gap_to_retrain, tug_of_war
from .models import MODELS, Classifier, build_model
from .scores import ScoreInput, ScoreResult, get_score
from .selectors import ForgetSet, parse_selector, select_forget_set
from .config import config_key
from .store import Store, load_weights_into
from .training import TrainConfig, accuracy, new_model, preset_for, train_model, with_overrides

DEFAULT_METHODS = ["retrain", "ft", "ga", "rl", "l1_sparse"]
DEFAULT_SELECTORS = ["random", "worst"]
METRIC_COLUMNS = ["UA", "RA", "TA", "MIA"]


class Pipeline:
    """One data set + model + recipe + device; each step cached in ``store``."""

    def __init__(self, store: Store, dataset: str = "digits", model: str | None = None, device: str = "auto",
                 train_preset: str | None = "auto", train_overrides: dict | None = None,
                 data_root: str | None = None, download: bool = False, blo_params: dict | None = None):
        self.store = store
        self.device = resolve_device(device)
        self.dataset_name = dataset
        self.ds: ImageDataset = load_dataset(dataset, root=data_root, download=download).to(self.device)
        self.model_name = model or default_model_for(self.ds)
        if self.model_name not in MODELS:
            from .errors import unknown_name
            raise unknown_name("model", self.model_name, list(MODELS))
        self.train_cfg: TrainConfig = with_overrides(preset_for(self.ds, train_preset), **(train_overrides or {}))
        self.train_cfg.validate()
        self.blo_params = dict(blo_params or {})
        get_score("blo").resolve_params(self.blo_params)
        self.base_config = {"dataset": dataset, "data_fingerprint": self.ds.fingerprint(),
                            "model": self.model_name, "train": self.train_cfg.to_dict()}
        self._memo: dict[str, Any] = {}
        # Wall time per stage spent in this process (cache hits cost ~0), for the CLI's stage summary.
        self.stage_seconds: dict[str, float] = {}

    def _add_time(self, stage: str, seconds: float) -> None:
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds

    # ------------------------------------------------------------------ original model
    def original_key(self, seed: int) -> str:
        return config_key({"kind": "original", **self.base_config, "seed": int(seed)})

    def _checkpoint_meta(self) -> dict:
        return {"model": self.model_name, "dataset": self.base_config["data_fingerprint"],
                "num_classes": self.ds.num_classes}

    def load_model(self, kind: str, key: str) -> Classifier:
        path = self.store.model_path(kind, key)
        model = build_model(self.model_name, self.ds.input_shape, self.ds.num_classes)
        load_weights_into(model, path, expect=self._checkpoint_meta())
        return model.to(self.device).eval()

    def original(self, seed: int, ctx: RunContext = NULL_CONTEXT) -> Classifier:
        """θ_o for ``seed``: trained on the whole training set with the recipe, or loaded from the cache."""
        key = self.original_key(seed)
        if key in self._memo:
            return self._memo[key]
        if self.store.done_run(key) and self.store.model_path("model", key).is_file():
            try:
                model = self.load_model("model", key)
            except CheckpointError:
                model = None  # a corrupt cache file is recomputed, not trusted
        else:
            model = None
        if model is None:
            config = {"kind": "original", **self.base_config, "seed": int(seed)}
            self.store.start_run(key, "original", config)
            t0 = time.time()
            try:
                model = train_model(self.model_name, self.ds, torch.arange(self.ds.n_train), self.train_cfg,
                                    seed, ctx=ctx, what=f"original model (seed {seed})")
            except BaseException as err:
                self.store.fail_run(key, _err_text(err), _fail_status(err))
                raise
            train_time = time.time() - t0
            self._add_time("original model", train_time)
            self.store.save_model("model", key, model, self._checkpoint_meta())
            self.store.finish_run(key, "original", config,
                                  {"train_acc": 100 * accuracy(model, self.ds, "train"),
                                   "test_acc": 100 * accuracy(model, self.ds, "test")},
                                  {"train_s": train_time})
        self._memo[key] = model
        return model

    def import_checkpoint(self, path: str, seed: int = 0) -> Classifier:
        """Use a user-supplied checkpoint as θ_o for ``seed`` (refused if it does not fit the model/data)."""
        model = build_model(self.model_name, self.ds.input_shape, self.ds.num_classes)
        load_weights_into(model, path, expect=self._checkpoint_meta())
        model = model.to(self.device).eval()
        key = self.original_key(seed)
        config = {"kind": "original", **self.base_config, "seed": int(seed), "imported_from": str(path)}
        self.store.save_model("model", key, model, self._checkpoint_meta())
        self.store.finish_run(key, "original", config, {"train_acc": 100 * accuracy(model, self.ds, "train"),
                                                        "test_acc": 100 * accuracy(model, self.ds, "test")})
        self._memo[key] = model
        return model

    # ------------------------------------------------------------------ scores
    def score_key(self, name: str, seed: int, ratio: float | None, params: dict) -> str:
        spec = get_score(name)
        cfg = {"kind": "score", "score": name, "original": self.original_key(seed), "params": params}
        if spec.depends_on_ratio and params.get("granularity", "sample") != "class":
            cfg["ratio"] = ratio
        return config_key(cfg)

    def score(self, name: str, seed: int, ratio: float | None = None, params: dict | None = None,
              ctx: RunContext = NULL_CONTEXT) -> ScoreResult:
        """Per-sample score ``name`` of θ_o (seed), cached. BLO also depends on the ratio and its params."""
        spec = get_score(name)
        merged = {**(self.blo_params if name == "blo" else {}), **(params or {})}
        params = spec.resolve_params(merged)
        key = self.score_key(name, seed, ratio, params)
        if key in self._memo:
            return self._memo[key]
        cached = self.store.load_arrays("score", key) if self.store.done_run(key) else None
        if cached is not None:
            arrays, meta = cached
            result = ScoreResult(arrays.pop("values"), meta.get("extras", {}), arrays)
        else:
            original = self.original(seed, ctx.sub(0, 0.2))
            config = {"kind": "score", "score": name, "seed": seed, "ratio": ratio, "params": params,
                      **self.base_config}
            self.store.start_run(key, "score", config)
            t0 = time.time()
            try:
                workdir = self.store.artifact_dir / "work" / key
                result = spec.fn(ScoreInput(original, self.model_name, self.ds, self.train_cfg, seed, ratio, params,
                                            ctx.sub(0.2, 1.0), workdir))
            except BaseException as err:
                self.store.fail_run(key, _err_text(err), _fail_status(err))
                raise
            self._add_time(f"score {name}", time.time() - t0)
            values = np.asarray(result.values, dtype=np.float32)
            if values.shape != (self.ds.n_train,) and not (name == "blo" and params.get("granularity") == "class"):
                raise ForgetsetError(f"Score '{name}' returned shape {values.shape}, expected ({self.ds.n_train},).")
            self.store.save_arrays("score", key, {"values": values, **result.arrays}, {"extras": result.extras})
            self.store.finish_run(key, "score", config, {"mean": float(np.mean(values)), "std": float(np.std(values))},
                                  {"score_s": time.time() - t0})
        self._memo[key] = result
        return result

    # ------------------------------------------------------------------ forget sets
    def forget_set(self, selector: str, ratio: float | None, seed: int, ctx: RunContext = NULL_CONTEXT) -> ForgetSet:
        spec = parse_selector(selector)
        if spec.class_wise:
            ratio = None
        key = config_key({"kind": "forget_set", "selector": selector, "ratio": ratio, "seed": seed,
                          "original": self.original_key(seed) if spec.needs_scores() else None,
                          "blo": self.blo_params if spec.needs_scores() else None, **self.base_config})
        if key in self._memo:
            return self._memo[key]
        cached = self.store.load_arrays("forget_set", key)
        if cached is not None:
            arrays, meta = cached
            fs = ForgetSet(selector, ratio, seed, arrays["forget_idx"].astype(np.int64), meta.get("classes"),
                           meta.get("info", {}))
        else:
            def score_fn(name: str, r: float | None, params: dict) -> np.ndarray:
                return self.score(name, seed, r, params, ctx).values

            fs = select_forget_set(selector, self.ds, ratio, seed, score_fn)
            self.store.save_arrays("forget_set", key, {"forget_idx": fs.forget_idx},
                                   {"classes": fs.forget_classes, "info": fs.info, "selector": selector,
                                    "ratio": ratio, "seed": seed, "dataset": self.dataset_name,
                                    "model": self.model_name})
        fs.info["key"] = key
        self._memo[key] = fs
        return fs

    # ------------------------------------------------------------------ unlearning runs
    def run_config(self, method: str, selector: str, ratio: float | None, seed: int,
                   params: dict | None = None) -> tuple[str, dict]:
        m = get_method(method)
        resolved = m.resolve_params(self.ds, params)
        spec = parse_selector(selector)
        cfg = {"kind": "unlearn", **self.base_config, "method": method, "params": resolved, "selector": selector,
               "ratio": None if spec.class_wise else ratio, "seed": int(seed),
               "blo": self.blo_params if spec.needs_scores() else None}
        if m.exact:
            cfg["params"] = {}
        return config_key(cfg), cfg

    def run(self, method: str, selector: str, ratio: float | None, seed: int, params: dict | None = None,
            ctx: RunContext = NULL_CONTEXT, keep_model: bool = True) -> dict:
        """Unlearn with ``method`` on the (selector, ratio, seed) forget set and evaluate; cached by config."""
        key, cfg = self.run_config(method, selector, ratio, seed, params)
        done = self.store.done_run(key)
        if done is not None:
            return self._row(done)
        fs = self.forget_set(selector, ratio, seed, ctx.sub(0, 0.3))
        m = get_method(method)
        original = self.original(seed, ctx.sub(0, 0.3)) if not m.exact else None
        self.store.start_run(key, "unlearn", cfg)
        forget_t = torch.as_tensor(fs.forget_idx, device=self.device)
        mask = torch.ones(self.ds.n_train, dtype=torch.bool, device=self.device)
        mask[forget_t] = False
        retain_t = torch.nonzero(mask).squeeze(1)
        keep_test = np.ones(self.ds.x_test.shape[0], dtype=bool)
        if fs.forget_classes:  # class-wise: TA is measured on the remaining classes
            keep_test &= ~np.isin(self.ds.y_test.cpu().numpy(), fs.forget_classes)
        used = m.test_indices_used(self.ds, cfg["params"], seed)
        if used is not None:  # e.g. DAU's D_v: never evaluate on samples the method has seen
            keep_test[np.asarray(used.cpu() if isinstance(used, torch.Tensor) else used, dtype=np.int64)] = False
        test_idx = None if keep_test.all() else np.flatnonzero(keep_test)
        if original is None:  # Retrain needs no θ_o, but the interface carries one; a fresh model is fine
            original = new_model(self.model_name, self.ds, seed, self.device).eval()
        inp = UnlearnInput(original, self.model_name, self.ds, forget_t, retain_t, self.train_cfg, seed,
                           ctx.sub(0.3, 0.95), fs.forget_classes)
        t0 = time.time()
        try:
            model = m.unlearn(inp, cfg["params"])
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            runtime = time.time() - t0
            if not all(torch.isfinite(p).all() for p in model.parameters()):
                raise DivergenceError(f"{method}: the unlearned model has non-finite weights (diverged). "
                                      f"Lower its learning rate.")
            self._add_time(f"unlearn {method}", runtime)
            t_eval = time.time()
            metrics = evaluate(model, self.ds, forget_t, retain_t, seed=seed, test_idx=test_idx)
            self._add_time("evaluation", time.time() - t_eval)
            if not all(np.isfinite(v) for v in metrics.values()):
                raise DivergenceError(f"{method}: evaluation gave non-finite metrics {metrics}.")
            metrics["forget_size"] = fs.size
            if keep_model:
                self.store.save_model("unlearned", key, model, self._checkpoint_meta())
            ctx.progress(1.0, f"{method} on {selector} done")
        except BaseException as err:
            self.store.fail_run(key, _err_text(err), _fail_status(err))
            raise
        self.store.finish_run(key, "unlearn", cfg, metrics, {"runtime_s": runtime})
        return self._row(self.store.done_run(key))

    def unlearned_model(self, method: str, selector: str, ratio: float | None, seed: int,
                        params: dict | None = None) -> Classifier | None:
        """The stored unlearned model of a finished run (None if it was not kept)."""
        key, _ = self.run_config(method, selector, ratio, seed, params)
        if not self.store.model_path("unlearned", key).is_file():
            return None
        return self.load_model("unlearned", key)

    @staticmethod
    def _row(run: dict) -> dict:
        cfg, metrics = run["config"], run["metrics"]
        row = {"dataset": cfg["dataset"], "model": cfg["model"], "selector": cfg["selector"],
               "method": cfg["method"], "ratio": cfg["ratio"], "seed": cfg["seed"]}
        row.update(metrics)
        row["runtime_s"] = (run.get("timings") or {}).get("runtime_s", float("nan"))
        row["params"] = json.dumps(cfg.get("params", {}), sort_keys=True)
        row["key"] = run["key"]
        return row


# ---------------------------------------------------------------------- grids
@dataclass
class ExperimentSpec:
    """A grid data set × model × selector × method × ratio × seed (the CLI's ``compare``)."""

    dataset: str = "digits"
    model: str | None = None
    selectors: list[str] = field(default_factory=lambda: list(DEFAULT_SELECTORS))
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    ratios: list[float] = field(default_factory=lambda: [0.1])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    device: str = "auto"
    train_preset: str | None = "auto"
    train_overrides: dict = field(default_factory=dict)
    data_root: str | None = None
    download: bool = False
    method_params: dict[str, dict] = field(default_factory=dict)
    blo_params: dict = field(default_factory=dict)

    def validate(self) -> "ExperimentSpec":
        from .config import forget_count

        if not self.methods:
            raise ConfigError("Choose at least one unlearning method.")
        if not self.selectors:
            raise ConfigError("Choose at least one forget-set selector.")
        if not self.seeds:
            raise ConfigError("Choose at least one seed.")
        if not self.ratios and not all(parse_selector(s).class_wise for s in self.selectors):
            raise ConfigError("Choose at least one forget ratio.")
        if self.methods == ["all"]:
            self.methods = method_names()
        for m in self.methods:
            get_method(m)
        for s in self.selectors:
            parse_selector(s)
        for r in self.ratios:
            forget_count(r, 10**9)  # range check only; the size check happens with the data set
        for m, p in self.method_params.items():
            if m not in self.methods:
                raise ConfigError(f"Hyperparameters given for '{m}', which is not among the chosen methods.")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    def n_runs(self) -> int:
        """Number of unlearning runs in the grid (Retrain always runs: the gaps need it)."""
        methods = set(self.methods) | {"retrain"}
        n_ratio_sets = sum(1 if parse_selector(s).class_wise else len(self.ratios) for s in self.selectors)
        return len(methods) * n_ratio_sets * len(self.seeds)


def run_experiment(spec: ExperimentSpec, store: Store, ctx: RunContext = NULL_CONTEXT,
                   on_row=None) -> pd.DataFrame:
    """Run the grid; returns one row per run (Retrain included). Cached steps are reused."""
    spec.validate()
    pipe = Pipeline(store, spec.dataset, spec.model, spec.device, spec.train_preset, spec.train_overrides,
                    spec.data_root, spec.download, spec.blo_params)
    methods = ["retrain"] + [m for m in spec.methods if m != "retrain"]
    jobs = []
    for seed in spec.seeds:
        for sel in spec.selectors:
            ratios = [None] if parse_selector(sel).class_wise else spec.ratios
            for ratio in ratios:
                for method in methods:
                    jobs.append((seed, sel, ratio, method))
    rows = []
    for i, (seed, sel, ratio, method) in enumerate(jobs):
        sub = ctx.sub(i / len(jobs), (i + 1) / len(jobs))
        ctx.progress(i / len(jobs), f"{method} · {sel} · {ratio} · seed {seed}")
        row = pipe.run(method, sel, ratio, seed, spec.method_params.get(method), sub)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    ctx.progress(1.0, "done")
    df = pd.DataFrame(rows)
    df.attrs["spec"] = spec.to_dict()
    df.attrs["stage_seconds"] = dict(pipe.stage_seconds)
    return with_gaps(df)


def with_gaps(df: pd.DataFrame) -> pd.DataFrame:
    """Add per-run gap columns to Retrain with the same data set, model, selector, ratio and seed, and ToW."""
    if df.empty:
        return df
    df = df.copy()
    ratio_key = df["ratio"].fillna(-1.0)
    df["_rk"] = ratio_key
    keys = ["dataset", "model", "selector", "_rk", "seed"]
    retrain = df[df["method"] == "retrain"].set_index(keys)
    for col in [f"gap_{k}" for k in GAP_METRICS] + ["avg_gap", "ToW"]:
        df[col] = np.nan
    for i, row in df.iterrows():
        k = tuple(row[c] for c in keys)
        if k in retrain.index:
            r = retrain.loc[k]
            if isinstance(r, pd.DataFrame):
                r = r.iloc[0]
            g = gap_to_retrain(row, r)
            for c, v in g.items():
                df.at[i, c] = v
            df.at[i, "ToW"] = tug_of_war(row, r)
    return df.drop(columns="_rk")


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per (data set, model, selector, method, ratio)."""
    if df.empty:
        return df
    cols = [c for c in METRIC_COLUMNS + [f"gap_{k}" for k in GAP_METRICS] + ["avg_gap", "ToW", "runtime_s"]
            if c in df]
    d = df.copy()
    d["ratio"] = d["ratio"].fillna(-1.0)
    # Runs of one method with different hyperparameters are different rows, never averaged together.
    keys = ["dataset", "model", "selector", "method", "ratio"] + (["params"] if "params" in d else [])
    g = d.groupby(keys, sort=False)
    mean, std = g[cols].mean(), g[cols].std(ddof=0).fillna(0.0)
    out = mean.add_suffix("_mean").join(std.add_suffix("_std"))
    out["n_seeds"] = g.size()
    out["seeds"] = g["seed"].apply(lambda s: ",".join(str(int(x)) for x in sorted(s)))
    out = out.reset_index()
    out["ratio"] = out["ratio"].replace(-1.0, np.nan)
    return out


def table3(df: pd.DataFrame) -> pd.DataFrame:
    """The seed-000 Table-3 view: 'mean±std (gap)' for UA, MIA, RA, TA, plus Avg. gap and ToW."""
    agg = aggregate(df)
    if agg.empty:
        return agg
    out = agg[["selector", "method", "ratio"]].copy()
    for k in ["UA", "MIA", "RA", "TA"]:
        out[k] = [f"{m:.2f}±{s:.2f} ({g:.2f})" for m, s, g in
                  zip(agg[f"{k}_mean"], agg[f"{k}_std"], agg.get(f"gap_{k}_mean", np.nan))]
    out["Avg.Gap"] = agg["avg_gap_mean"].map(lambda v: f"{v:.2f}")
    out["ToW"] = [f"{m:.3f}±{s:.3f}" for m, s in zip(agg["ToW_mean"], agg["ToW_std"])]
    out["time_s"] = agg["runtime_s_mean"].map(lambda v: f"{v:.2f}")
    out["seeds"] = agg["seeds"]
    return out


def load_results(store: Store, dataset: str | None = None) -> pd.DataFrame:
    """Every finished unlearning run in the store as a DataFrame (with gaps), newest configuration first."""
    rows = [Pipeline._row(r) for r in store.list_runs("unlearn", "done")]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    if dataset is not None:
        df = df[df["dataset"] == dataset]
    return with_gaps(df)


def _err_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _fail_status(err: BaseException) -> str:
    from .errors import CancelledError

    return "cancelled" if isinstance(err, (CancelledError, KeyboardInterrupt)) else "failed"
