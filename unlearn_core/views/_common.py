"""Shared pieces of the analysis views: cached steps in the Store, model references, features, naming.

Every view step is keyed by :func:`~unlearn_core.store.config_key` of its full configuration (the pipeline's
``base_config`` included), recorded as a run of kind ``view_<name>`` and its data saved as an artifact of the
same kind. A finished step is served from the store on the next call; an interrupted one leaves a run with
status ``running``/``failed``/``cancelled`` and is recomputed. Views made of many expensive pieces (the coreset
curve) cache each piece separately, so an interrupted view resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ..context import NULL_CONTEXT, RunContext
from ..device import autocast
from ..errors import CancelledError, CheckpointError, ConfigError
from ..models import Classifier
from ..selectors import ForgetSet, parse_selector
from ..config import config_key
from ..store import Store
from ..training import as_index_tensor, get_batch

# Display names of the values of known spurious attributes (ds.attributes); others show as "attr=value".
ATTRIBUTE_VALUE_NAMES: dict[str, dict[int, str]] = {
    "red_ink": {0: "green ink", 1: "red ink"},  # biased_digits
    "male": {0: "female", 1: "male"},  # celeba
}


def attribute_value_name(attribute: str, value: int) -> str:
    return ATTRIBUTE_VALUE_NAMES.get(attribute, {}).get(int(value), f"{attribute}={int(value)}")


# ---------------------------------------------------------------------- cached steps
def _err_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _fail_status(err: BaseException) -> str:
    return "cancelled" if isinstance(err, (CancelledError, KeyboardInterrupt)) else "failed"


def cached_arrays(store: Store, kind: str, config: dict,
                  compute: Callable[[], tuple[dict[str, np.ndarray], dict, dict]]
                  ) -> tuple[dict[str, np.ndarray], dict, bool, str]:
    """Serve ``config``'s arrays from the store or compute, save and record them.

    ``compute()`` returns (arrays, meta, metrics). Returns (arrays, meta, cache_hit, key).
    """
    key = config_key(config)
    if store.done_run(key) is not None:
        try:
            loaded = store.load_arrays(kind, key)
        except CheckpointError:
            loaded = None  # a corrupt cache file is recomputed, not trusted
        if loaded is not None:
            arrays, meta = loaded
            return arrays, meta, True, key
    store.start_run(key, kind, config)
    t0 = time.time()
    try:
        arrays, meta, metrics = compute()
    except BaseException as err:
        store.fail_run(key, _err_text(err), _fail_status(err))
        raise
    store.save_arrays(kind, key, arrays, meta)
    store.finish_run(key, kind, config, metrics, {"compute_s": time.time() - t0})
    return arrays, meta, False, key


def cached_table(store: Store, kind: str, config: dict, compute: Callable[[], pd.DataFrame]
                 ) -> tuple[pd.DataFrame, bool, str]:
    """Serve a DataFrame for ``config`` from the store (JSON records) or compute, save and record it."""
    key = config_key(config)
    if store.done_run(key) is not None:
        try:
            obj = store.load_json(kind, key)
        except CheckpointError:
            obj = None
        if obj is not None:
            return pd.DataFrame(obj["records"], columns=obj["columns"]), True, key
    store.start_run(key, kind, config)
    t0 = time.time()
    try:
        df = compute()
    except BaseException as err:
        store.fail_run(key, _err_text(err), _fail_status(err))
        raise
    store.save_json(kind, key, {"columns": list(df.columns), "records": df.to_dict("records")})
    store.finish_run(key, kind, config, {"rows": len(df)}, {"compute_s": time.time() - t0})
    return df, False, key


def index_digest(idx: np.ndarray) -> str:
    """Content hash of an index set (keys steps on exactly which samples they used)."""
    return hashlib.sha256(np.asarray(idx, dtype=np.int64).tobytes()).hexdigest()[:16]


# ---------------------------------------------------------------------- models
@dataclass
class ModelRef:
    """Names a model the pipeline can produce: θ_o (``method="original"``) or a finished unlearning run.

    ``ModelRef()`` is θ_o of seed 0; ``ModelRef("retrain", "worst", 0.1)`` is Retrain on the 10% worst-case set;
    ``ModelRef("ft", "random", 0.1, seed=1, params={...})`` an FT run with those hyperparameters.
    """

    method: str = "original"
    selector: str | None = None
    ratio: float | None = None
    seed: int = 0
    params: dict | None = None

    @property
    def is_original(self) -> bool:
        return self.method == "original"

    @property
    def label(self) -> str:
        if self.is_original:
            return f"original (seed {self.seed})"
        where = self.selector if self.ratio is None or parse_selector(self.selector).class_wise \
            else f"{self.selector} {self.ratio:g}"
        extra = " (custom params)" if self.params else ""
        return f"{self.method} on {where} (seed {self.seed}){extra}"

    def key(self, pipe) -> str:
        if self.is_original:
            return pipe.original_key(self.seed)
        if self.selector is None:
            raise ConfigError(f"Model '{self.method}' needs the forget set it unlearned (selector and ratio).")
        return pipe.run_config(self.method, self.selector, self.ratio, self.seed, self.params)[0]

    def is_available(self, pipe) -> bool:
        """True when the model is cached (nothing would be trained to get it)."""
        if self.is_original:
            key = pipe.original_key(self.seed)
            return key in pipe._memo or (pipe.store.done_run(key) is not None
                                         and pipe.store.model_path("model", key).is_file())
        return pipe.store.model_path("unlearned", self.key(pipe)).is_file()

    def load(self, pipe, ctx: RunContext = NULL_CONTEXT, train_if_missing: bool = True) -> Classifier | None:
        """The model; θ_o is trained if missing (unless ``train_if_missing=False``); an unlearned model must
        come from a finished run (None if it is not in the store)."""
        if self.is_original:
            if not train_if_missing and not self.is_available(pipe):
                return None
            return pipe.original(self.seed, ctx)
        if not self.is_available(pipe):
            return None
        return pipe.unlearned_model(self.method, self.selector, self.ratio, self.seed, self.params)


def as_model_ref(ref: "ModelRef | str | tuple | None", seed: int = 0) -> ModelRef:
    """Accept a ModelRef, "original", or a tuple (method, selector, ratio[, seed[, params]])."""
    if ref is None or ref == "original":
        return ModelRef(seed=seed)
    if isinstance(ref, ModelRef):
        return ref
    if isinstance(ref, (tuple, list)) and 3 <= len(ref) <= 5:
        method, selector, ratio, *rest = ref
        return ModelRef(method, selector, ratio, int(rest[0]) if rest else seed, rest[1] if len(rest) > 1 else None)
    raise ConfigError(f"Cannot read {ref!r} as a model: use 'original', a ModelRef or (method, selector, ratio).")


@torch.no_grad()
def penultimate_features(model: Classifier, ds, split: str = "train", idx=None, batch_size: int = 1024
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(features, logits) of ``model`` for ``idx`` of ``split``: ``model.features`` (penultimate layer) and the
    head's logits, computed batched on the data's device in eval mode. float32 numpy arrays."""
    x, _ = ds.split(split)
    device = x.device
    idx_t = torch.arange(x.shape[0], device=device) if idx is None else as_index_tensor(idx, device)
    was_training = model.training
    model.eval()
    feats, logits = [], []
    try:
        for s in range(0, idx_t.numel(), batch_size):
            xb, _ = get_batch(ds, idx_t[s:s + batch_size], split=split)
            with autocast(device):
                f = model.features(xb)
                out = model.head(f)
            feats.append(f.float().cpu())
            logits.append(out.float().cpu())
    finally:
        model.train(was_training)
    if not feats:
        return np.zeros((0, 0), np.float32), np.zeros((0, ds.num_classes), np.float32)
    return torch.cat(feats).numpy(), torch.cat(logits).numpy()


