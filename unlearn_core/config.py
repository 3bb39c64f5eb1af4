"""Typed configuration objects: the :class:`Setup` (data set, model, recipe, BLO parameters) and its key.

Every cached result is keyed by :func:`~unlearn_core.io.config_key` of its full configuration (re-exported here);
nothing else in the project hashes a configuration. A setup resolves names through the data, model, training and
score registries, so this module sits above them in the layers (tests/test_layers.py).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

from .data import DATASETS, default_model_for, load_dataset
from .device import check_device_name
from .errors import ConfigError, unknown_name
from .io import config_key
from .models import MODELS, check_model_fits
from .scores import get_score
from .training import TRAIN_PRESETS, TrainConfig, preset_for, preset_name_for, recipe_with
from .validation import Ratio, forget_count, parse_ratio

__all__ = ["config_key", "forget_count", "parse_ratio", "Ratio", "Setup", "ResolvedSetup", "setup_key",
           "recipe_label", "setup_name", "parse_json_object"]


# ---------------------------------------------------------------------------------------------- the setup
# The fields of a run's configuration that identify its setup (see Setup.base_config); setup_key() hashes them.
SETUP_IDENTITY = ("dataset", "data_fingerprint", "model", "train")


def setup_key(config: Mapping[str, Any]) -> str:
    """The key of the setup a configuration belongs to: data set (+ content fingerprint), model and recipe.

    Works on a :meth:`ResolvedSetup.base_config` and on any stored run configuration (which embeds it), so a
    result's setup is always identified the same way. This is the only function that computes a setup key.
    """
    missing = [k for k in SETUP_IDENTITY if k not in config]
    if missing:
        raise ConfigError(f"Configuration lacks the setup fields {missing}.")
    return config_key({k: config[k] for k in SETUP_IDENTITY})[:16]


def _plain(d: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    if d is None:
        return {}
    if not isinstance(d, Mapping):
        raise ConfigError(f"{what} must be a JSON object (a mapping of names to values), got {type(d).__name__}.")
    return {str(k): v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class Setup:
    """Everything a result depends on besides its own step: data set, model, training recipe, BLO parameters.

    ``model=None`` means the data set's default model; ``train`` overrides fields of the ``preset`` recipe
    (e.g. ``{"epochs": 5}``); ``blo`` overrides BLO parameters (used by worst-case / easiest selectors).
    ``device``, ``data_root`` and ``download`` say where to compute and where the data lives; they never change
    a result, so they are not part of :meth:`key`.
    """

    dataset: str = "digits"
    model: str | None = None
    preset: str = "auto"
    train: Mapping[str, Any] = field(default_factory=dict)
    blo: Mapping[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    download: bool = False
    device: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, str) or not self.dataset.strip():
            raise ConfigError("Choose a data set, e.g. 'digits'.")
        if self.dataset.startswith(("npz:", "folder:")) and not self.dataset.split(":", 1)[1].strip():
            raise ConfigError("Give the path after npz: / folder:.")
        if self.model is not None and (not isinstance(self.model, str) or not self.model.strip()):
            raise ConfigError("The model must be a name such as 'mlp' (or None for the data set's default).")
        if not isinstance(self.preset, str) or not self.preset:
            raise ConfigError("The training preset must be a name such as 'auto'.")
        if not isinstance(self.download, bool):
            raise ConfigError("download must be true or false.")
        object.__setattr__(self, "dataset", self.dataset.strip())
        object.__setattr__(self, "train", _plain(self.train, "Training overrides"))
        object.__setattr__(self, "blo", _plain(self.blo, "BLO parameters"))

    # ---------------------------------------------------------------- conversion
    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Setup":
        """From a JSON dict (also accepts the older names train_overrides / blo_params / train_preset)."""
        d = dict(d or {})
        aliases = {"train_overrides": "train", "blo_params": "blo", "train_preset": "preset"}
        for old, new in aliases.items():
            if old in d:
                d.setdefault(new, d.pop(old))
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known - {"seed"})
        if unknown:
            raise ConfigError(f"Unknown setup fields {unknown}. Known: {', '.join(sorted(known))}.")
        d = {k: v for k, v in d.items() if k in known}
        if d.get("preset") is None:
            d.pop("preset", None)
        if d.get("device") is None:
            d.pop("device", None)
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["train"], out["blo"] = dict(self.train), dict(self.blo)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    def replace(self, **changes: Any) -> "Setup":
        return replace(self, **changes)

    # ---------------------------------------------------------------- validation and resolution
    def validate(self) -> "Setup":
        """Everything checkable without loading the data: names (model, preset, device, data set), the training
        overrides' types and ranges and the BLO parameters. Raises :class:`ConfigError`; returns self."""
        if not (self.dataset in DATASETS or self.dataset.startswith(("npz:", "folder:"))):
            raise unknown_name("data set", self.dataset, list(DATASETS) + ["npz:PATH", "folder:PATH"])
        if self.model is not None and self.model not in MODELS:
            raise unknown_name("model", self.model, list(MODELS))
        if self.preset != "auto" and self.preset not in TRAIN_PRESETS:
            raise unknown_name("training preset", self.preset, ["auto", *TRAIN_PRESETS])
        check_device_name(self.device)
        recipe_with(TrainConfig(), self.train)  # types and ranges of the overrides (the preset needs the data)
        get_score("blo").resolve_params(dict(self.blo))
        return self

    def resolve(self) -> "ResolvedSetup":
        """Load the data set (memoised per process) and resolve the model, the recipe and the BLO parameters;
        a model too deep for the images is refused here, before anything trains."""
        self.validate()
        ds = load_dataset(self.dataset, root=self.data_root, download=self.download)
        model = self.model or default_model_for(ds)
        check_model_fits(model, ds.input_shape, ds.num_classes)
        recipe = recipe_with(preset_for(ds, self.preset, model), self.train)
        blo = get_score("blo").resolve_params(dict(self.blo))
        return ResolvedSetup(self, ds, model, recipe, blo, ds.fingerprint(), preset_name_for(ds, self.preset, model))

    def key(self) -> str:
        """The setup key (see :func:`setup_key`); loads the data set the first time."""
        return self.resolve().key

    def label(self) -> str:
        return self.resolve().label


