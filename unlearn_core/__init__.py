"""forgetset compute core: which training samples are hard to unlearn? (No Streamlit here.)

Layers: atomic writes and content digests (io.py) → configuration (config.py: Setup, the one key function) → data
sets (data/) → models (models.py) → the trainer (training.py) → per-sample scores (scores/) → forget-set selectors
(selectors.py) → unlearning methods (methods/) → metrics (metrics.py) → the cached pipeline of one setup
(pipeline.py) → grids of units (grid.py; Ray: cluster/) → read-only result tables (results.py) → analyses
(analysis/); persistence in store/ (facade ``Store``); background jobs in jobs/.
"""
__version__ = "0.2.0"
