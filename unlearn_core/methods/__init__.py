"""Unlearning methods: one module per method, each registering itself in ``METHODS`` (see base.py).

Adding a method = one file here + one test. ``load_all()`` (in base.py) imports every module of this package.
RSU (Chen et al., Forgetting Sequence) is a wrapper around any method: ``get_method("rsu:ga")`` etc., see rsu.py.
"""
from __future__ import annotations

from .base import (METHODS, UnlearnInput, UnlearnMethod, get_method, load_all, method_names, register_instance,
                   register_method, register_wrapper, validate_method_params)

__all__ = ["METHODS", "UnlearnInput", "UnlearnMethod", "get_method", "method_names", "register_method",
           "register_instance", "register_wrapper", "load_all", "validate_method_params"]