@dataclass(frozen=True)
class ResolvedSetup:
    """A :class:`Setup` with its data set loaded and every default filled in."""

    setup: Setup
    ds: Any = field(repr=False, compare=False)  # ImageDataset (on the CPU)
    model: str = ""
    recipe: Any = None  # training.TrainConfig
    blo: Mapping[str, Any] = field(default_factory=dict)
    data_fingerprint: str = ""
    preset: str = ""  # the training preset the recipe came from (before the user's overrides)

    def base_config(self) -> dict[str, Any]:
        """The setup part every stored configuration embeds (its identity: see :func:`setup_key`)."""
        return {"dataset": self.setup.dataset, "data_fingerprint": self.data_fingerprint, "model": self.model,
                "train": self.recipe.to_dict()}

    @property
    def key(self) -> str:
        return setup_key(self.base_config())

    @property
    def label(self) -> str:
        return recipe_label(self.setup.dataset, self.model, self.recipe.to_dict())


def setup_name(s: Setup) -> str:
    """'digits · default model · 30 epochs · BLO K=2' — how a setup (as chosen, before resolution) is named to users:
    the CLI's and the jobs' labels and the dashboard all use this one. Plain text (escape before Markdown)."""
    ep = s.train.get("epochs")
    parts = [s.dataset, s.model or "default model"] + ([f"{ep} epochs"] if ep else [])
    if s.blo:
        parts.append("BLO " + ", ".join(f"{k}={v}" for k, v in sorted(s.blo.items())))
    return " · ".join(parts)


def recipe_label(dataset: str, model: str, train: Mapping[str, Any] | None) -> str:
    """'digits · mlp · 30 ep sgd lr 0.05 bs 128' — how a setup is named to users."""
    t = train or {}
    return (f"{dataset} · {model} · {t.get('epochs', '?')} ep {t.get('optimizer', '')} lr {t.get('lr', '?')} "
            f"bs {t.get('batch_size', '?')}").replace("  ", " ")


# ---------------------------------------------------------------------------------------------- user input
def parse_json_object(text: str | None, what: str, max_depth: int = 4) -> dict:
    """A JSON object typed by a user (empty = {}), with a clear error; nesting deeper than ``max_depth`` is
    refused (no configuration of this project needs more)."""
    if text is None or not str(text).strip():
        return {}
    try:
        v = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{what}: not valid JSON ({err.msg} at position {err.pos}). Example: {{\"epochs\": 5}}") \
            from None
    except RecursionError:
        raise ConfigError(f"{what}: nested too deeply.") from None
    if not isinstance(v, dict):
        raise ConfigError(f"{what}: expected a JSON object such as {{\"epochs\": 5}}.")

    def depth(x, d=0):
        if d > max_depth:
            raise ConfigError(f"{what}: nested more than {max_depth} levels deep.")
        if isinstance(x, dict):
            for y in x.values():
                depth(y, d + 1)
        elif isinstance(x, list):
            for y in x:
                depth(y, d + 1)

    depth(v)
    return v
