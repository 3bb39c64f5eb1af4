"""Read-only views of stored results as data frames: runs, Table 3, ratio sweeps, scores, forget sets, samples.

Nothing here computes a model, a score or a forget set, and nothing writes to the store: every function reads
the :class:`~unlearn_core.store.Store` (through a :class:`~unlearn_core.pipeline.Pipeline`'s ``find_*`` lookups
where a key must be resolved) and returns data. Figures, captions and colours live in the dashboard. One module per
concept: :mod:`.provenance`, :mod:`.runs` (run rows, gaps to Retrain), :mod:`.table3` (statistics over seeds),
:mod:`.samples` (per-sample scores and ranks), :mod:`.forget_sets`, :mod:`.catalog` (methods' presets, data sets).
Metric names, labels and directions come from :mod:`unlearn_core.metrics.registry`.
"""
from __future__ import annotations

from .catalog import dataset_options, method_param_frame
from .forget_sets import (class_histogram_frame, forget_idx_of, forget_set_name, forget_sets, overlap_matrix,
                          set_score_frame)
from .provenance import Provenance
from .runs import (RUN_COLUMNS, SAME_SPLIT, mark_not_computed, metric_records, on_demand_columns, on_demand_todo,
                   results_for_setup, results_frame, run_configs, run_row, setups_in, store_runs_frame, with_gaps)
from .samples import (cached_scores, hard_ranks, hardest, hardness_order, load_score, original_predictions,
                      preferred_column, sample_details, sample_frame, trace_frame)
from .table3 import (METRIC_HELP, METRICS, STD_LABEL, TABLE3_NOTES, aggregate, bank_stat_columns, budget_label,
                     fmt_mean_std, format_original_fit, format_table3, gap_long, method_order, original_fit,
                     sweep_frame, table3, table3_csv, table3_metadata)

__all__ = ["dataset_options", "method_param_frame", "class_histogram_frame", "forget_idx_of", "forget_set_name",
           "forget_sets", "overlap_matrix", "set_score_frame", "Provenance", "RUN_COLUMNS", "SAME_SPLIT",
           "mark_not_computed", "metric_records", "on_demand_columns", "on_demand_todo", "results_for_setup",
           "results_frame", "run_configs", "run_row", "setups_in",
           "store_runs_frame", "with_gaps", "cached_scores", "hard_ranks", "hardest", "hardness_order", "load_score",
           "original_predictions", "preferred_column", "sample_details", "sample_frame", "trace_frame",
           "METRIC_HELP", "METRICS", "STD_LABEL", "TABLE3_NOTES", "aggregate", "bank_stat_columns", "budget_label",
           "fmt_mean_std", "format_original_fit", "format_table3", "gap_long", "method_order", "original_fit",
           "sweep_frame", "table3", "table3_csv", "table3_metadata"]
