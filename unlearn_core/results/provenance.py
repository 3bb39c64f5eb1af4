"""Which θ_o every stored result was made with (pairing by content, superseded results)."""
from __future__ import annotations

from ..config import setup_key
from ..errors import ForgetsetError
from ..selectors import parse_selector
from ..store import Store, run_digest


class Provenance:
    """Which θ_o every stored result was made with, and which θ_o is current (pairing by content).

    The current θ_o of a (setup, seed) is the finished ``original`` run under its key (an import replaces it). An
    unlearning run names the θ_o digest it started from (``original``; Retrain has none) and the forget-set digest
    it used; a forget set depends on θ_o through the scores it was selected by (``inputs`` → score runs →
    their ``original``), or on none (random, class-wise). A run is *superseded* when any θ_o it depends on is not
    the current one, or when its provenance is unknown (rows stored before runs carried digests).
    """

    def __init__(self, store: Store):
        self.current: dict[tuple[str, int], str] = {}
        for r in store.list_runs("original", "done"):
            try:
                self.current[(setup_key(r["config"]), int(r["config"]["seed"]))] = run_digest(r)
            except (ForgetsetError, KeyError, TypeError, ValueError):
                continue
        score_theta: dict[str, str] = {}
        for r in store.list_runs("score", "done"):
            score_theta[run_digest(r)] = str(r["config"].get("original") or "")
        self.forget_theta: dict[str, frozenset[str] | None] = {}
        for r in store.list_runs("forget_set", "done"):
            inputs = r["config"].get("inputs") or {}
            deps = [score_theta.get(str(d)) for d in inputs.values()]
            self.forget_theta[run_digest(r)] = None if any(d is None for d in deps) else frozenset(d for d in deps if d)

    def of_run(self, cfg: dict) -> tuple[str, bool, str]:
        """(θ_o digest the run depends on — "" when none, superseded?, why) for an unlearning run's config."""
        fs = cfg.get("forget_set")
        if not fs:
            return "", True, "unknown provenance (stored before runs carried their forget-set digest)"
        try:
            cur = self.current.get((setup_key(cfg), int(cfg["seed"])))
        except (ForgetsetError, KeyError, TypeError, ValueError):
            return "", True, "unknown setup"
        deps = set()
        if cfg.get("original"):
            deps.add(str(cfg["original"]))
        fs_deps = self.forget_theta.get(str(fs))
        if fs_deps is None:
            try:
                needs = bool(parse_selector(cfg["selector"]).needs_scores())
            except ForgetsetError:
                needs = True
            if needs:
                return next(iter(deps), ""), True, "its forget set's provenance is unknown"
        else:
            deps |= set(fs_deps)
        theta = ",".join(sorted(deps))
        if cur is not None and any(d != cur for d in deps):
            return theta, True, "made with a θ_o that is no longer current"
        return theta, False, ""
