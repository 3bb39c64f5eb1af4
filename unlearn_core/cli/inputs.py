"""The command line's edge: argument text → typed values, parsed once with validation.py's own checks.

Each converter raises :class:`~unlearn_core.errors.ConfigError` naming its field; :func:`_arg_type` turns one into
an argparse ``type=`` (argparse then prints the message with the usage line and exits with status 2).
"""
from __future__ import annotations

import argparse

from ..config import parse_json_object
from ..errors import ConfigError
from ..validation import Ratio, check_param, parse_seed

MAX_WORKERS = 256


def _csv_list(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def _arg_type(fn, what: str):
    """An argparse ``type=`` from a validator: its ConfigError message becomes argparse's (exit 2, usage line)."""

    def convert(text: str):
        try:
            return fn(text)
        except ConfigError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    convert.__name__ = what
    return convert


def _seed(text: str) -> int:
    """``--seed``: an integer in 0..2^32-1 (validation.parse_seed)."""
    return parse_seed(text)


def _ratio(text: str) -> Ratio:
    """``--ratio``: a forget ratio, 0.1 or 10% (validation.Ratio)."""
    return Ratio.parse(text)


def _epochs(text: str) -> int:
    """``--epochs``: the training recipe's epochs, typed and ranged like every ``epochs`` parameter (0..1000)."""
    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigError(f"--epochs must be a whole number, got '{text}'.", field="epochs") from None
    return check_param("--epochs", "epochs", value, 0)


def _positive_int(s: str, flag: str) -> int:
    """``--workers``: 1..MAX_WORKERS worker processes."""
    if not str(s).isdigit() or not 1 <= int(s) <= MAX_WORKERS:
        raise ConfigError(f"{flag} must be an integer between 1 and {MAX_WORKERS} (or auto), got '{s}'.",
                          field=flag.lstrip("-"))
    return int(s)


def _eval_models(s: str) -> int:
    """``--eval-models``: 0 (off) or a bank size (banks.check_eval_models, applied when the spec is built)."""
    if not str(s).strip().isdigit():
        raise ConfigError(f"--eval-models must be 0 (off) or a whole number of models, got '{s}'.",
                          field="eval_models")
    return int(s)


def _json_arg(s: str | None, what: str = "--params") -> dict:
    return parse_json_object(s, what)


def _findings(text: str | None) -> list[int]:
    """'--findings 1,3' -> [1, 3]; default all seven."""
    from ..reproduce import N_FINDINGS

    if not text:
        return list(range(1, N_FINDINGS + 1))
    items = _csv_list(text)
    if not items or not all(x.isdigit() and 1 <= int(x) <= N_FINDINGS for x in items):
        raise ConfigError(f"--findings must be a comma list of findings 1-{N_FINDINGS}, e.g. 1,3; got '{text}'.",
                          field="findings")
    return sorted({int(x) for x in items})
