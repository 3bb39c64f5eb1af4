"""Unlearning methods: one module per method, each registering itself in ``METHODS`` (see base.py).

Adding a method = one file here + one test. ``load_all()`` imports every module of this package.
RSU (Chen et al., Forgetting Sequence) is a wrapper around any method: ``get_method("rsu:ga")`` etc., see rsu.py.
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import (METHODS, UnlearnInput, UnlearnMethod, get_method, method_names, register_instance, register_method,
                   register_wrapper)

_LOADED = False


def load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name not in ("base",) and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    _LOADED = True


__all__ = ["METHODS", "UnlearnInput", "UnlearnMethod", "get_method", "method_names", "register_method",
           "register_instance", "register_wrapper", "load_all"]
