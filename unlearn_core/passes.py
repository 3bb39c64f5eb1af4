"""The unit of work of the cost model (:mod:`unlearn_core.cost`): a **sample pass** is one forward + backward of one
training sample. Methods and scores count their work in it (``cost_passes``); the cost model turns it into seconds.
"""
from __future__ import annotations

EVAL_PASS = 1.0 / 3.0  # a forward pass alone costs about a third of forward + backward
