"""forgetset compute core: which training samples are hard to unlearn?

Library layers: data sets (data.py) → models (models.py) → the trainer (training.py) → per-sample scores
(scores/) → forget-set selectors (selectors.py) → unlearning methods (methods/) → metrics (metrics.py) →
cached pipelines and grids (experiments.py) on a SQLite + artifact store (store.py); jobs.py runs them in the
background for the dashboard. No Streamlit here.
"""
__version__ = "0.1.0"
