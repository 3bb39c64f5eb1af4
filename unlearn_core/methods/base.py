"""The unlearning-method interface and its registry.

A method is one file in this package defining a subclass of :class:`UnlearnMethod` decorated with
``@register_method``. It receives an :class:`UnlearnInput` (the original model, which it must not modify,
the data set and the forget / retain indices) and returns the unlearned model. Hyperparameter presets live on
the class, one dict per data set family ("small": 8x8 digits-like data; "image": 32x32+ images).

Wrappers: a method may be wrapped by a *method wrapper* registered under a prefix (see
:func:`register_wrapper`); ``get_method("PREFIX:INNER")`` builds it on demand, e.g. ``"rsu:ga"`` is RSU
(Chen et al., Forgetting Sequence, hard-to-easy sequential unlearning) around GA, ``"rsu_reverse:ga"`` its easy-to-hard ablation and
``"rsu_oneshot:ga"`` the one-shot order (identical to plain GA). A few such names are also registered in
``METHODS`` (and so listed by :func:`method_names`); any other combination is reachable through
:func:`get_method`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import torch

from ..budget import BUDGETS, DEFAULT_BUDGET, DEFAULT_MIN_STEPS, effective_epochs, paper_budget
from ..context import NULL_CONTEXT, RunContext
from ..data import ImageDataset, family_of
from ..errors import ConfigError, unknown_name
from ..models import Classifier
from ..training import TrainConfig, preset_for
from ..validation import check_params, type_name
from ..discovery import import_submodules


@dataclass
class UnlearnInput:
    """Everything a method may use. ``forget_idx``/``retain_idx`` are training-set indices on the data's device.

    ``original`` is the model unlearning *starts from*: θ_o for a plain run. A wrapper that chains runs (RSU) passes
    the previous stage's output there and the true θ_o in ``anchor``; methods that need θ_o itself — as a teacher
    (SCRUB, Bad-T), an attacker (BS) or any other fixed reference — use :attr:`theta_o` / :meth:`frozen_original`,
    which return ``anchor`` when it is set and ``original`` otherwise. Without a wrapper both are the same model.
    """

    original: Classifier
    model_name: str
    ds: ImageDataset
    forget_idx: torch.Tensor
    retain_idx: torch.Tensor
    train_cfg: TrainConfig  # the original model's recipe (Retrain reuses it)
    seed: int = 0
    ctx: RunContext = field(default_factory=lambda: NULL_CONTEXT)
    forget_classes: list[int] | None = None  # class-wise forgetting: the classes being removed
    anchor: Classifier | None = None  # θ_o when ``original`` is an intermediate model (RSU stages); None = original

    @property
    def theta_o(self) -> Classifier:
        """The true original model θ_o (teacher / anchor), never an intermediate stage's model."""
        return self.anchor if self.anchor is not None else self.original

    def copy_original(self) -> Classifier:
        """A trainable deep copy of the model unlearning starts from (θ_o, or the previous RSU stage's model).
        Methods never modify the model they were given."""
        model = copy.deepcopy(self.original)
        model.train()
        for p in model.parameters():
            p.requires_grad_(True)
        return model

    def frozen_original(self) -> Classifier:
        """An eval-mode copy of θ_o (:attr:`theta_o`) with gradients off (teacher for distillation-based methods)."""
        model = copy.deepcopy(self.theta_o).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        return model

    @property
    def device(self) -> torch.device:
        return self.ds.device