# ---------------------------------------------------------------------- forget sets
def named_index_sets(forget_sets: "Mapping[str, Any] | Sequence[ForgetSet] | None", n: int
                     ) -> dict[str, np.ndarray]:
    """Normalise forget sets given as {name: ForgetSet | indices} or [ForgetSet, ...] to {name: indices}."""
    if not forget_sets:
        return {}
    if isinstance(forget_sets, Mapping):
        items = list(forget_sets.items())
    else:
        items = [(forget_set_name(fs), fs) for fs in forget_sets]
    out: dict[str, np.ndarray] = {}
    for name, fs in items:
        idx = np.asarray(fs.forget_idx if isinstance(fs, ForgetSet) else fs, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ConfigError(f"Forget set '{name}' holds indices outside 0..{n - 1}.")
        out[str(name)] = idx
    return out


def forget_set_name(fs: ForgetSet) -> str:
    if fs.ratio is None:
        return f"{fs.selector} (seed {fs.seed})"
    return f"{fs.selector} {fs.ratio:g} (seed {fs.seed})"


def check_train_scores(scores: Mapping[str, np.ndarray] | None, n: int) -> dict[str, np.ndarray]:
    out = {}
    for name, v in (scores or {}).items():
        arr = np.asarray(getattr(v, "values", v), dtype=np.float64).reshape(-1)
        if arr.shape != (n,):
            raise ConfigError(f"Score '{name}' has {arr.size} values; the training set has {n} samples.")
        out[str(name)] = arr
    return out


@dataclass
class CachedScore:
    """A per-sample score found in the store."""

    label: str  # display name, e.g. "loss", "blo@0.1"
    name: str  # registry name
    ratio: float | None
    params: dict
    values: np.ndarray
    hard_end: str | None
    key: str
    extras: dict = field(default_factory=dict)


def cached_scores(pipe, seed: int = 0) -> dict[str, CachedScore]:
    """Every per-sample score of θ_o (``seed``) already computed in the pipeline's store; nothing is computed.

    Labels follow the dashboard's column names (``views_data.cached_scores``): the score's name, ``@ratio`` for
    ratio-dependent scores (BLO), then ``k=v`` for each parameter that differs from the score's defaults;
    the newest computation of a label wins. Class-level scores (one value per class) are left out.
    """
    from ..scores import get_score

    base = pipe.base_config
    found: dict[str, CachedScore] = {}
    runs = sorted(pipe.store.list_runs("score", "done"), key=lambda r: r.get("finished") or 0)
    for run in runs:
        cfg = run["config"]
        if cfg.get("seed") != seed or any(cfg.get(k) != base[k] for k in base):
            continue
        params = cfg.get("params") or {}
        if params.get("granularity", "sample") == "class":
            continue
        name, ratio = cfg["score"], cfg.get("ratio")
        try:
            spec = get_score(name)
        except ConfigError:
            continue  # a score whose module is gone
        if not spec.depends_on_ratio:
            ratio = None
        try:
            loaded = pipe.store.load_arrays("score", run["key"])
        except CheckpointError:
            continue
        if loaded is None:
            continue
        arrays, meta = loaded
        values = np.asarray(arrays.get("values"))
        if values.shape != (pipe.ds.n_train,):
            continue
        label = name if ratio is None else f"{name}@{ratio:g}"
        nondefault = {k: v for k, v in params.items() if spec.defaults.get(k) != v}
        if nondefault:
            label += " " + ",".join(f"{k}={v}" for k, v in sorted(nondefault.items()))
        found[label] = CachedScore(label, name, ratio, params, values.astype(np.float64), spec.hard_end,
                                   run["key"], meta.get("extras", {}))
    return dict(sorted(found.items()))
