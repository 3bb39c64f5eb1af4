"""The unlearning-method interface and its registry.

A method is one file in this package defining a subclass of :class:`UnlearnMethod` decorated with
``@register_method``. It receives an :class:`UnlearnInput` (the original model, which it must not modify,
the data set and the forget / retain indices) and returns the unlearned model. Hyperparameter presets live on
the class, one dict per data set family ("small": 8x8 digits-like data; "image": 32x32+ images).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from ..context import NULL_CONTEXT, RunContext
from ..data import ImageDataset, family_of
from ..errors import ConfigError, unknown_name
from ..models import Classifier
from ..training import TrainConfig


@dataclass
class UnlearnInput:
    """Everything a method may use. ``forget_idx``/``retain_idx`` are training-set indices on the data's device."""

    original: Classifier
    model_name: str
    ds: ImageDataset
    forget_idx: torch.Tensor
    retain_idx: torch.Tensor
    train_cfg: TrainConfig  # the original model's recipe (Retrain reuses it)
    seed: int = 0
    ctx: RunContext = field(default_factory=lambda: NULL_CONTEXT)
    forget_classes: list[int] | None = None  # class-wise forgetting: the classes being removed

    def copy_original(self) -> Classifier:
        """A trainable deep copy of θ_o (methods never touch the original)."""
        model = copy.deepcopy(self.original)
        model.train()
        for p in model.parameters():
            p.requires_grad_(True)
        return model

    @property
    def device(self) -> torch.device:
        return self.ds.device


class UnlearnMethod:
    """Base class. Subclasses set the metadata below and implement :meth:`unlearn`."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""  # display name, e.g. "ℓ1-sparse"
    description: ClassVar[str] = ""  # one line, with the paper reference
    relabeling: ClassVar[bool] = False  # changes labels / targets of D_f (seed 000 Table 1)
    reinit: ClassVar[bool] = False  # random re-initialisation of (part of) the model
    partial_update: ClassVar[bool] = False  # updates only part of the parameters
    uses_lambda: ClassVar[str] = ""  # the λ of seed 000 Table 1 (regulariser weight), if any
    exact: ClassVar[bool] = False  # Retrain only
    lowers_forget_accuracy: ClassVar[bool] = True  # False with a reason in `why_not_lower`
    why_not_lower: ClassVar[str] = ""
    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    def default_params(self, ds: ImageDataset) -> dict[str, Any]:
        fam = family_of(ds)
        return dict(self.presets.get(fam) or self.presets.get("small") or {})

    def resolve_params(self, ds: ImageDataset, overrides: dict[str, Any] | None) -> dict[str, Any]:
        """Preset for the data set family updated with user overrides; unknown keys are an error."""
        params = self.default_params(ds)
        for k, v in (overrides or {}).items():
            if k not in params:
                raise ConfigError(f"Method '{self.name}' has no hyperparameter '{k}'. "
                                  f"Known: {', '.join(sorted(params)) or 'none'}.")
            params[k] = type(params[k])(v) if params[k] is not None and not isinstance(params[k], bool) else v
        return params

    def unlearn(self, inp: UnlearnInput, params: dict[str, Any]) -> Classifier:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def metadata(cls) -> dict[str, Any]:
        return {
            "name": cls.name, "label": cls.label or cls.name, "description": cls.description,
            "relabeling": cls.relabeling, "reinit": cls.reinit, "partial_update": cls.partial_update,
            "lambda": cls.uses_lambda, "exact": cls.exact,
            "lowers_forget_accuracy": cls.lowers_forget_accuracy, "why_not_lower": cls.why_not_lower,
            "presets": cls.presets,
        }


METHODS: dict[str, UnlearnMethod] = {}


def register_method(cls: type[UnlearnMethod]) -> type[UnlearnMethod]:
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a name")
    if cls.name in METHODS:
        raise ValueError(f"method '{cls.name}' registered twice")
    METHODS[cls.name] = cls()
    return cls


def get_method(name: str) -> UnlearnMethod:
    from . import load_all

    load_all()
    if name not in METHODS:
        raise unknown_name("unlearning method", name, list(METHODS))
    return METHODS[name]


def method_names() -> list[str]:
    from . import load_all

    load_all()
    return list(METHODS)
