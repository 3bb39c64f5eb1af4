"""Analysis views (issue 6): data for the dashboard's analysis pages, one module per view, no Streamlit.

Each view takes a :class:`~unlearn_core.experiments.Pipeline` (and a :class:`~unlearn_core.context.RunContext`
where it does real work), computes its data as cached, resumable steps in the pipeline's store (keyed by the
``config_key`` of the full configuration) and returns pandas DataFrames / numpy arrays ready to plot. Each
module has a ``CAPTION`` (how to read the picture) and a ``*_figure`` builder (plotly, no Streamlit).

- :mod:`.coreset`      coreset curves (seed 000 Fig. 3): :func:`coreset_curves`, :func:`coreset_figure`
- :mod:`.composition`  (label × spurious attribute) composition of forget sets (seed 000 Fig. 4):
                       :func:`composition`, :func:`composition_figure`
- :mod:`.embeddings`   PCA / UMAP of penultimate features: :func:`embedding`, :func:`embedding_figure`
- :mod:`.inspector`    one sample: scores + ranks, forget sets, predictions: :func:`inspect_sample`
"""
from __future__ import annotations

from ._common import ModelRef, cached_scores, penultimate_features
from .composition import CAPTION as COMPOSITION_CAPTION
from .composition import CompositionResult, composition, composition_figure
from .coreset import CAPTION as CORESET_CAPTION
from .coreset import CoresetResult, coreset_curves, coreset_figure, default_strategies
from .embeddings import CAPTION as EMBEDDING_CAPTION
from .embeddings import embedding, embedding_figure
from .inspector import CAPTION as INSPECTOR_CAPTION
from .inspector import SampleReport, inspect_sample

CAPTIONS = {"coreset": CORESET_CAPTION, "composition": COMPOSITION_CAPTION, "embeddings": EMBEDDING_CAPTION,
            "inspector": INSPECTOR_CAPTION}

__all__ = ["ModelRef", "cached_scores", "penultimate_features", "coreset_curves", "coreset_figure",
           "default_strategies", "CoresetResult", "composition", "composition_figure", "CompositionResult",
           "embedding", "embedding_figure", "inspect_sample", "SampleReport", "CAPTIONS", "CORESET_CAPTION",
           "COMPOSITION_CAPTION", "EMBEDDING_CAPTION", "INSPECTOR_CAPTION"]
