"""Errors the core raises for bad input. Each carries a message a user can act on.

The CLI and the dashboard catch :class:`ForgetsetError` and show its message instead of a traceback.
"""
from __future__ import annotations


class ForgetsetError(Exception):
    """Base class: a user-facing error with an actionable message."""


class ConfigError(ForgetsetError, ValueError):
    """An invalid configuration value (ratio out of range, unknown name, empty forget set, ...).

    ``field`` names the input it is about (``ratio``, ``seeds``, ``selector``, ``method_params``, ...; empty when
    unknown) and ``hint`` says what to type instead. ``str(err)`` is the message followed by the hint, which is what
    the CLI and the dashboard print (never a traceback)."""

    def __init__(self, message: str = "", *, field: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.message, self.field, self.hint = message, field, hint

    def __str__(self) -> str:
        if not self.hint:
            return self.message
        return f"{self.message.rstrip('.')}; {self.hint}."

    def __reduce__(self):  # keeps field and hint across processes (grid workers, jobs)
        return (_config_error, (self.message, self.field, self.hint))

    def with_field(self, field: str) -> "ConfigError":
        """This error, naming ``field`` if it names none yet (an outer parser knows which input it parsed)."""
        if not self.field:
            self.field = field
        return self


def _config_error(message: str, field: str, hint: str) -> ConfigError:
    return ConfigError(message, field=field, hint=hint)


class DataNotFoundError(ForgetsetError, FileNotFoundError):
    """A data set's files are missing from the given root."""


class CheckpointError(ForgetsetError):
    """A checkpoint is corrupt, unreadable or belongs to another model / data set."""


class DivergenceError(ForgetsetError, ArithmeticError):
    """Training or unlearning produced a non-finite loss or weights."""


class CancelledError(ForgetsetError):
    """The job was cancelled by the user."""


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...], field: str = "") -> ConfigError:
    """Build the error for an unknown registry name, listing the valid ones."""
    import difflib

    hint = difflib.get_close_matches(name, list(known), n=1)
    extra = f" Did you mean '{hint[0]}'?" if hint else ""
    return ConfigError(f"Unknown {kind} '{name}'. Choose one of: {', '.join(sorted(known))}.{extra}",
                       field=field or kind.replace(" ", "_"))