class UnlearnMethod:
    """Base class. Subclasses set the metadata below and implement :meth:`unlearn`."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""  # display name, e.g. "ℓ1-sparse"
    description: ClassVar[str] = ""  # one line, with the paper reference
    relabeling: ClassVar[bool] = False  # changes labels / targets of D_f (Fan et al., Challenging Forgets Table 1)
    reinit: ClassVar[bool] = False  # random re-initialisation of (part of) the model
    partial_update: ClassVar[bool] = False  # updates only part of the parameters
    uses_lambda: ClassVar[str] = ""  # the λ of Fan et al., Challenging Forgets Table 1 (regulariser weight), if any
    exact: ClassVar[bool] = False  # Retrain only
    lowers_forget_accuracy: ClassVar[bool] = True  # False with a reason in `why_not_lower`
    why_not_lower: ClassVar[str] = ""
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    preset_notes: ClassVar[str] = ""  # how the presets were chosen (papers' values, tuning on digits, ...)
    uses_test_data: ClassVar[str] = ""  # non-empty if the method touches the test split (says how)
    # Ranges / choices of hyperparameters beyond what validation.name_rule infers from names, e.g.
    # {"k": {"min": 1, "max": 8}, "mode": {"choices": ["a", "b"]}, "shift": {"min": None}} (see validation.Rule).
    param_rules: ClassVar[dict[str, Any]] = {}
    # Floors of the ``paper`` budget (unlearn_core/budget.py): whole epochs where a partial pass was measured not to
    # act (0 = none), and the fewest optimizer steps of a partial pass.
    min_epochs: ClassVar[int] = 0
    min_steps: ClassVar[int] = DEFAULT_MIN_STEPS

    def default_params(self, ds: ImageDataset) -> dict[str, Any]:
        """The preset of the data set's family; a preset with ``epochs`` also gets ``budget`` (default paper)."""
        fam = family_of(ds)
        preset = dict(self.presets.get(fam) or self.presets.get("small") or {})
        if "epochs" in preset:
            preset.setdefault("budget", DEFAULT_BUDGET)
        return preset

    def resolve_params(self, ds: ImageDataset, overrides: dict[str, Any] | None,
                       recipe: TrainConfig | None = None) -> dict[str, Any]:
        """Preset for the data set family updated with user overrides, validated (see :mod:`..validation`):
        unknown names, wrong types (typed by the preset value) and out-of-range values are a ConfigError.

        ``epochs`` is resolved by the budget (:mod:`unlearn_core.budget`) against ``recipe``, the training recipe of
        the model being unlearned (default: the data set's automatic recipe). Resolving resolved parameters again
        gives the same parameters."""
        defaults = self.default_params(ds)
        ov = dict(overrides or {}) if isinstance(overrides, dict) else overrides
        partial: dict[str, Any] = {}
        if isinstance(ov, dict) and "budget" in defaults:
            partial = {k: ov.pop(k) for k in ("epoch_fraction", "min_steps") if k in ov}
            if "budget" not in ov and ("epochs" in ov or partial):
                ov["budget"] = "custom"
        params = check_params(f"Method '{self.name}'", ov, defaults, self.rules(), noun="hyperparameter")
        if "budget" in params:
            budget = params["budget"]
            if budget == "paper":
                rec = recipe if recipe is not None else preset_for(ds)
                params["epochs"], fraction = paper_budget(int(defaults["epochs"]), rec.epochs, self.min_epochs)
                if fraction < 1.0:
                    params["epoch_fraction"], params["min_steps"] = fraction, int(self.min_steps)
            elif budget == "fixed10":
                params["epochs"] = int(defaults["epochs"])
            elif partial:
                params.update(check_partial_pass(self.name, partial, self.min_steps))
        return params

    def rules(self) -> dict[str, Any]:
        """The declared parameter rules (:attr:`param_rules`; a wrapper adds its inner method's) plus ``budget``."""
        rules: dict[str, Any] = {}
        inner = getattr(self, "inner", None)
        if inner is not None:
            rules.update(getattr(inner, "param_rules", None) or {})
        rules.update(self.param_rules or {})
        rules.setdefault("budget", {"choices": list(BUDGETS)})
        return rules

    def check_overrides(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Check overrides without a data set (at submit / grid-validation time): names must exist in one of the
        presets and values fit the type and range of that preset. Returns the overrides, normalised."""
        if params is None:
            return {}
        if not isinstance(params, Mapping):
            raise ConfigError(f"Hyperparameters of '{self.name}' must be a JSON object such as {{\"epochs\": 5}}, "
                              f"got {type_name(params)}.", field="method_params")
        if self.exact and params:
            raise ConfigError(f"'{self.name}' takes no hyperparameters (it retrains with the training recipe).",
                              field="method_params",
                              hint="change the recipe with --epochs / the setup's training overrides instead")
        union: dict[str, Any] = {}
        for preset in (self.presets or {}).values():
            for k, v in preset.items():
                union.setdefault(k, v)
        if "epochs" in union:
            union.setdefault("budget", DEFAULT_BUDGET)
        given = dict(params)
        partial = {k: given.pop(k) for k in ("epoch_fraction", "min_steps") if k in given} if "epochs" in union else {}
        checked = check_params(f"Method '{self.name}'", given, union, self.rules(), noun="hyperparameter")
        if partial:  # a custom partial-epoch budget (unlearn_core/budget.py), checked like any other value
            checked.update(check_partial_pass(self.name, partial, self.min_steps) or partial)
        return {k: checked[k] for k in params}

    def test_indices_used(self, ds: ImageDataset, params: dict[str, Any], seed: int) -> torch.Tensor | None:
        """Test-split indices the method trains or tunes on (None = none). Evaluation leaves them out of TA and
        of the MIA's non-member set, so a method never gets credit for samples it has seen."""
        return None

    def cost_passes(self, params: dict[str, Any], n_forget: int, n_retain: int, recipe: TrainConfig) -> float:
        """Sample passes (forward + backward of one sample = 1; :mod:`unlearn_core.cost`) of one run with the
        resolved ``params``; evaluation is counted separately. Default: ``epochs`` over D_r (a fine-tuning method);
        an exact method (Retrain) trains the recipe's epochs on D_r. A method that trains on other sets or does more
        per step overrides this next to its ``unlearn``."""
        if self.exact:
            return recipe.epochs * n_retain
        return effective_epochs(params) * n_retain

    def unlearn(self, inp: UnlearnInput, params: dict[str, Any]) -> Classifier:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def metadata(cls) -> dict[str, Any]:
        return {
            "name": cls.name, "label": cls.label or cls.name, "description": cls.description,
            "relabeling": cls.relabeling, "reinit": cls.reinit, "partial_update": cls.partial_update,
            "lambda": cls.uses_lambda, "exact": cls.exact,
            "lowers_forget_accuracy": cls.lowers_forget_accuracy, "why_not_lower": cls.why_not_lower,
            "presets": cls.presets, "preset_notes": cls.preset_notes, "uses_test_data": cls.uses_test_data,
        }


def check_partial_pass(name: str, given: dict[str, Any], min_steps: int) -> dict[str, Any]:
    """A custom partial-epoch budget: ``epoch_fraction`` in (0, 1] and ``min_steps`` a count ≥ 0 (unlearn_core/budget.py)."""
    frac = given.get("epoch_fraction", 1.0)
    steps = given.get("min_steps", min_steps)
    if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0.0 < float(frac) <= 1.0:
        raise ConfigError(f"Method '{name}': epoch_fraction must be a number in (0, 1] (a part of one epoch), got {frac!r}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= 10_000_000:
        raise ConfigError(f"Method '{name}': min_steps must be a whole number ≥ 0, got {steps!r}.")
    if float(frac) >= 1.0:
        return {}
    return {"epoch_fraction": float(frac), "min_steps": int(steps)}


METHODS: dict[str, UnlearnMethod] = {}

# Method wrappers by prefix: factory(prefix, inner method) -> wrapped method (see rsu.py).
WRAPPERS: dict[str, Callable[[str, UnlearnMethod], UnlearnMethod]] = {}
_WRAPPED: dict[str, UnlearnMethod] = {}  # wrapped methods built on demand by get_method (not listed)

# Display order (Fan et al., Challenging Forgets Table 1, then Chen et al., Akbari et al., Sharma et al.); methods not listed here follow in registration order.
DISPLAY_ORDER = ["retrain", "ft", "ga", "rl", "eu_k", "cf_k", "scrub", "l1_sparse", "be", "bs", "salun", "bad_t",
                 "fisher", "influence", "soft_relabel", "grad_surgery", "act_prune", "dau"]


def register_method(cls: type[UnlearnMethod]) -> type[UnlearnMethod]:
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a name")
    if cls.name in METHODS:
        raise ValueError(f"method '{cls.name}' registered twice")
    METHODS[cls.name] = cls()
    return cls


def register_instance(method: UnlearnMethod) -> UnlearnMethod:
    """Register an already-built method object (wrapped methods such as ``rsu:ga``) under its ``name``."""
    if not method.name:
        raise ValueError("method needs a name")
    if method.name in METHODS:
        raise ValueError(f"method '{method.name}' registered twice")
    METHODS[method.name] = method
    return method


def register_wrapper(prefix: str, factory: Callable[[str, UnlearnMethod], UnlearnMethod]) -> None:
    """Make ``get_method("PREFIX:INNER")`` build ``factory(prefix, get_method(INNER))``."""
    if ":" in prefix or not prefix:
        raise ValueError(f"bad wrapper prefix {prefix!r}")
    WRAPPERS[prefix] = factory


_LOADED = False


def load_all() -> None:
    """Import every method module of this package (discovery: each registers itself with @register_method)."""
    global _LOADED
    if _LOADED:
        return
    import_submodules(__name__.rpartition(".")[0], {"base"})
    _LOADED = True


def validate_method_params(name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``get_method(name).check_overrides(params)``: a method's overrides checked without a data set."""
    return get_method(name).check_overrides(params)


def get_method(name: str) -> UnlearnMethod:
    load_all()
    if name in METHODS:
        return METHODS[name]
    if name in _WRAPPED:
        return _WRAPPED[name]
    if isinstance(name, str) and ":" in name:
        prefix, inner = name.split(":", 1)
        if prefix not in WRAPPERS:
            raise unknown_name("method wrapper", prefix, list(WRAPPERS))
        if ":" in inner:
            raise ConfigError(f"Method wrappers do not nest: '{name}'. Use one prefix, e.g. 'rsu:ga'.")
        method = WRAPPERS[prefix](prefix, get_method(inner))
        _WRAPPED[name] = method
        return method
    known = list(METHODS) + [f"{p}:METHOD" for p in WRAPPERS]
    raise unknown_name("unlearning method", name, known)


def method_names() -> list[str]:
    """Registered method names in display order (base methods, then the registered RSU variants).

    Any ``PREFIX:METHOD`` combination (e.g. ``rsu:fisher``) also works with :func:`get_method` but is not listed.
    """
    load_all()
    rank = {n: i for i, n in enumerate(DISPLAY_ORDER)}
    names = list(METHODS)
    return sorted(names, key=lambda n: (":" in n, rank.get(n, len(rank)), names.index(n)))
