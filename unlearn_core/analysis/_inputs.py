"""Shared pieces of the analysis views: cached steps in the Store, model references, features, naming.

Every analysis step is a run in the store (:meth:`Store.cached <unlearn_core.store.Store.cached>`), keyed by its
full configuration (the pipeline's ``base_config`` and the content hashes of the models and sets it reads), so
a finished step is served from the store and an interrupted one is recomputed. Analyses made of many expensive
pieces (the coreset curve) cache each piece separately, so an interrupted one resumes where it stopped.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..context import NULL_CONTEXT, RunContext
from ..errors import ConfigError
from ..models import Classifier
from ..results import cached_scores, forget_set_name, load_score
from ..selectors import ForgetSet, parse_selector
from ..training import as_index_tensor, get_batch

# Display names of the values of known spurious attributes (ds.attributes); others show as "attr=value".
ATTRIBUTE_VALUE_NAMES: dict[str, dict[int, str]] = {
    "red_ink": {0: "green ink", 1: "red ink"},  # biased_digits
    "male": {0: "female", 1: "male"},  # celeba
}


def attribute_value_name(attribute: str, value: int) -> str:
    return ATTRIBUTE_VALUE_NAMES.get(attribute, {}).get(int(value), f"{attribute}={int(value)}")


# ---------------------------------------------------------------------- keys
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

    def run(self, pipe) -> dict | None:
        """The finished run behind this model (θ_o's or the unlearning run's); None if it is not stored."""
        if self.is_original:
            return pipe.find_original(self.seed)
        if self.selector is None:
            raise ConfigError(f"Model '{self.method}' needs the forget set it unlearned (selector and ratio).")
        return pipe.find_run(self.method, self.selector, self.ratio, self.seed, self.params)

    def key(self, pipe) -> str | None:
        run = self.run(pipe)
        return run["key"] if run else None

    def is_available(self, pipe) -> bool:
        """True when the model's weights are stored (nothing would be trained to get it)."""
        run = self.run(pipe)
        return run is not None and ((run.get("artifacts") or {}).get("main") or {}).get("file", "").endswith(
            ".safetensors")

    def load(self, pipe, ctx: RunContext = NULL_CONTEXT, train_if_missing: bool = True) -> Classifier | None:
        """The model. θ_o is trained if missing (unless ``train_if_missing=False``); an unlearned model must come
        from a finished run (None if it is not in the store)."""
        if self.is_original:
            if not train_if_missing and not self.is_available(pipe):
                return None
            return pipe.original(self.seed, ctx)
        if not self.is_available(pipe):
            return None
        return pipe.unlearned_model(self.method, self.selector, self.ratio, self.seed, self.params, ctx)


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
            with torch.autocast(device.type, enabled=False):  # fp32, even under a caller's autocast
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
        items = [(forget_set_name(fs.selector, fs.ratio, fs.seed), fs) for fs in forget_sets]
    out: dict[str, np.ndarray] = {}
    for name, fs in items:
        idx = np.asarray(fs.forget_idx if isinstance(fs, ForgetSet) else fs, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ConfigError(f"Forget set '{name}' holds indices outside 0..{n - 1}.")
        out[str(name)] = idx
    return out


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


def load_cached_scores(pipe, seed: int = 0) -> dict[str, CachedScore]:
    """The values of every per-sample score of θ_o (``seed``) already in the store, by column name (the entries
    :func:`unlearn_core.results.cached_scores` lists and names); nothing is computed."""
    found: dict[str, CachedScore] = {}
    for e in cached_scores(pipe, seed):
        if not e["per_sample"]:
            continue
        loaded = load_score(pipe.store, e["run"])
        if loaded is None or loaded[0].shape != (pipe.ds.n_train,):
            continue
        found[e["column"]] = CachedScore(e["column"], e["name"], e["ratio"], e["params"],
                                         np.asarray(loaded[0], dtype=np.float64), e["hard_end"], e["key"], loaded[1])
    return dict(sorted(found.items()))
