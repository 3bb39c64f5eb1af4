"""One training sample under the microscope: label, scores with ranks, forget-set membership, predictions.

Nothing expensive is computed here: score values come from the arrays the caller passes or from the scores
already cached in the pipeline's store (:func:`~unlearn_core.analysis._inputs.load_cached_scores`); models are loaded
only when they are already stored (θ_o, Retrain and the given unlearning runs), and a model that is not stored
is listed as unavailable rather than trained. Each model is loaded once per pipeline (memoised), so stepping
through samples costs one forward pass of one image per model.

Ranks: ``rank`` is the position when sorted from the highest value (1 = highest; ties share the best rank);
``percentile`` is the mid-rank percentile (100·(#lower + ½·#equal)/N). ``hard_rank`` counts from the end the
score marks as hard to forget (``hard_end``: low loss, high BLO weight), so hard_rank 1 is the hardest sample.
"""
from __future__ import annotations

import re
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import CheckpointError, ConfigError
from ..selectors import ForgetSet
from ..store import run_digest
from ..results import forget_set_name
from ._inputs import ModelRef, as_model_ref, check_train_scores, load_cached_scores, named_index_sets



@dataclass
class SampleReport:
    index: int
    label: int
    label_name: str
    attributes: dict[str, int]
    image: np.ndarray  # uint8 (H, W, C) for display
    scores: pd.DataFrame  # score, value, rank, percentile, hard_end, hard_rank, n
    forget_sets: pd.DataFrame  # set, size, contains
    predictions: pd.DataFrame  # model, ..., available, prediction, prediction_name, confidence, p_true, correct
    notes: list[str] = field(default_factory=list)


def rank_info(values: np.ndarray, i: int, hard_end: str | None = None, tiebreak: np.ndarray | None = None) -> dict:
    """Rank (1 = highest), mid-rank percentile and hard-to-forget rank of sample ``i`` under ``values``.

    ``hard_rank`` follows the project's one rank rule (:func:`unlearn_core.results.hard_ranks`: ties broken by
    θ_o's loss, then index), so it matches the order of the Scores page's galleries.
    """
    from ..results import hard_ranks

    v = np.asarray(values, dtype=np.float64)
    x = v[i]
    if not np.isfinite(x):
        return {"value": float(x), "rank": np.nan, "percentile": np.nan, "hard_rank": np.nan, "n": len(v)}
    greater, lower = int(np.sum(v > x)), int(np.sum(v < x))
    equal = len(v) - greater - lower
    hard = int(hard_ranks(v, hard_end, tiebreak)[i]) if hard_end in ("low", "high") else np.nan
    return {"value": float(x), "rank": greater + 1, "percentile": 100.0 * (lower + 0.5 * equal) / len(v),
            "hard_rank": hard, "n": len(v)}


_MODEL_MEMO: "weakref.WeakKeyDictionary[Any, OrderedDict]" = weakref.WeakKeyDictionary()
MODEL_MEMO_SIZE = 8  # loaded models kept per pipeline (least recently used dropped first)


def _load_ref(pipe, ref: ModelRef):
    """A stored model (memoised per pipeline, LRU) or None when it is not stored; never trains. Memoised by the
    content hash of the stored weights, not by the run's name: a θ_o imported meanwhile is loaded afresh."""
    run = ref.run(pipe)
    key = (ref.method, run["key"] if run else None, run_digest(run) if run else None)
    memo = _MODEL_MEMO.setdefault(pipe, OrderedDict())
    if key in memo:
        memo.move_to_end(key)
        return memo[key]
    try:
        model = ref.load(pipe, train_if_missing=False)
    except CheckpointError:
        model = None
    if model is not None:  # a missing model is looked up again next time (its run may have finished since)
        memo[key] = model
        while len(memo) > MODEL_MEMO_SIZE:
            memo.popitem(last=False)
    return model


