"""The capped-simplex projection of the BLO upper level (seed 000 Eq. 7)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from unlearn_core.errors import ConfigError
from unlearn_core.scores.blo import project_capped_simplex


def brute_force(a: np.ndarray, m: float) -> np.ndarray:
    """argmin ||w − a||² s.t. 0 ≤ w ≤ 1, Σw = m, by a generic constrained solver."""
    res = minimize(lambda w: ((w - a) ** 2).sum(), x0=np.full(len(a), m / len(a)), jac=lambda w: 2 * (w - a),
                   bounds=[(0, 1)] * len(a), constraints=[{"type": "eq", "fun": lambda w: w.sum() - m}],
                   method="SLSQP", options={"ftol": 1e-12, "maxiter": 500})
    return res.x


@pytest.mark.parametrize("seed", range(8))
def test_projection_matches_brute_force_and_constraints(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12))
    a = rng.normal(scale=rng.uniform(0.1, 3.0), size=n)
    m = float(rng.integers(1, n))
    w = project_capped_simplex(torch.tensor(a), m).double().numpy()
    assert w.sum() == pytest.approx(m, abs=1e-5)
    assert w.min() >= 0 and w.max() <= 1
    np.testing.assert_allclose(w, brute_force(a, m), atol=1e-4)


def test_projection_is_identity_inside_the_set_and_handles_large_inputs():
    w0 = torch.tensor([0.2, 0.5, 0.3, 1.0])
    torch.testing.assert_close(project_capped_simplex(w0, 2.0), w0, atol=1e-6, rtol=0)
    big = torch.randn(100_000) * 5
    w = project_capped_simplex(big, 1234)
    assert float(w.sum()) == pytest.approx(1234, abs=1e-2)
    assert float(w.min()) >= 0 and float(w.max()) <= 1


def test_projection_rejects_impossible_budget():
    with pytest.raises(ConfigError):
        project_capped_simplex(torch.zeros(3), 4)
