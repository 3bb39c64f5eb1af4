"""The job-kind registry: a job is ``(kind, config)``; ``kind`` names a registered function ``fn(config, env)``.

Each kind declares what it needs: ``resource="device"`` (it trains models: a GPU slot when there is one, else
a CPU slot) or ``resource="cpu"``; an optional ``check(config)`` validates input at submit time, so bad input
is refused before anything is queued. A kind is a function decorated with ``@register_job_kind`` in any module of
this package; :func:`load_all` imports them (discovery), so adding a kind is one module (or one function in
:mod:`.kinds`) plus a test. Tests may register their own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..context import RunContext
from ..errors import unknown_name
from ..store import Store
from ..discovery import import_submodules

RESOURCES = ("device", "cpu")


@dataclass
class JobEnv:
    """What a job function gets besides its config."""

    store: Store
    ctx: RunContext
    device: str = "auto"  # the device slot the manager assigned ("cpu", "cuda:0", ...)
    job_id: str = ""


@dataclass
class JobKind:
    name: str
    fn: Callable[[dict, JobEnv], dict]
    title: str = ""
    describe: Callable[[dict], str] | None = None  # one-line label from the config
    check: Callable[[dict], None] | None = None  # raise ForgetsetError for bad input (runs at submit time)
    resource: str = "device"

    @property
    def uses_device(self) -> bool:
        return self.resource == "device"

    def label(self, config: dict) -> str:
        if self.describe is not None:
            try:
                return self.describe(config)
            except Exception:  # noqa: BLE001 - a label must never break listing jobs
                pass
        return self.title or self.name


JOB_KINDS: dict[str, JobKind] = {}


def register_job_kind(name: str, *, title: str = "", describe: Callable[[dict], str] | None = None,
                      check: Callable[[dict], None] | None = None, resource: str = "device",
                      uses_device: bool | None = None, replace: bool = False):
    """Decorator registering ``fn(config, env) -> dict`` as job kind ``name``."""
    if uses_device is not None:
        resource = "device" if uses_device else "cpu"
    if resource not in RESOURCES:
        raise ValueError(f"resource must be one of {RESOURCES}")

    def deco(fn: Callable[[dict, JobEnv], dict]):
        if name in JOB_KINDS and not replace:
            raise ValueError(f"job kind '{name}' registered twice")
        JOB_KINDS[name] = JobKind(name, fn, title or name, describe, check, resource)
        return fn

    return deco


# Modules of this package that define no job kind (everything else is imported by load_all).
_NOT_KINDS = {"registry", "runtime", "estimate", "job_config"}
_LOADED = False


def load_all() -> None:
    """Import every module of this package that may register job kinds (discovery)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import_submodules(__name__.rpartition(".")[0], _NOT_KINDS)


def get_job_kind(name: str) -> JobKind:
    load_all()
    if name not in JOB_KINDS:
        raise unknown_name("job kind", name, list(JOB_KINDS))
    return JOB_KINDS[name]


def execute_job(kind: str, config: dict, store: Store, ctx: RunContext, device: str = "auto", job_id: str = "") -> dict:
    """Run one job body synchronously (what a local worker thread, or a remote worker, calls)."""
    spec = get_job_kind(kind)
    result = spec.fn(config, JobEnv(store, ctx, device, job_id))
    return dict(result or {})
