"""The pipeline of one setup: original model → scores → forget sets → unlearning runs → metrics, each cached.

:class:`Pipeline` is bound to one :class:`~unlearn_core.config.Setup` (data set, model, recipe, BLO parameters,
device) and computes each step once through :meth:`Store.cached <unlearn_core.store.Store.cached>`. Keys are
content-addressed where it matters: everything derived from θ_o carries the SHA-256 of θ_o's weights, a forget
set carries the hashes of the scores it was selected by, and a run carries the hash of its forget set's indices.
So importing another θ_o, or a changed BLO default, can never serve a stale result.

Read-only lookups (``find_*``) answer "is it cached?" without computing anything; the dashboard uses them.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import torch

from .config import ResolvedSetup, Setup, config_key, forget_count, setup_key as run_setup_key
from .context import NULL_CONTEXT, RunContext
from .cost import method_passes
from .device import resolve_device
from .errors import CheckpointError, ConfigError, DivergenceError, ForgetsetError
from .methods import UnlearnInput, get_method, validate_method_params
from .metrics import DEFAULT_MIA, compute_metrics, eval_view, evaluate_view, registry as metric_registry, variant_metric
from .models import Classifier, build_model
from .scores import ScoreInput, ScoreResult, get_score
from .results.runs import run_row
from .selectors import ForgetSet, check_selector_for, parse_selector, select_forget_set
from .store import Cached, Computed, CorruptArtifact, Store, load_state_into, read_checkpoint, run_digest
from .training import TrainConfig, accuracy, count_steps, new_model, predict_logits, train_model
from .validation import check_input_file, check_seed


def setup_of_run(config: dict, device: str = "auto") -> Setup:
    """The setup a stored run was made in (data set, model, its resolved recipe, its BLO parameters): a Pipeline
    of it has the run's setup key and finds the run's forget set (worst-case sets are keyed by the BLO parameters)."""
    return Setup(dataset=config["dataset"], model=config["model"], train=dict(config.get("train") or {}),
                 blo=dict(config.get("blo") or {}), device=device)


class Pipeline:
    """One setup; each step cached in ``store``. ``Pipeline(store, setup)`` or ``Pipeline(store, dataset=...)``."""

    def __init__(self, store: Store, setup: Setup | None = None, **setup_fields: Any):
        if setup is not None and setup_fields:
            raise ConfigError("Give either a Setup or setup fields, not both.")
        self.store = store
        self.setup: Setup = setup if setup is not None else Setup(**setup_fields)
        resolved: ResolvedSetup = self.setup.resolve()
        self.resolved = resolved
        self.device = resolve_device(self.setup.device)
        self.ds = resolved.ds.to(self.device)
        self.dataset_name = self.setup.dataset
        self.model_name: str = resolved.model
        self.train_cfg: TrainConfig = resolved.recipe
        self.blo_params: dict = dict(resolved.blo)
        self.base_config: dict = resolved.base_config()
        self.setup_key: str = resolved.key
        # θ_o in memory, keyed by the content hash of its weights (never by its key): a θ_o imported or recomputed
        # by another Pipeline or process changes the stored digest, so the next call loads the new one.
        self._memo: dict[str, Cached] = {}
        self._lock = threading.RLock()
        # Wall time per stage computed in this process (cache hits cost ~0), for the CLI's stage summary.
        self.stage_seconds: dict[str, float] = {}

    def _add_time(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds

    def _checkpoint_meta(self) -> dict:
        return {"model": self.model_name, "dataset": self.base_config["data_fingerprint"],
                "num_classes": self.ds.num_classes}

    def _build(self, state: dict, meta: dict, where: str) -> Classifier:
        model = build_model(self.model_name, self.ds.input_shape, self.ds.num_classes)
        load_state_into(model, state, meta, where, expect=self._checkpoint_meta())
        return model.to(self.device).eval()

    # ------------------------------------------------------------------ original model
    def original_config(self, seed: int) -> dict:
        return {"kind": "original", **self.base_config, "seed": check_seed(seed)}

    def original_key(self, seed: int) -> str:
        return config_key(self.original_config(seed))

    def original_cached(self, seed: int, ctx: RunContext = NULL_CONTEXT) -> Cached:
        """θ_o for ``seed`` (trained on the whole training set with the recipe, or loaded), with its run row."""
        key = self.original_key(seed)
        stored = self.find_original(seed)  # one small query: the digest of the θ_o the store holds now
        if stored is not None:
            with self._lock:
                hit = self._memo.get(run_digest(stored))
            if hit is not None and hit.key == key:
                return hit

        from .scores.learning_events import EventRecorder, store_events

        events = EventRecorder(self.ds.n_train, self.device)  # learning-event proxies, from the training passes

        def compute() -> Computed:
            t0 = time.time()
            model = train_model(self.model_name, self.ds, torch.arange(self.ds.n_train), self.train_cfg, seed,
                                ctx=ctx, what=f"original model (seed {seed})", on_outputs=events)
            self._add_time("original model", time.time() - t0)
            return Computed(model, {"train_acc": 100 * accuracy(model, self.ds, "train"),
                                    "test_acc": 100 * accuracy(model, self.ds, "test")},
                            {"train_s": time.time() - t0}, self._checkpoint_meta())

        res = self.store.cached("original", self.original_config(seed), compute, fmt="model",
                                decode=lambda st, meta: self._build(st, meta, f"Cached original model {key[:10]}"),
                                on_log=ctx.log, cancel=ctx.check_cancel)
        res.value.eval()
        self._remember(res)
        if not res.hit:
            self.predictions(seed)  # per-sample predictions for the dashboard, stored with every new θ_o
            store_events(self.store, self.ds, self.model_name, self.train_cfg, seed, res.value, events)
        return res

    def _remember(self, res: Cached) -> None:
        """Keep ``res`` in memory under its content digest (older θ_o of the same key are dropped)."""
        with self._lock:
            for digest in [d for d, r in self._memo.items() if r.key == res.key]:
                del self._memo[digest]
            self._memo[res.digest] = res

    def original(self, seed: int, ctx: RunContext = NULL_CONTEXT) -> Classifier:
        return self.original_cached(seed, ctx).value

    def original_digest(self, seed: int, ctx: RunContext = NULL_CONTEXT) -> str:
        """SHA-256 of θ_o's weights (trains θ_o if needed): the part of every derived key that names θ_o.

        Taken from θ_o as loaded and verified (checksum, finite weights), not from its row: a θ_o that turns out
        corrupt is recomputed first, so nothing derived is ever keyed by weights that are not the ones used."""
        return self.original_cached(seed, ctx).digest

    def find_original(self, seed: int) -> dict | None:
        """The finished run of θ_o (seed), or None (nothing is trained)."""
        run = self.store.done_run(self.original_key(seed))
        return run if run is not None and (run.get("artifacts") or {}).get("main") else None

    def import_checkpoint(self, path: str, seed: int = 0, confirm_dataset: str | None = None) -> Classifier:
        """Use a user-supplied checkpoint as θ_o for ``seed``.

        Refused if it does not fit the model, holds non-float or non-finite weights, or was made for another data
        set. A checkpoint without forgetset metadata names no data set, so it is only accepted when
        ``confirm_dataset`` names the setup's data set (the user's explicit "yes, it was trained on this").
        Everything derived from θ_o is keyed by its weights' hash, so no result of the old θ_o is reused.
        """
        check_seed(seed)
        check_input_file(path, "Checkpoint")
        state, meta = read_checkpoint(path)
        if "dataset" not in meta:
            if confirm_dataset != self.setup.dataset:
                raise ConfigError(
                    f"Checkpoint '{path}' carries no metadata saying which data set it was trained on. If it was "
                    f"trained on '{self.setup.dataset}', confirm it (CLI: --confirm-dataset {self.setup.dataset}; "
                    f"dashboard: tick the confirmation box).")
        model = build_model(self.model_name, self.ds.input_shape, self.ds.num_classes)
        load_state_into(model, state, meta, f"Checkpoint '{path}'", expect=self._checkpoint_meta())
        model = model.to(self.device).eval()
        key = self.original_key(seed)
        cfg = {**self.original_config(seed), "imported_from": str(path)}
        self.store.put("original", self.original_config(seed), model, fmt="model", replace=True,
                       metrics={"train_acc": 100 * accuracy(model, self.ds, "train"),
                                "test_acc": 100 * accuracy(model, self.ds, "test"), "imported": True},
                       meta=self._checkpoint_meta(), config_override=cfg)
        with self._lock:  # not needed for correctness (the memo is keyed by content), only to free memory
            for digest in [d for d, r in self._memo.items() if r.key == key]:
                del self._memo[digest]
        self.predictions(seed)
        return model

    # ------------------------------------------------------------------ scores
    def _score_params(self, name: str, params: dict | None) -> dict:
        spec = get_score(name)
        merged = {**(self.blo_params if name == "blo" else {}), **(params or {})}
        return spec.resolve_params(merged)

    def _score_ratio(self, name: str, ratio: float | None, params: dict) -> float | None:
        spec = get_score(name)
        if not spec.depends_on_ratio or params.get("granularity", "sample") == "class":
            return None
        forget_count(ratio, self.ds.n_train)
        return float(ratio)

    def score_config(self, name: str, seed: int, ratio: float | None, params: dict | None, original: str) -> dict:
        p = self._score_params(name, params)
        return {"kind": "score", "score": name, "params": p, "ratio": self._score_ratio(name, ratio, p),
                "seed": check_seed(seed), "original": original, **self.base_config}

    def score_cached(self, name: str, seed: int, ratio: float | None = None, params: dict | None = None,
                     ctx: RunContext = NULL_CONTEXT) -> Cached:
        spec = get_score(name)
        self.score_config(name, seed, ratio, params, "")  # validate the request before θ_o is trained
        cfg = self.score_config(name, seed, ratio, params, self.original_digest(seed, ctx.sub(0, 0.2)))
        p = cfg["params"]

        def compute() -> Computed:
            t0 = time.time()
            original = self.original(seed, ctx.sub(0, 0.2))
            result = spec.fn(ScoreInput(original, self.model_name, self.ds, self.train_cfg, seed, cfg["ratio"], p,
                                        ctx.sub(0.2, 1.0), store=self.store))
            values = np.asarray(result.values, dtype=np.float32)
            expect = self.ds.num_classes if p.get("granularity") == "class" else self.ds.n_train
            if values.shape != (expect,):
                raise ForgetsetError(f"Score '{name}' returned shape {values.shape}, expected ({expect},).")
            if not np.isfinite(values).all():
                raise DivergenceError(f"Score '{name}' produced non-finite values.")
            self._add_time(f"score {name}", time.time() - t0)
            return Computed({"values": values, **result.arrays},
                            {"mean": float(values.mean()), "std": float(values.std())},
                            {"score_s": time.time() - t0}, {"extras": result.extras})

        def decode(arrays: dict, meta: dict) -> ScoreResult:
            return ScoreResult(arrays.pop("values"), meta.get("extras", {}), arrays)

        res = self.store.cached("score", cfg, compute, fmt="arrays", on_log=ctx.log, cancel=ctx.check_cancel,
                                decode=decode)
        if not res.hit:
            v = res.value
            res.value = ScoreResult(np.asarray(v["values"]), res.meta.get("extras", {}),
                                    {k: a for k, a in v.items() if k != "values"})
        return res

    def score(self, name: str, seed: int, ratio: float | None = None, params: dict | None = None,
              ctx: RunContext = NULL_CONTEXT) -> ScoreResult:
        """Per-sample score ``name`` of θ_o (seed), cached. BLO also depends on the ratio and its parameters."""
        return self.score_cached(name, seed, ratio, params, ctx).value

    def find_score(self, name: str, seed: int, ratio: float | None = None, params: dict | None = None
                   ) -> dict | None:
        """The finished run of a score (None if θ_o or the score is not cached; nothing is computed)."""
        o = self.find_original(seed)
        if o is None:
            return None
        try:
            cfg = self.score_config(name, seed, ratio, params, run_digest(o))
        except ForgetsetError:
            return None
        run = self.store.done_run(config_key(cfg))
        return run if run is not None and (run.get("artifacts") or {}).get("main") else None

    # ------------------------------------------------------------------ forget sets
    def _selector_inputs(self, selector: str, ratio: float | None, seed: int, digest_of) -> dict[str, str]:
        """{score request: content hash} for every score the selector reads (empty for random / class)."""
        spec = parse_selector(selector)
        inputs: dict[str, str] = {}
        for name, by_ratio in spec.needs_scores():
            params = spec.score_params()
            r = ratio if (by_ratio and not spec.class_wise) else None
            label = name + (f"@{r:g}" if r is not None else "") + (
                "[class]" if spec.kind == "worst_class" else f"[n_shadow={params['n_shadow']}]" if "n_shadow" in params
                else "".join(f"[{k}={v}]" for k, v in sorted(params.items())))
            inputs[label] = digest_of(name, r, params)
        return inputs

    def forget_set_config(self, selector: str, ratio: float | None, seed: int, inputs: dict[str, str]) -> dict:
        spec = parse_selector(selector)
        r = None if spec.class_wise else float(ratio) if ratio is not None else None
        if not spec.class_wise:
            forget_count(r, self.ds.n_train)
        return {"kind": "forget_set", "selector": selector, "ratio": r, "seed": int(seed), "inputs": inputs,
                **self.base_config}

    def forget_set_cached(self, selector: str, ratio: float | None, seed: int,
                          ctx: RunContext = NULL_CONTEXT) -> Cached:
        spec = check_selector_for(selector, self.ds, ratio)  # before any score it needs is computed
        check_seed(seed)
        ratio = None if spec.class_wise else ratio
        inputs = self._selector_inputs(selector, ratio, seed,
                                       lambda n, r, p: self.score_cached(n, seed, r, p, ctx).digest)
        cfg = self.forget_set_config(selector, ratio, seed, inputs)

        def compute() -> Computed:
            def score_fn(name: str, r: float | None, params: dict) -> np.ndarray:
                return self.score(name, seed, r, params, ctx).values

            fs = select_forget_set(selector, self.ds, ratio, seed, score_fn)
            return Computed({"forget_idx": fs.forget_idx}, {"size": fs.size},
                            meta={"classes": fs.forget_classes, "info": fs.info, "selector": selector,
                                  "ratio": ratio, "seed": int(seed)})

        def decode(arrays: dict, meta: dict) -> ForgetSet:
            idx = arrays["forget_idx"].astype(np.int64)
            if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= self.ds.n_train)):
                raise CheckpointError("forget-set indices out of range")
            return ForgetSet(selector, ratio, seed, idx, meta.get("classes"), meta.get("info", {}))

        res = self.store.cached("forget_set", cfg, compute, fmt="arrays", decode=decode, on_log=ctx.log,
                                cancel=ctx.check_cancel)
        if not res.hit:
            m = res.meta
            res.value = ForgetSet(selector, ratio, seed, np.asarray(res.value["forget_idx"], dtype=np.int64),
                                  m.get("classes"), m.get("info", {}))
        res.value.info["key"] = res.key
        return res

    def forget_set(self, selector: str, ratio: float | None, seed: int, ctx: RunContext = NULL_CONTEXT) -> ForgetSet:
        return self.forget_set_cached(selector, ratio, seed, ctx).value

    def find_forget_set(self, selector: str, ratio: float | None, seed: int) -> dict | None:
        """The finished forget-set run (None if it or anything it needs is not cached)."""
        spec = parse_selector(selector)
        ratio = None if spec.class_wise else ratio

        def digest_of(n: str, r: float | None, p: dict) -> str:
            run = self.find_score(n, seed, r, p)
            if run is None:
                raise LookupError
            return run_digest(run)

        try:
            cfg = self.forget_set_config(selector, ratio, seed, self._selector_inputs(selector, ratio, seed, digest_of))
        except (LookupError, ForgetsetError):
            return None
        run = self.store.done_run(config_key(cfg))
        return run if run is not None and (run.get("artifacts") or {}).get("main") else None

    def load_forget_set(self, run: dict) -> ForgetSet | None:
        """The forget set of a finished forget-set run (None if its artifact is corrupt)."""
        try:
            arrays, meta = self.store.decode("arrays", run)
        except CorruptArtifact:
            return None
        c = run["config"]
        fs = ForgetSet(c["selector"], c.get("ratio"), int(c["seed"]), arrays["forget_idx"].astype(np.int64),
                       meta.get("classes"), meta.get("info", {}))
        fs.info["key"] = run["key"]
        return fs

    # ------------------------------------------------------------------ unlearning runs
    def run_config(self, method: str, selector: str, ratio: float | None, seed: int, params: dict | None,
                   forget_digest: str, original_digest: str | None) -> dict:
        m = get_method(method)
        resolved = {} if m.exact else m.resolve_params(self.ds, params, self.train_cfg)
        spec = parse_selector(selector)
        return {"kind": "unlearn", **self.base_config, "method": method, "params": resolved, "selector": selector,
                "ratio": None if spec.class_wise else float(ratio), "seed": int(seed),
                "blo": self.blo_params if spec.needs_scores() else None,
                "forget_set": forget_digest, "original": None if m.exact else original_digest}

    def _run_cached(self, method: str, selector: str, ratio: float | None, seed: int, params: dict | None,
                    ctx: RunContext, keep_model: bool, need_model: bool) -> Cached:
        m = get_method(method)
        # Validate the whole request before θ_o, the scores or the forget set are computed.
        if m.exact:
            validate_method_params(method, params)
        else:
            m.resolve_params(self.ds, params, self.train_cfg)
        check_selector_for(selector, self.ds, ratio)
        check_seed(seed)
        fs_res = self.forget_set_cached(selector, ratio, seed, ctx.sub(0, 0.3))
        fs = fs_res.value
        o_digest = None if m.exact else self.original_digest(seed, ctx.sub(0, 0.3))
        cfg = self.run_config(method, selector, ratio, seed, params, fs_res.digest, o_digest)
        key = config_key(cfg)
        if not need_model:
            done = self.store.done_run(key)
            if done is not None:
                return Cached(None, True, done)

        def compute() -> Computed:
            original = self.original(seed, ctx.sub(0, 0.3)) if not m.exact else None
            forget_t, retain_t, test_idx = self._split(fs, m, cfg["params"], seed)
            if original is None:  # Retrain needs no θ_o, but the interface carries one; a fresh model is fine
                original = new_model(self.model_name, self.ds, seed, self.device).eval()
            inp = UnlearnInput(original, self.model_name, self.ds, forget_t, retain_t, self.train_cfg, seed,
                               ctx.sub(0.3, 0.95), fs.forget_classes)
            inp.store = self.store  # wrappers that rank D_f by a stored score (RUM: the LiRA bank) read it here
            t0 = time.time()
            with count_steps() as steps:  # the budget as resolved: optimizer steps taken (unlearn_core/budget.py)
                model = m.unlearn(inp, cfg["params"])
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            runtime = time.time() - t0
            self._add_time(f"unlearn {method}", runtime)
            metrics, svc_s = self._evaluate(method, model, fs, forget_t, retain_t, test_idx, cfg["params"])
            metrics["unlearn_steps"] = float(steps[0])
            if not m.exact and m.test_indices_used(self.ds, cfg["params"], seed) is not None:
                metrics.update(self._retrain_on_split(selector, ratio, seed, fs, forget_t, retain_t, test_idx,
                                                      ctx.sub(0.95, 1.0)))
            ctx.progress(1.0, f"{method} on {selector} done")
            value = model if keep_model or need_model else {"metrics": metrics}
            return Computed(value, metrics, {"runtime_s": runtime, "mia_svc_s": svc_s}, self._checkpoint_meta())

        fmt = "model" if keep_model or need_model else "json"
        return self.store.cached("unlearn", cfg, compute, fmt=fmt, on_log=ctx.log, cancel=ctx.check_cancel,
                                 decode=(lambda st, meta: self._build(st, meta, f"Cached unlearned model {key[:10]}"))
                                 if fmt == "model" else None)

    def _retrain_on_split(self, selector: str, ratio: float | None, seed: int, fs: ForgetSet, forget_t, retain_t,
                          test_idx, ctx: RunContext) -> dict:
        """Retrain (same forget set) evaluated on the test samples a method that looked at part of the test split
        (DAU's D_v) is evaluated on, stored with that method's run as ``retrain_same_split_<metric>``: its gap to
        Retrain compares TA and MIA on the same samples (``results.with_gaps``)."""
        retrain = self.unlearned_model("retrain", selector, ratio, seed, None, ctx)
        rm, _ = self._evaluate("retrain", retrain, fs, forget_t, retain_t, test_idx)
        n_test = int(self.ds.x_test.shape[0])
        out = {f"retrain_same_split_{k}": float(rm[k]) for k in ("UA", "MIA", "RA", "TA")}
        out["test_split_size"] = float(n_test if test_idx is None else len(test_idx))
        return out

    def _split(self, fs: ForgetSet, m, params: dict, seed: int):
        """(forget, retain, test indices) of a run: class-wise TA on the remaining classes; never evaluate on
        test samples the method has seen (e.g. DAU's D_v)."""
        forget_t = torch.as_tensor(fs.forget_idx, device=self.device)
        mask = torch.ones(self.ds.n_train, dtype=torch.bool, device=self.device)
        mask[forget_t] = False
        retain_t = torch.nonzero(mask).squeeze(1)
        keep_test = np.ones(self.ds.x_test.shape[0], dtype=bool)
        if fs.forget_classes:
            keep_test &= ~np.isin(self.ds.y_test.cpu().numpy(), fs.forget_classes)
        used = m.test_indices_used(self.ds, params, seed)
        if used is not None:
            keep_test[np.asarray(used.cpu() if isinstance(used, torch.Tensor) else used, dtype=np.int64)] = False
        return forget_t, retain_t, (None if keep_test.all() else np.flatnonzero(keep_test))

    def _evaluate(self, method: str, model, fs: ForgetSet, forget_t, retain_t, test_idx,
                  params: dict | None = None) -> tuple[dict, float]:
        """The run-time metrics of θ_u (the on-demand MIA variants are not computed) and the seconds its MIA SVC
        fit took (stored with the run's timings: what the dashboard's estimate for the other variants reads)."""
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            raise DivergenceError(f"{method}: the unlearned model has non-finite weights (diverged). "
                                  f"Lower its learning rate.")
        t_eval = time.time()
        view = eval_view(model, self.ds, forget_t, retain_t, seed=fs.seed, test_idx=test_idx)
        metrics = evaluate_view(view)
        self._add_time("evaluation", time.time() - t_eval)
        if not all(np.isfinite(v) for v in metrics.values()):
            raise DivergenceError(f"{method}: evaluation gave non-finite metrics {metrics}.")
        metrics["forget_size"] = fs.size
        # The run's planned cost as a fraction of Retrain's, in sample passes (cost.method_passes): the budget the
        # method was given (budget.py), stored with the run next to its measured runtime.
        n_f, n_r = int(forget_t.numel()), int(retain_t.numel())
        metrics["cost_vs_retrain_plan"] = (method_passes(method, params or {}, n_f, n_r, self.train_cfg)
                                           / max(self.train_cfg.epochs * n_r, 1))
        metrics.update(metric_registry.versions_record(metrics))  # nothing while every metric is at version 1
        return metrics, float(view.seconds.get(variant_metric(DEFAULT_MIA), 0.0))

    # ------------------------------------------------------------------ metrics of cached runs
    def run_metrics(self, run: dict, ctx: RunContext = NULL_CONTEXT, extra=()) -> dict[str, float]:
        """The registered model metrics of a finished unlearning run that its row does not hold at their current
        version (a metric registered after the run, or whose version was raised), computed now from the run's
        stored model and stored as metric records (key: run key, metric, version; ``metrics.registry``). A record
        computed before is read, not recomputed; the run's own stored values are never touched. On-demand metrics
        (the non-default MIA variants) are included only when named in ``extra`` (a ConfigError names an unknown
        one). Empty when the row is complete (every run of today, ``extra`` empty). A run stored without its
        weights is recomputed (deterministic: the same numbers) to get them."""
        stored = run.get("metrics") or {}
        asked = set(metric_registry.check_model_metrics(extra))
        todo = [n for n in metric_registry.names("model")
                if (n in asked or not metric_registry.get(n).on_demand) and not metric_registry.is_current(n, stored)]
        out: dict[str, float] = {}
        missing = []
        for name in todo:
            got = self.store.lookup("metric", metric_registry.metric_record_config(run["key"], name), "json")
            if got is None:
                missing.append(name)
            else:
                out[name] = float(got[0]["value"])
        if not missing:
            return out
        view = self._run_view(run, ctx)
        for name in missing:
            def compute(name: str = name) -> Computed:
                value = compute_metrics(view, [name])[name]
                return Computed({"value": value}, {name: value})

            res = self.store.cached("metric", metric_registry.metric_record_config(run["key"], name), compute,
                                    fmt="json", on_log=ctx.log, cancel=ctx.check_cancel)
            out[name] = float(res.value["value"])
        return out

    def _run_view(self, run: dict, ctx: RunContext):
        """θ_u's evaluation view of a finished run: its stored model on its forget set's split (as at its end)."""
        cfg = run["config"]
        method, selector, ratio, seed = cfg["method"], cfg["selector"], cfg["ratio"], int(cfg["seed"])
        m = get_method(method)
        try:
            state, meta = self.store.decode("model", run)
            model = self._build(state, meta, f"Cached unlearned model {run['key'][:10]}")
        except (CorruptArtifact, CheckpointError):
            model = self.unlearned_model(method, selector, ratio, seed, cfg.get("params") or None, ctx)
        other = ConfigError(f"Run {run['key'][:10]} was made on another forget set than this setup's {selector} set "
                            f"(other BLO parameters?); compute its metrics in a setup made from the run "
                            f"(pipeline.setup_of_run).")
        if cfg.get("blo") is not None and cfg["blo"] != self.blo_params:
            raise other  # before a BLO of other parameters is computed
        fs_res = self.forget_set_cached(selector, ratio, seed, ctx)
        if cfg.get("forget_set") and fs_res.digest != cfg["forget_set"]:
            raise other
        fs = fs_res.value
        forget_t, retain_t, test_idx = self._split(fs, m, cfg.get("params") or {}, seed)
        return eval_view(model, self.ds, forget_t, retain_t, seed=fs.seed, test_idx=test_idx)

    # ------------------------------------------------------------------ results trained elsewhere (batched)
    def record_original(self, seed: int, model: Classifier, train_s: float) -> None:
        """Store a θ_o trained outside :meth:`original` (e.g. several seeds stacked in one vmapped ensemble)."""
        model = model.to(self.device).eval()
        self.store.put("original", self.original_config(seed), model, fmt="model",
                       metrics={"train_acc": 100 * accuracy(model, self.ds, "train"),
                                "test_acc": 100 * accuracy(model, self.ds, "test"), "batched": True},
                       timings={"train_s": train_s}, meta=self._checkpoint_meta())
        self._add_time("original model", train_s)
        self.predictions(seed)

    def record_retrain(self, selector: str, ratio: float | None, seed: int, model: Classifier,
                       runtime: float) -> None:
        """Store a Retrain run trained outside :meth:`run` (several forget sets stacked in one ensemble)."""
        m = get_method("retrain")
        fs_res = self.forget_set_cached(selector, ratio, seed)
        cfg = self.run_config("retrain", selector, ratio, seed, None, fs_res.digest, None)
        forget_t, retain_t, test_idx = self._split(fs_res.value, m, {}, seed)
        self._add_time("unlearn retrain", runtime)
        metrics, svc_s = self._evaluate("retrain", model.to(self.device).eval(), fs_res.value, forget_t, retain_t,
                                        test_idx)
        self.store.put("unlearn", cfg, model, fmt="model", metrics=metrics,
                       timings={"runtime_s": runtime, "mia_svc_s": svc_s},
                       meta=self._checkpoint_meta())

    def run(self, method: str, selector: str, ratio: float | None, seed: int, params: dict | None = None,
            ctx: RunContext = NULL_CONTEXT, keep_model: bool = True, extra_metrics=()) -> dict:
        """Unlearn with ``method`` on the (selector, ratio, seed) forget set and evaluate; cached. Returns a row
        (with the on-demand metrics named in ``extra_metrics``, computed after the run from its stored model)."""
        res = self._run_cached(method, selector, ratio, seed, params, ctx, keep_model, need_model=False)
        return run_row(res.run, self.run_metrics(res.run, ctx, extra_metrics))

    def on_demand_metrics(self, run_keys, names, ctx: RunContext = NULL_CONTEXT) -> dict[str, dict[str, float]]:
        """{run key: {metric: value}} of the on-demand (or any model) metrics ``names`` for finished unlearning runs
        of this setup: read where the run or a metric record holds them, else computed from the run's stored model
        (:meth:`run_metrics`). A ConfigError names an unknown metric or a key that is not a finished run here."""
        names = metric_registry.check_model_metrics(names)
        runs = []
        for key in run_keys:
            run = self.store.done_run(str(key))
            if run is None or run.get("kind") != "unlearn":
                raise ConfigError(f"No finished unlearning run with key {str(key)[:12]} in this store.")
            if self.resolved.key != run_setup_key(run["config"]):
                raise ConfigError(f"Run {str(key)[:12]} belongs to another setup than this pipeline's.")
            runs.append(run)
        out: dict[str, dict[str, float]] = {}
        for i, run in enumerate(runs):
            ctx.check_cancel()
            stored = run.get("metrics") or {}
            later = self.run_metrics(run, ctx.sub(i / len(runs), (i + 1) / len(runs)), names)
            out[run["key"]] = {n: float(later[n]) if n in later else float(stored[n]) for n in names}
            ctx.progress((i + 1) / len(runs), f"{i + 1}/{len(runs)} runs")
        return out

    def unlearned_model(self, method: str, selector: str, ratio: float | None, seed: int,
                        params: dict | None = None, ctx: RunContext = NULL_CONTEXT) -> Classifier:
        """The unlearned model of a run (recomputed if its stored weights are missing or corrupt)."""
        return self._run_cached(method, selector, ratio, seed, params, ctx, True, need_model=True).value

    def find_run(self, method: str, selector: str, ratio: float | None, seed: int,
                 params: dict | None = None) -> dict | None:
        """The finished run (None when it, its forget set or θ_o is not cached; nothing is computed)."""
        m = get_method(method)
        fs = self.find_forget_set(selector, ratio, seed)
        if fs is None:
            return None
        o = None
        if not m.exact:
            orun = self.find_original(seed)
            if orun is None:
                return None
            o = run_digest(orun)
        try:
            cfg = self.run_config(method, selector, ratio, seed, params, run_digest(fs), o)
        except ForgetsetError:
            return None
        return self.store.done_run(config_key(cfg))

    # ------------------------------------------------------------------ cheap derived data
    def predictions_config(self, original_run: dict, seed: int) -> dict:
        """The configuration (→ store key) of θ_o's stored per-sample predictions."""
        return {"kind": "predictions", "original": run_digest(original_run), **self.base_config, "seed": int(seed)}

    def predictions(self, seed: int) -> dict[str, np.ndarray] | None:
        """θ_o's prediction and confidence p_y on each training sample (from the stored θ_o; None if absent)."""
        orun = self.find_original(seed)
        if orun is None:
            return None
        cfg = self.predictions_config(orun, seed)

        def compute() -> Computed:
            model = self.original(seed)
            logits = predict_logits(model, self.ds, "train")
            p = torch.softmax(logits.float(), 1)
            y = self.ds.y_train.to(p.device)
            return Computed({"pred": logits.argmax(1).cpu().numpy().astype(np.int64),
                             "p_y": p.gather(1, y[:, None]).squeeze(1).cpu().numpy().astype(np.float32),
                             "p_max": p.max(1).values.cpu().numpy().astype(np.float32),
                             "loss": torch.nn.functional.cross_entropy(logits.float(), y, reduction="none")
                             .cpu().numpy().astype(np.float32)})

        return self.store.cached("predictions", cfg, compute, fmt="arrays").value
