"""Registry discovery: import every public module of a package, so that each registers itself (by decorator)."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Iterable


def import_submodules(package: str, skip: Iterable[str] = ()) -> None:
    """Import the modules of ``package`` in name order (registration order is discovery order), except ``skip``
    and private ``_name`` modules."""
    skip = set(skip)
    for mod in sorted(pkgutil.iter_modules(importlib.import_module(package).__path__), key=lambda m: m.name):
        if mod.name not in skip and not mod.name.startswith("_"):
            importlib.import_module(f"{package}.{mod.name}")
