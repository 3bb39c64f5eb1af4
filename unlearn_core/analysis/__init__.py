"""Analyses behind the dashboard's analysis pages, one module per analysis; they return data, never figures.

Each analysis takes a :class:`~unlearn_core.pipeline.Pipeline` (and a :class:`~unlearn_core.context.RunContext`
where it does real work), computes its data as cached, resumable runs in the pipeline's store and returns
pandas DataFrames / numpy arrays. Figures, captions and colours live in the dashboard (``dashboard/charts.py``).

- :mod:`.coreset`      coreset curves (Fan et al., Fig. 3): :func:`coreset_curves`, :func:`coreset.stored_result`
- :mod:`.composition`  (label × spurious attribute) composition of forget sets (Fan et al., Fig. 4)
- :mod:`.embeddings`   PCA / UMAP of penultimate features: :func:`embedding`
- :mod:`.inspector`    one sample: scores + ranks, forget sets, predictions: :func:`inspect_sample`
- :mod:`.correlation`  relations between scores (Spearman tables, binned relations; Chen et al., Fig. 5)
"""
from __future__ import annotations

from ._inputs import ModelRef, load_cached_scores, penultimate_features
from .correlation import binned_relation, score_correlation
from .composition import CompositionResult, composition
from .coreset import CoresetResult, coreset_curves, default_strategies
from .embeddings import embedding
from .inspector import SampleReport, inspect_sample

__all__ = ["ModelRef", "load_cached_scores", "penultimate_features", "coreset_curves", "default_strategies",
           "CoresetResult", "composition", "CompositionResult", "embedding", "inspect_sample", "SampleReport",
           "binned_relation", "score_correlation"]
