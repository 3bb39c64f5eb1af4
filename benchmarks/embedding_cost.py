"""Measures the constants of the embedding jobs' time estimate (unlearn_core/jobs/estimate.py, ``view_embedding``):
UMAP and PCA of n × d penultimate features, each expressed in units of the cost model's CPU probe (one RBF SVC fit,
``cost._svc_seconds_per_kpair``) timed in the same run, so the estimate scales with this device's CPU speed and
load. Also the one-off cost of the first UMAP in a process (import + numba compilation).

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/embedding_cost.py [n ...]

Prints, per n, seconds and seconds / (svc probe · n^UMAP_EXPONENT), whose median is UMAP_PER_POINT_PROBES.
"""
from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from unlearn_core import cost
from unlearn_core.jobs.estimate import UMAP_EXPONENT


def main(ns: list[int]) -> None:
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    import umap  # noqa: F401 - timed: the first UMAP of a process pays import and compilation

    from unlearn_core.analysis.embeddings import reduce_pca, reduce_umap, UMAP_DEFAULTS

    x = rng.normal(size=(200, 64)).astype(np.float32)
    reduce_umap(x, 0, dict(UMAP_DEFAULTS))
    first = time.perf_counter() - t0
    probes = [cost._svc_seconds_per_kpair() for _ in range(3)]
    probe = statistics.median(probes)
    print(f"svc probe {probe:.4f} s/kpair (median of 3: {', '.join(f'{p:.4f}' for p in probes)})")
    print(f"first UMAP in a process (import + compile + 200 points): {first:.1f} s = {first / probe:.0f} probes")
    ratios = []
    for n in ns:
        x = rng.normal(size=(n, 64)).astype(np.float32)
        t = time.perf_counter()
        reduce_umap(x, 0, dict(UMAP_DEFAULTS))
        umap_s = time.perf_counter() - t
        t = time.perf_counter()
        reduce_pca(x, 0, {})
        pca_s = time.perf_counter() - t
        r = umap_s / (probe * n ** UMAP_EXPONENT)
        ratios.append(r)
        print(f"n={n}: UMAP {umap_s:.2f} s (ratio {r:.3g}), PCA {pca_s:.3f} s")
    print(f"UMAP_PER_POINT_PROBES ≈ {statistics.median(ratios):.3g} (median over n)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [500, 1000, 2000])