def inspect_sample(pipe, index: int, seed: int = 0, scores: Mapping[str, Any] | None = None,
                   forget_sets: "Mapping[str, Any] | Sequence[ForgetSet] | None" = None,
                   models: Sequence["ModelRef | tuple"] = (), include_retrain: bool = True,
                   use_cached_scores: bool = True) -> SampleReport:
    """Everything known about training sample ``index`` (see module doc).

    ``scores``: {name: values (N,) or ScoreResult}; with ``use_cached_scores`` every score of θ_o (``seed``)
    already in the store is added (given arrays win on a name clash). ``forget_sets``: {name: ForgetSet or
    indices} or [ForgetSet]. ``models``: unlearned models as :class:`ModelRef` or (method, selector, ratio[,
    seed[, params]]). Rows for θ_o (``seed``) and — with ``include_retrain`` — Retrain on each forget set named by
    a given ForgetSet or model are added.
    """
    ds = pipe.ds
    n = ds.n_train
    try:
        index = int(index)
    except (TypeError, ValueError):
        raise ConfigError(f"Sample index must be an integer, got {index!r}.") from None
    if not 0 <= index < n:
        raise ConfigError(f"Sample index {index} is out of range: the training set has samples 0..{n - 1}.")
    label = int(ds.y_train[index].item())
    notes: list[str] = []

    # ---- scores
    from ..scores import SCORES, load_all

    load_all()
    entries: dict[str, tuple[np.ndarray, str | None]] = {}
    if use_cached_scores:
        for lab, cs in load_cached_scores(pipe, seed).items():
            entries[lab] = (cs.values, cs.hard_end)
    for name, values in check_train_scores(scores, n).items():
        spec = SCORES.get(re.split(r"[@ \[]", name)[0])
        entries[name] = (values, spec.hard_end if spec else None)
    from ..results import original_predictions

    pred = original_predictions(pipe, seed)
    loss = pred.get("loss") if pred is not None else None
    score_rows = [{"score": name, **rank_info(v, index, hard, loss if name != "loss" else None)} | {"hard_end": hard}
                  for name, (v, hard) in entries.items()]
    score_df = pd.DataFrame(score_rows, columns=["score", "value", "rank", "percentile", "hard_end", "hard_rank",
                                                 "n"])
    if score_df.empty:
        notes.append("No scores are computed for this model yet.")

    # ---- forget sets
    sets = named_index_sets(forget_sets, n)
    fs_df = pd.DataFrame([{"set": name, "size": len(idx), "contains": bool(np.isin(index, idx))}
                          for name, idx in sets.items()], columns=["set", "size", "contains"])

    # ---- predictions
    refs: list[ModelRef] = [ModelRef(seed=seed)]
    given = [as_model_ref(m, seed) for m in models]
    named_fs = _iter_sets(forget_sets)
    if include_retrain:
        where = [(fs.selector, fs.ratio, fs.seed) for _, fs in named_fs]
        where += [(r.selector, r.ratio, r.seed) for r in given if not r.is_original]
        for sel, ratio, s in dict.fromkeys(where):
            refs.append(ModelRef("retrain", sel, ratio, s))
    refs += [r for r in given if r not in refs]
    x, _ = ds.split("train")
    xb = ds.normalize(x[index:index + 1])
    pred_rows = []
    for ref in refs:
        row = {"model": ref.label, "method": ref.method, "selector": ref.selector, "ratio": ref.ratio,
               "seed": ref.seed, "available": False, "prediction": None, "prediction_name": None,
               "confidence": np.nan, "p_true": np.nan, "correct": None,
               "in_forget_set": None}
        if not ref.is_original:
            fs_key = next((nm for nm, fs in named_fs
                           if (fs.selector, fs.ratio, fs.seed) == (ref.selector, ref.ratio, ref.seed)), None)
            if fs_key is not None:
                row["in_forget_set"] = bool(np.isin(index, sets[fs_key]))
        model = _load_ref(pipe, ref)
        if model is not None:
            with torch.no_grad():
                prob = torch.softmax(model.eval()(xb).float(), dim=1)[0].cpu().numpy()
            p = int(prob.argmax())
            row.update(available=True, prediction=p, prediction_name=ds.classes[p], confidence=float(prob[p]),
                       p_true=float(prob[label]), correct=p == label)
        pred_rows.append(row)
    pred_df = pd.DataFrame(pred_rows)
    pred_df["prediction"] = pred_df["prediction"].astype("Int64")  # stays integer next to unavailable rows
    missing = pred_df.loc[~pred_df["available"], "model"].tolist()
    if missing:
        notes.append("Not in the store (run them first): " + "; ".join(missing) + ".")
    attributes = {k: int(np.asarray(v)[index]) for k, v in ds.attributes.items()}
    return SampleReport(index, label, ds.classes[label], attributes, ds.images_hwc("train", [index])[0],
                        score_df, fs_df, pred_df, notes)


def _iter_sets(forget_sets) -> list[tuple[str, ForgetSet]]:
    if not forget_sets:
        return []
    if isinstance(forget_sets, Mapping):
        return [(k, v) for k, v in forget_sets.items() if isinstance(v, ForgetSet)]
    return [(forget_set_name(fs.selector, fs.ratio, fs.seed), fs) for fs in forget_sets if isinstance(fs, ForgetSet)]
