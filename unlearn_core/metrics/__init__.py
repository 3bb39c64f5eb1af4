"""Unlearning metrics: a registry (:mod:`.registry`) of named, versioned metrics, one module per family.

UA, RA, TA (:mod:`.accuracy`), MIA-efficacy and its feature variants (:mod:`.mia`), gaps to Retrain and ToW
(:mod:`.retrain_gap`). All accuracies in percent. Over model banks (kind ``bank``): F, score, KLoM P95, U-LiRA
(:mod:`.bank_quality`), computed together by :func:`.bank_evaluation.compare_banks`.
``registry.get(name).label / direction / unit / formula / help / paper``.
"""
from __future__ import annotations

from . import registry

registry.load_all()  # first: registration (= column) order is discovery order (modules alphabetically)

from .bank_evaluation import BankComparison, BankView, Estimate, compare_banks  # noqa: E402
from .evaluation import EvalView, compute_metrics, eval_view, evaluate, evaluate_view  # noqa: E402
from .mia import (DEFAULT_MIA, MIA_VARIANTS, mia_efficacy_from_logits, mia_features, parse_mia_variants,  # noqa: E402
                  variant_metric)
from .registry import Metric, register_metric  # noqa: E402
from .retrain_gap import GAP_METRICS, gap_to_retrain, tug_of_war  # noqa: E402

__all__ = ["registry", "Metric", "register_metric", "EvalView", "eval_view", "evaluate", "evaluate_view",
           "compute_metrics", "DEFAULT_MIA", "MIA_VARIANTS", "mia_efficacy_from_logits", "mia_features",
           "parse_mia_variants", "variant_metric", "GAP_METRICS", "gap_to_retrain", "tug_of_war", "BankView",
           "Estimate", "BankComparison", "compare_banks"]
