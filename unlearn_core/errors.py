"""Errors the core raises for bad input. Each carries a message a user can act on.

The CLI and the dashboard catch :class:`ForgetsetError` and show its message instead of a traceback.
"""
from __future__ import annotations


class ForgetsetError(Exception):
    """Base class: a user-facing error with an actionable message."""


class ConfigError(ForgetsetError, ValueError):
    """An invalid configuration value (ratio out of range, unknown name, empty forget set, ...)."""


class DataNotFoundError(ForgetsetError, FileNotFoundError):
    """A data set's files are missing from the given root."""


class CheckpointError(ForgetsetError):
    """A checkpoint is corrupt, unreadable or belongs to another model / data set."""


class DivergenceError(ForgetsetError, ArithmeticError):
    """Training or unlearning produced a non-finite loss or weights."""


class CancelledError(ForgetsetError):
    """The job was cancelled by the user."""


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...]) -> ConfigError:
    """Build the error for an unknown registry name, listing the valid ones."""
    import difflib

    hint = difflib.get_close_matches(name, list(known), n=1)
    extra = f" Did you mean '{hint[0]}'?" if hint else ""
    return ConfigError(f"Unknown {kind} '{name}'. Choose one of: {', '.join(sorted(known))}.{extra}")
