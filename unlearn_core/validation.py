"""The one validation layer for what users type: hyperparameters, score parameters, seeds, ratios, paths.

This module sits at the bottom of the layers (it imports only :mod:`~unlearn_core.errors`): methods and scores
call it, never the other way round. Used by the CLI (before any compute starts), by the job kinds' submit checks
and, through
:meth:`UnlearnMethod.resolve_params <unlearn_core.methods.base.UnlearnMethod.resolve_params>` and
:meth:`ScoreSpec.resolve_params <unlearn_core.scores.base.ScoreSpec.resolve_params>`, by the dashboard forms. Every
failure is a :class:`~unlearn_core.errors.ConfigError` whose message says what to type instead.

Parameters are typed by their default value (a preset's or a score's ``defaults``):

- ``int``: an integer (``5`` or ``5.0``; never ``true``, ``5.5`` or ``"5"``);
- ``float``: a finite number (``1e-3``, ``2``; never ``"abc"``, ``NaN`` or ``true``);
- ``bool``: ``true``/``false`` (also ``0``/``1`` and the strings ``"true"``/``"false"``/``"yes"``/``"no"``, never
  other numbers such as ``0.5``);
- ``str``: a string; ``null`` is never a value (leave a parameter out to keep its default).

Ranges come from, in this order: the owner's own declaration (``UnlearnMethod.param_rules`` or
``register_score(..., param_rules=...)``: each method and score owns its rules) and the rules by parameter *name*
in :func:`name_rule` (``epochs`` is 0..1000, ``lr``
in (0, 1e6], ``*fraction*`` in [0, 1], ...). Anything else numeric must be non-negative and integers at most
:data:`MAX_INT_PARAM`; a parameter that may be negative must declare it (``{"min": None}``).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import ConfigError

MAX_SEED = 2**32 - 1  # numpy's and torch's seed range
MAX_SEEDS = 10_000  # seeds in one grid / one request (a typo such as --seeds 4294967296 must not be planned)
MAX_RATIOS = 100  # forget ratios in one grid
MAX_EPOCHS = 1000  # every epoch count a user can type (a typo of 5000 must not run for days)
MAX_STEPS = 1_000_000  # iteration counts (attacker steps, ...)
MAX_INT_PARAM = 10_000_000  # any other integer hyperparameter (sample counts, memory budgets, ...)
MAX_STR_PARAM = 200  # characters of a string hyperparameter
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


# ---------------------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """The allowed values of one parameter. ``None`` bounds are open-ended; ``*_open`` makes a bound exclusive.

    ``min=None`` must be given explicitly for a numeric parameter that may be negative (the default rule
    requires >= 0). A lower bound above 0 still admits 0 when the parameter's default is 0 (0 = "automatic").
    """

    min: float | None = 0
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    choices: tuple | None = None
    hint: str = ""  # appended to the error message (what the value means)

    @classmethod
    def of(cls, spec: "Rule | Mapping[str, Any] | None") -> "Rule | None":
        if spec is None or isinstance(spec, Rule):
            return spec
        if not isinstance(spec, Mapping):
            raise TypeError(f"a parameter rule must be a Rule or a dict, got {type(spec).__name__}")
        d = dict(spec)
        if "choices" in d and d["choices"] is not None:
            d["choices"] = tuple(d["choices"])
        return cls(**d)

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        lo = None if self.min is None else ("(" if self.min_open else "[") + _num(self.min)
        hi = None if self.max is None else _num(self.max) + (")" if self.max_open else "]")
        if lo and hi:
            return f"in {lo}, {hi}"
        if lo:
            return ("> " if self.min_open else ">= ") + _num(self.min)
        if hi:
            return ("< " if self.max_open else "<= ") + _num(self.max)
        return "any finite number"


def _num(v: float) -> str:
    """1e+06 -> 1e6, 0.001 -> 0.001, 1000 -> 1000."""
    return f"{v:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def name_rule(name: str) -> Rule | None:
    """The range a parameter gets from its name alone (shared by every method and score)."""
    n = name.lower()
    if n == "epochs" or n.endswith("_epochs"):
        return Rule(0, MAX_EPOCHS, hint="epochs")
    if n == "lr" or n.endswith("_lr"):
        return Rule(0, 1e6, min_open=True, hint="a learning rate")
    if n.endswith("batch_size"):
        return Rule(1, 1_000_000, hint="a batch size")
    if n == "steps" or n.endswith("_steps") or n.endswith("_iters") or n == "iters":
        return Rule(0, MAX_STEPS)
    if n == "momentum" or n.endswith("_momentum"):
        return Rule(0, 1, max_open=True)
    if "fraction" in n or n.startswith("q_") or n == "sparsity":
        return Rule(0, 1, hint="a fraction")
    if n in ("tau", "kd_t", "temperature") or n.endswith("_temperature"):
        return Rule(0, 1e6, min_open=True, hint="a temperature")
    if n.startswith("n_"):
        return Rule(1, MAX_INT_PARAM, hint="a count")
    return None


def _kind_of(default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if isinstance(default, (list, tuple)):
        return "list"
    if isinstance(default, dict):
        return "dict"
    return "any"


def _show(v: Any) -> str:
    s = repr(v) if not isinstance(v, str) else f'"{v}"'
    return s if len(s) <= 60 else s[:57] + "..."


def type_name(v: Any) -> str:
    """'an integer', 'a string', ... (how a value's type is named in error messages)."""
    if v is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a JSON object"}.get(type(v), type(v).__name__)


def check_param(owner: str, name: str, value: Any, default: Any, rule: Rule | Mapping | None = None) -> Any:
    """``value`` for parameter ``name`` (typed by ``default``), validated and normalised (5.0 -> 5 for an int
    parameter, "false" -> False for a bool one); raises :class:`ConfigError` with what to type instead."""
    try:
        return _check_param(owner, name, value, default, rule)
    except ConfigError as err:
        raise err.with_field(name) from None


def _check_param(owner: str, name: str, value: Any, default: Any, rule: Rule | Mapping | None = None) -> Any:
    rule = Rule.of(rule) if rule is not None else name_rule(name)
    where = f"{owner}: '{name}'"
    kind = _kind_of(default)
    if value is None:
        if default is None:
            return None
        raise ConfigError(f"{where} cannot be null; leave it out to keep the default ({_show(default)}).")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.strip().lower()]
        raise ConfigError(f"{where} must be true or false, got {_show(value)} ({type_name(value)}).")
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be {'an integer' if kind == 'int' else 'a number'}, got {_show(value)} "
                              f"({type_name(value)}). Write it without quotes, e.g. {_show(default)}.")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value}.")
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ConfigError(f"{where} must be a whole number, got {value}.")
            value = int(value)
            rule = rule or Rule(0, MAX_INT_PARAM)
            if rule.max is None:
                rule = Rule(rule.min, MAX_INT_PARAM, rule.min_open, rule.max_open, rule.choices, rule.hint)
        else:
            value = float(value)
            rule = rule or Rule(0)
        _check_range(where, value, default, rule)
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {_show(value)} ({type_name(value)})."
                              + (f" Use one of: {', '.join(map(str, rule.choices))}." if rule and rule.choices else ""))
        if len(value) > MAX_STR_PARAM or "\x00" in value:
            raise ConfigError(f"{where} is not a usable string (at most {MAX_STR_PARAM} characters).")
        if rule is not None and rule.choices is not None and value not in rule.choices and value != default:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, rule.choices))}; got {_show(value)}.")
        return value
    if kind in ("list", "dict"):
        want = list if kind == "list" else dict
        if not isinstance(value, (list, tuple) if want is list else dict):
            raise ConfigError(f"{where} must be {type_name(want())}, got {_show(value)} ({type_name(value)}).")
        return value
    # A parameter whose default is None takes any JSON scalar.
    if isinstance(value, (dict, list, tuple)):
        raise ConfigError(f"{where} must be a single value, got {type_name(value)}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {value}.")
    if rule is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_range(where, float(value), default, rule)  # e.g. BLO's alpha: null = automatic, else a range
    elif rule is not None and rule.choices is not None and value not in rule.choices:
        raise ConfigError(f"{where} must be one of {', '.join(map(str, rule.choices))}; got {_show(value)}.")
    return value


