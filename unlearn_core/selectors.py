"""Forget-set selectors (science.md "Selectors").

Selector names (strings, so the CLI and dashboard share one syntax):

- ``random``                 seeded uniform sample of m = round(ratio·N) training samples
- ``worst``                  top-m of the BLO weights w (worst case, Fan et al., Challenging Forgets)
- ``easiest``                bottom-m of w (the easiest set)
- ``top:SCORE`` / ``bottom:SCORE``   m samples with the highest / lowest value of any registered score
- ``top:SCORE:METHOD``       the same for a score measured under an unlearning method (its ``method`` parameter), e.g.
  ``top:eps_hardness:ga`` = the samples hardest to forget by ε under GA (``scores/eps_hardness.py``)
- ``class:C1,C2``            every training sample of the listed classes (class-wise forgetting; ratio ignored)
- ``worst_class[:k]``        the k worst-case classes by class-level BLO (w over classes)
- ``mixed:F``                the worst-case set with a fraction F of it replaced by random samples (Fan et al., Challenging Forgets App. C.7)
- ``mem:G[:S]``              Zhao et al.'s data-set-level memorization groups (G = low, mid, high, or mix = a third
  of each), memorization from S shadow models (default: the score's 16); see
  :func:`unlearn_core.scores.memorization.memorization_groups`

Append ``+strat`` (e.g. ``random+strat``, ``top:loss+strat``) to select per class, in proportion to class sizes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .data import ImageDataset
from .errors import ConfigError
from .scores import get_score, score_names
from .scores.memorization import MEM_GROUPS, memorization_groups, mix_sizes
from .validation import forget_count

ScoreFn = Callable[[str, "float | None", dict], np.ndarray]  # (score name, ratio, params) -> values (N,)

SELECTOR_HELP = {
    "random": "Random samples (seeded)",
    "worst": "Worst case: top-m BLO weight (hardest to forget)",
    "easiest": "Easiest: bottom-m BLO weight",
    "top:SCORE": "Highest values of a score",
    "bottom:SCORE": "Lowest values of a score",
    "class:C[,C]": "Whole classes (class-wise forgetting)",
    "worst_class[:k]": "k worst-case classes (class-level BLO)",
    "mixed:F": "Worst-case set with a fraction F replaced by random samples",
    "mem:G[:S]": "Memorization group low / mid / high, or mix (a third of each; Zhao et al.), from S shadow models",
}
MEM_CHOICES = ("low", "mid", "high", "mix")


@dataclass
class ForgetSet:
    selector: str
    ratio: float | None
    seed: int
    forget_idx: np.ndarray  # sorted int64 training-set indices
    forget_classes: list[int] | None = None  # set for class-wise forgetting
    info: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(len(self.forget_idx))


@dataclass(frozen=True)
class ScoreRequest:
    """A score a selector reads: its name, whether it is computed per forget ratio (BLO's sample-level weights),
    and the parameters the selector fixes (the class-level BLO of ``worst_class:k``, the bank size of ``mem:G:S``)."""

    score: str
    by_ratio: bool = False
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def params_dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class SelectorSpec:
    """A parsed selector (built by :func:`parse_selector`; a SelectorSpec that exists is valid)."""

    kind: str  # random | worst | easiest | top | bottom | class | worst_class | mixed | mem
    arg: str | None = None
    stratified: bool = False
    score_method: str | None = None  # top:SCORE:METHOD: the method the score is measured under

    @property
    def class_wise(self) -> bool:
        return self.kind in ("class", "worst_class")

    @property
    def name(self) -> str:
        """The canonical selector name ('worst', 'top:loss+strat', 'class:1,7', ...)."""
        return (self.kind + (f":{self.arg}" if self.arg is not None else "")
                + (f":{self.score_method}" if self.score_method else "") + ("+strat" if self.stratified else ""))

    @property
    def score_requests(self) -> tuple[ScoreRequest, ...]:
        """The scores this selector reads, with the parameters it fixes (the one place they are written)."""
        if self.kind in ("worst", "easiest", "mixed"):
            return (ScoreRequest("blo", True),)
        if self.kind in ("top", "bottom"):  # top:SCORE:METHOD: the score measured under that unlearning method
            return (ScoreRequest(self.arg, False, (("method", self.score_method),) if self.score_method else ()),)
        if self.kind == "worst_class":
            return (ScoreRequest("blo", False, (("granularity", "class"), ("n_classes", int(self.arg)))),)
        if self.kind == "mem":
            shadows = (("n_shadow", int(self.arg.split(":")[1])),) if ":" in (self.arg or "") else ()
            return (ScoreRequest("memorization", False, shadows),)
        return ()

    def needs_scores(self) -> list[tuple[str, bool]]:
        """(score name, depends on ratio) pairs this selector needs (see :attr:`score_requests`)."""
        return [(r.score, r.by_ratio) for r in self.score_requests]

    def score_params(self) -> dict:
        """Parameters of the score the selector reads (see :attr:`score_requests`)."""
        return self.score_requests[0].params_dict if self.score_requests else {}


def parse_selector(name: "str | SelectorSpec") -> SelectorSpec:
    """Parse and validate a selector name (see module docstring); a :class:`SelectorSpec` is returned as is."""
    if isinstance(name, SelectorSpec):
        return name
    try:
        return _parse_selector(name)
    except ConfigError as err:
        raise err.with_field("selector") from None


def _parse_selector(name: str) -> SelectorSpec:
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("A selector name is required (e.g. random, worst, easiest, top:loss, class:3).")
    raw = name.strip()
    stratified = raw.endswith("+strat")
    if stratified:
        raw = raw[: -len("+strat")]
    kind, _, arg = raw.partition(":")
    kind = {"worst_case": "worst", "worst-case": "worst", "easy": "easiest"}.get(kind, kind)
    if kind in ("random", "worst", "easiest"):
        if arg:
            raise ConfigError(f"Selector '{name}' takes no argument.")
        return SelectorSpec(kind, None, stratified)
    if kind in ("top", "bottom"):
        arg, _, method = arg.partition(":")
        if arg not in score_names():
            raise ConfigError(f"Selector '{name}': unknown score '{arg}'. Known scores: {', '.join(score_names())}.")
        if method:
            if "method" not in get_score(arg).defaults:
                raise ConfigError(f"Selector '{name}': score '{arg}' takes no method (only scores measured under "
                                  f"an unlearning method do, e.g. top:eps_hardness:ga).")
            return SelectorSpec(kind, arg, stratified, method)
        return SelectorSpec(kind, arg, stratified)
    if kind == "class":
        try:
            classes = [int(c) for c in arg.split(",") if c.strip() != ""]
        except ValueError:
            raise ConfigError(f"Selector '{name}': class ids must be integers, e.g. class:3 or class:1,7.") from None
        if not classes:
            raise ConfigError(f"Selector '{name}' needs at least one class id, e.g. class:3.")
        return SelectorSpec("class", ",".join(map(str, sorted(set(classes)))), False)
    if kind == "worst_class":
        k = arg or "1"
        if not k.isdigit() or int(k) < 1:
            raise ConfigError(f"Selector '{name}': k must be a positive integer (worst_class:2).")
        return SelectorSpec("worst_class", k, False)
    if kind == "mem":
        group, _, shadows = arg.partition(":")
        if group not in MEM_CHOICES:
            raise ConfigError(f"Selector '{name}': the memorization group must be one of {', '.join(MEM_CHOICES)} "
                              f"(e.g. mem:mix or mem:mix:64).")
        if shadows and (not shadows.isdigit() or int(shadows) < 4 or int(shadows) % 2):
            raise ConfigError(f"Selector '{name}': the shadow-model count must be an even number ≥ 4 (e.g. mem:mix:64).")
        return SelectorSpec("mem", group + (f":{int(shadows)}" if shadows else ""), stratified)
    if kind == "mixed":
        try:
            frac = float(arg)
        except ValueError:
            raise ConfigError(f"Selector '{name}' needs a fraction, e.g. mixed:0.5.") from None
        if not 0 <= frac <= 1:
            raise ConfigError(f"Selector '{name}': the random fraction must be in [0, 1].")
        return SelectorSpec("mixed", str(frac), stratified)
    raise ConfigError(f"Unknown selector '{name}'. Use one of: {', '.join(SELECTOR_HELP)}.")


def check_selector_for(selector: "str | SelectorSpec", ds: ImageDataset, ratio: float | None) -> SelectorSpec:
    """Everything about a selector that can be checked against the data set before any score is computed: class
    ids in range, k below the number of classes, and the ratio giving a forget set of 1..N-1 samples."""
    spec = parse_selector(selector)
    if spec.kind == "class":
        classes = [int(c) for c in spec.arg.split(",")]
        bad = [c for c in classes if not 0 <= c < ds.num_classes]
        if bad:
            raise ConfigError(f"Class ids {bad} are out of range (the data set has classes 0..{ds.num_classes - 1}).")
        if len(classes) >= ds.num_classes:
            raise ConfigError("Class-wise forgetting cannot remove every class.")
    elif spec.kind == "worst_class":
        if int(spec.arg) >= ds.num_classes:
            raise ConfigError(f"worst_class:{spec.arg} would remove every class (the data set has {ds.num_classes}); "
                              f"use worst_class:1 .. worst_class:{ds.num_classes - 1}.")
    else:
        forget_count(ratio, ds.n_train)
    return spec


def _top_m(values: np.ndarray, m: int, highest: bool, y: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Indices of the m highest (or lowest) values; ties broken randomly; per class if ``y`` is given."""
    jitter = rng.random(len(values)) * 1e-12  # random tie-breaking without changing the order of distinct values
    key = -(values + jitter) if highest else (values + jitter)
    if y is None:
        return np.argsort(key, kind="stable")[:m]
    return _stratified(lambda idx, k: idx[np.argsort(key[idx], kind="stable")[:k]], y, m)


def _stratified(pick: Callable[[np.ndarray, int], np.ndarray], y: np.ndarray, m: int) -> np.ndarray:
    """Split m over classes in proportion to their sizes (largest remainders) and pick within each class."""
    classes, counts = np.unique(y, return_counts=True)
    exact = m * counts / counts.sum()
    alloc = np.floor(exact).astype(int)
    alloc[np.argsort(-(exact - alloc))[: m - alloc.sum()]] += 1
    parts = [pick(np.flatnonzero(y == c), int(k)) for c, k in zip(classes, alloc) if k > 0]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def select_forget_set(selector: "str | SelectorSpec", ds: ImageDataset, ratio: float | None, seed: int, score_fn: ScoreFn) -> ForgetSet:
    """Build the forget set for ``selector`` at ``ratio`` (ignored for class-wise selectors)."""
    spec = parse_selector(selector)
    selector = selector if isinstance(selector, str) else spec.name
    n = ds.n_train
    y = ds.y_train.cpu().numpy()
    rng = np.random.default_rng(seed + 104729)
    info: dict = {"selector_kind": spec.kind}
    classes: list[int] | None = None

    check_selector_for(spec, ds, ratio)
    if spec.kind == "class":
        classes = [int(c) for c in spec.arg.split(",")]
        idx = np.flatnonzero(np.isin(y, classes))
    elif spec.kind == "worst_class":
        k = int(spec.arg)
        w = score_fn("blo", None, spec.score_params())  # the request the grid and the pipeline make
        classes = sorted(int(c) for c in np.argsort(-w, kind="stable")[:k])
        idx = np.flatnonzero(np.isin(y, classes))
        info["class_weights"] = [float(v) for v in w]
    else:
        m = forget_count(ratio, n)
        strat_y = y if spec.stratified else None
        if spec.kind == "random":
            idx = (_stratified(lambda ids, k: rng.choice(ids, size=k, replace=False), y, m) if spec.stratified
                   else rng.choice(n, size=m, replace=False))
        elif spec.kind in ("worst", "easiest"):
            w = score_fn("blo", ratio, {})
            idx = _top_m(w, m, highest=spec.kind == "worst", y=strat_y, rng=rng)
        elif spec.kind in ("top", "bottom"):
            values = score_fn(spec.arg, None, spec.score_params())
            idx = _top_m(values, m, highest=spec.kind == "top", y=strat_y, rng=rng)
        elif spec.kind == "mem":
            if spec.stratified:
                raise ConfigError(f"Selector '{selector}': memorization groups are data-set-level (no +strat).")
            group = spec.arg.split(":")[0]
            values = score_fn("memorization", None, spec.score_params())
            sizes = mix_sizes(m) if group == "mix" else {group: m}
            groups = memorization_groups(values, sizes, rng)
            idx = np.concatenate([groups[g] for g in MEM_GROUPS])
            info["mem_groups"] = {g: {"size": int(len(groups[g])),
                                      "min": float(values[groups[g]].min()) if len(groups[g]) else None,
                                      "max": float(values[groups[g]].max()) if len(groups[g]) else None}
                                  for g in MEM_GROUPS}
        elif spec.kind == "mixed":
            frac = float(spec.arg)
            w = score_fn("blo", ratio, {})
            worst = _top_m(w, m, highest=True, y=strat_y, rng=rng)
            n_rand = int(round(frac * m))
            keep = rng.permutation(worst)[: m - n_rand]
            pool = np.setdiff1d(np.arange(n), keep)
            idx = np.concatenate([keep, rng.choice(pool, size=n_rand, replace=False)])
        else:  # pragma: no cover - parse_selector rejects everything else
            raise ConfigError(f"Unknown selector '{selector}'.")
    idx = np.sort(np.asarray(idx, dtype=np.int64))
    if len(idx) == 0:
        raise ConfigError(f"Selector '{selector}' produced an empty forget set.")
    if len(idx) >= n:
        raise ConfigError(f"Selector '{selector}' would forget the whole training set.")
    info["class_histogram"] = np.bincount(y[idx], minlength=ds.num_classes).tolist()
    return ForgetSet(selector, ratio, seed, idx, classes, info)


SELECTOR_NAMES = {"random": "random", "worst": "worst-case", "easiest": "easiest", "mixed": "mixed",
                  "top": "highest", "bottom": "lowest", "class": "class", "worst_class": "worst-case classes",
                  "mem": "memorization"}


def selector_label(selector: str) -> str:
    """How a selector is named to users: 'worst-case', 'lowest loss', 'class 3', 'random (stratified)'."""
    try:
        spec = parse_selector(selector)
    except ConfigError:
        return str(selector)
    base = SELECTOR_NAMES.get(spec.kind, spec.kind)
    if spec.kind in ("top", "bottom"):
        base = f"{base} {spec.arg}" + (f" under {spec.score_method}" if spec.score_method else "")
    elif spec.kind == "class":
        base = ("classes " if "," in spec.arg else "class ") + spec.arg.replace(",", ", ")
    elif spec.kind == "worst_class":
        base = f"{spec.arg} worst-case class" + ("es" if spec.arg != "1" else "")
    elif spec.kind == "mixed":
        base = f"worst-case with {float(spec.arg):.0%} random"
    elif spec.kind == "mem":
        group, _, shadows = spec.arg.partition(":")
        base = ("memorization mix (low + mid + high)" if group == "mix" else f"{group} memorization") + (
            f", {shadows} shadow models" if shadows else "")
    return base + (" (stratified)" if spec.stratified else "")


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """|A ∩ B| / min(|A|, |B|)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    return len(np.intersect1d(a, b)) / min(len(a), len(b))