def _check_range(where: str, value: float, default: Any, rule: Rule) -> None:
    if rule.choices is not None:
        if value not in rule.choices:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, rule.choices))}; got {value}.")
        return
    lo_ok = (rule.min is None or (value > rule.min if rule.min_open else value >= rule.min)
             or (value == 0 and default == 0))  # 0 = "automatic" where the default is 0
    hi_ok = rule.max is None or (value < rule.max if rule.max_open else value <= rule.max)
    if not (lo_ok and hi_ok):
        hint = f" ({rule.hint})" if rule.hint else ""
        zero = " or 0 (automatic)" if default == 0 and rule.min is not None and rule.min > 0 else ""
        raise ConfigError(f"{where} must be {rule.describe()}{zero}{hint}; got {_num(value)}.")


def check_params(owner: str, overrides: Mapping[str, Any] | None, defaults: Mapping[str, Any],
                 rules: Mapping[str, Rule | Mapping] | None = None, noun: str = "parameter") -> dict[str, Any]:
    """``defaults`` updated with validated ``overrides``; unknown names are an error listing the known ones."""
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{owner}: parameters must be a JSON object such as {{\"epochs\": 5}}, got "
                          f"{type_name(overrides)}.")
    params = dict(defaults)
    rules = rules or {}
    for k, v in overrides.items():
        if not isinstance(k, str) or k not in params:
            import difflib

            close = difflib.get_close_matches(str(k), list(params), n=1)
            raise ConfigError(f"{owner} has no {noun} '{k}'. Known: {', '.join(sorted(params)) or 'none'}."
                              + (f" Did you mean '{close[0]}'?" if close else ""))
        params[k] = check_param(owner, k, v, defaults[k], rules.get(k))
    return params


# ---------------------------------------------------------------------------------------------- forget ratios
class Ratio(float):
    """A forget ratio r with 0 < r < 1, checked once when built (``Ratio(0.1)``, ``Ratio.parse("10%")``).

    A ``float`` subclass, so it serialises, hashes and compares exactly like the plain number (config keys do not
    change); layers that receive a :class:`Ratio` trust it and never re-check the range."""

    def __new__(cls, value: Any, field: str = "ratio") -> "Ratio":
        if isinstance(value, Ratio):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not 0 < value < 1:
            raise ConfigError(f"Forget ratio must be strictly between 0 and 1, got {value}.", field=field,
                              hint="e.g. 0.1 for 10%")
        return super().__new__(cls, float(value))

    @classmethod
    def parse(cls, value: Any, field: str = "ratio") -> "Ratio":
        """A ratio typed by a user: '0.1', '10%' or a number."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(value, field)
        try:
            s = str(value).strip()
            r = float(s[:-1]) / 100 if s.endswith("%") else float(s)
        except ValueError:
            raise ConfigError(f"Forget ratio '{value}' is not a number.", field=field,
                              hint="use e.g. 0.1 or 10%") from None
        return cls(r, field)

    def count(self, n: int) -> int:
        """m = round(r·N), the forget-set size on N training samples (1 <= m < N, else a ConfigError)."""
        return forget_count(self, n)


def forget_count(ratio: float, n: int) -> int:
    """m = round(ratio·N), validated: 0 < ratio < 1 and 1 <= m < N."""
    r = Ratio(ratio)
    m = int(round(r * n))
    if m < 1:
        raise ConfigError(f"Forget ratio {ratio} of {n} training samples gives an empty forget set.", field="ratio",
                          hint="use a larger ratio")
    if m >= n:
        raise ConfigError(f"Forget ratio {ratio} would forget all {n} training samples.", field="ratio",
                          hint="use a smaller ratio")
    return m


def parse_ratio(value: Any) -> Ratio:
    """A forget ratio typed by a user ('0.1', '10%', 0.1), validated (0 < r < 1)."""
    return Ratio.parse(value)


# ---------------------------------------------------------------------------------------------- seeds, ratios
def check_seed(seed: Any, what: str = "seed") -> int:
    """A seed: an integer in 0..2^32-1 (numpy's range; torch's too)."""
    if isinstance(seed, float) and seed.is_integer():
        seed = int(seed)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"A {what} must be an integer between 0 and {MAX_SEED} (2^32-1), got {_show(seed)}.",
                          field="seed")
    return int(seed)


def parse_seed(text: Any, what: str = "seed") -> int:
    """A seed typed by a user ('7'): an integer in 0..2^32-1."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ConfigError(f"A {what} must be an integer between 0 and {MAX_SEED}, got '{text}'.", field="seed") \
            from None
    return check_seed(value, what)


def check_seed_list(seeds: Any) -> list[int]:
    """A non-empty list of seeds (duplicates dropped, order kept), at most :data:`MAX_SEEDS` of them."""
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise ConfigError("Choose at least one seed.", field="seed")
    if len(seeds) > MAX_SEEDS:
        raise ConfigError(f"{len(seeds)} seeds is more than the limit of {MAX_SEEDS}; use fewer.", field="seed")
    return list(dict.fromkeys(check_seed(s) for s in seeds))


def parse_seeds(text: str) -> list[int]:
    """CLI ``--seeds``: a count ('3' = seeds 0, 1, 2) or a comma list ('0,5,7'); bounded before anything is built."""
    try:
        return _parse_seeds(text)
    except ConfigError as err:
        raise err.with_field("seed") from None


def _parse_seeds(text: str) -> list[int]:
    s = str(text).strip()
    try:
        if "," in s:
            parts = [p.strip() for p in s.split(",") if p.strip()]
            if len(parts) > MAX_SEEDS:
                raise ConfigError(f"--seeds lists {len(parts)} seeds; the limit is {MAX_SEEDS}.")
            return check_seed_list([int(p) for p in parts])
        n = int(s)
    except ConfigError:
        raise
    except ValueError:
        raise ConfigError(f"--seeds must be a count (3) or a comma list (0,1,2) of integers; got '{text}'.") from None
    if n < 1:
        raise ConfigError(f"--seeds {n} asks for no seed: --seeds is a count (--seeds 1 runs seed 0; --seeds 3 runs "
                          "seeds 0, 1, 2) or a comma list of seed numbers (--seeds 0,5,7).")
    if n > MAX_SEEDS:
        raise ConfigError(f"--seeds {n} asks for {n} seeds (a count); the limit is {MAX_SEEDS}. To run seed {n} "
                          f"alone, give it as a list of one: --seeds {min(n, MAX_SEED)}, (with the comma) — or several: "
                          f"--seeds {min(n, MAX_SEED)},{min(n, MAX_SEED) + 1}.")
    return list(range(n))


def parse_ratios(text: str) -> list[float]:
    """CLI ``--ratios``: comma-separated forget ratios ('0.01,0.1' or '1%,10%'), each in (0, 1), at most
    :data:`MAX_RATIOS`."""
    try:
        return _parse_ratios(text)
    except ConfigError as err:
        raise err.with_field("ratio") from None


def _parse_ratios(text: str) -> list[float]:
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise ConfigError("--ratios must list at least one forget ratio, e.g. 0.1.")
    if len(parts) > MAX_RATIOS:
        raise ConfigError(f"--ratios lists {len(parts)} ratios; the limit is {MAX_RATIOS}.")
    out = []
    for p in parts:
        try:
            out.append(parse_ratio(p))
        except ConfigError as err:
            if "not a number" in str(err):
                raise ConfigError(f"--ratios must be comma-separated numbers such as 0.01,0.1; got '{text}'.") \
                    from None
            raise
    return list(dict.fromkeys(out))


def check_names(values: Iterable[str], what: str, limit: int = 1000) -> list[str]:
    """A bounded list of non-empty names (methods, selectors), duplicates dropped."""
    out = [str(v).strip() for v in values if str(v).strip()]
    if len(out) > limit:
        raise ConfigError(f"{len(out)} {what} is more than the limit of {limit}.")
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------------------------------------- files
def check_output_file(path: str | os.PathLike | None, what: str = "--out") -> Path | None:
    """An output file the user named: its folder must exist and be writable, and the path must not be a folder.
    Checked before any compute starts, so a typo never costs a whole grid."""
    try:
        return _check_output_file(path, what)
    except ConfigError as err:
        raise err.with_field(what) from None


def _check_output_file(path: str | os.PathLike | None, what: str = "--out") -> Path | None:
    if path is None:
        return None
    if not str(path).strip():
        raise ConfigError(f"{what}: give a file name, e.g. {what} results.csv.")
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{what} '{p}' is a folder; give a file name inside it, e.g. {p / 'results.csv'}.")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise ConfigError(f"{what}: the folder '{parent}' does not exist. Create it first (mkdir -p {parent}) or "
                          f"write elsewhere.")
    if not parent.is_dir():
        raise ConfigError(f"{what}: '{parent}' is not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: the folder '{parent}' is not writable by this user. Write elsewhere.")
    if p.exists() and not os.access(p, os.W_OK):
        raise ConfigError(f"{what}: '{p}' exists and is read-only. Remove it or write elsewhere.")
    return p


def check_input_file(path: str | os.PathLike, what: str) -> Path:
    """A file the user named as input: it must exist, be a file and be readable."""
    try:
        return _check_input_file(path, what)
    except ConfigError as err:
        raise err.with_field(what) from None


def _check_input_file(path: str | os.PathLike, what: str) -> Path:
    p = Path(str(path))
    if not str(path).strip():
        raise ConfigError(f"{what}: give a file path.")
    if p.is_dir():
        raise ConfigError(f"{what} '{p}' is a folder, not a file.")
    if not p.is_file():
        raise ConfigError(f"{what} '{p}' does not exist.")
    if not os.access(p, os.R_OK):
        raise ConfigError(f"{what} '{p}' is not readable by this user.")
    return p
