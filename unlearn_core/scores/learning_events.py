"""Learning-event proxies of memorization (Zhao & Triantafillou 2024; used by Zhao et al., NeurIPS 2024, *What
makes unlearning hard and what to do about it*, as cheap stand-ins for Feldman & Zhang's memorization score).

What is recorded
    While the original model θ_o trains, every batch already goes through a forward pass. The trainer hands those
    training-mode logits to a recorder (``training.train_loop(on_outputs=...)``) which accumulates, per sample
    (indexed by its training-set id), over every epoch:

    - ``confidence``      p_y, the softmax probability of the true class;
    - ``max_confidence``  max_j p_j;
    - ``entropy``         −Σ_j p_j log p_j;
    - ``accuracy``        1[argmax_j p_j = y] (the "binary accuracy" learning event).

    The scores are their means over the training epochs (each sample is seen once per epoch). This is what the
    public RUM code records (``memorization_proxy/learning_events.py``: outputs of the training forward pass, before
    the optimizer step, averaged over epochs; it stores the *negative* entropy, here the entropy itself). The
    outputs are those of the model *during* training: augmented inputs where the recipe augments, BatchNorm in
    training mode, weights changing within the epoch. No extra pass: the loss and every update are exactly those of
    plain training, so θ_o's weights (and key) do not change.

Where they live
    The pipeline records them whenever it trains θ_o and stores the arrays as a run of kind ``learning_events``,
    keyed by the data, model, recipe, seed and the content hash of θ_o's weights (:func:`weights_digest`); the
    scores below only read them. A θ_o that was trained without recording (stacked with other seeds, imported, or
    made by an older release) gets a *replica* run: the recipe is re-run with recording on (one extra training);
    the replica's weights are compared with θ_o's (``extras["matches_original"]``: bit-identical on the same
    device), so the proxies always say what they describe.

Orientation (``hard_end``): Zhao et al. find that more memorized forget sets are harder to unlearn for most
methods, and low confidence / high entropy / low accuracy over training mark memorized samples, so the hard end is
"low" for confidence, max confidence and accuracy and "high" for entropy. This is the opposite direction to Chen
et al.'s loss ranking (low θ_o loss = hard to forget); the correlation matrix of ``analysis/hardness.py`` shows how
the two views relate on a given setup.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..io import weights_digest
from ..training import train_model
from .base import ScoreInput, ScoreResult, register_score

KIND = "learning_events"
EVENTS = ("confidence", "max_confidence", "entropy", "accuracy")


class EventRecorder:
    """Accumulates the learning events of every training sample from the trainer's per-batch logits.

    Use as ``train_loop(..., on_outputs=EventRecorder(ds.n_train, ds.device))``; :meth:`arrays` gives the means.
    """

    def __init__(self, n: int, device: torch.device | str = "cpu"):
        self.n = int(n)
        self.sums = torch.zeros(len(EVENTS), self.n, dtype=torch.float64, device=device)
        self.counts = torch.zeros(self.n, dtype=torch.float64, device=device)
        self.epochs_seen: set[int] = set()

    @torch.no_grad()
    def __call__(self, epoch: int, idx: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        logp = torch.log_softmax(logits.float(), dim=1)
        p = logp.exp()
        conf = p.gather(1, labels[:, None]).squeeze(1)
        pmax, pred = p.max(dim=1)
        ent = -(p * logp).sum(1)
        acc = (pred == labels).float()
        rows = torch.stack([conf, pmax, ent, acc]).double().to(self.sums.device)
        ib = idx.to(self.sums.device)
        self.sums.index_add_(1, ib, rows)
        self.counts.index_add_(0, ib, torch.ones_like(ib, dtype=torch.float64))
        self.epochs_seen.add(int(epoch))

    @property
    def empty(self) -> bool:
        return not self.epochs_seen

    def arrays(self) -> dict[str, np.ndarray]:
        """Per-sample means over the recorded epochs (NaN for a sample never seen) and the count of records."""
        counts = self.counts.cpu().numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            means = self.sums.cpu().numpy() / counts[None, :]
        out = {name: means[k].astype(np.float32) for k, name in enumerate(EVENTS)}
        out["count"] = counts.astype(np.float32)
        return out


def events_config(ds, model_name: str, train_cfg, seed: int, digest: str) -> dict:
    """The configuration (→ store key) of θ_o's learning events."""
    return {"kind": KIND, "data_fingerprint": ds.fingerprint(), "model": model_name, "train": train_cfg.to_dict(),
            "seed": int(seed), "weights": digest}


def store_events(store, ds, model_name: str, train_cfg, seed: int, model: torch.nn.Module | None,
                 recorder: EventRecorder, source: str = "recorded while training θ_o", matches_original: bool = True,
                 digest: str | None = None) -> str | None:
    """Store a recorder's arrays as θ_o's learning events, keyed by the weights of ``model`` (or ``digest``)."""
    if recorder.empty or store is None:
        return None
    arrays = recorder.arrays()
    meta = {"source": source, "matches_original": bool(matches_original), "epochs": sorted(recorder.epochs_seen)}
    digest = digest or weights_digest(model)
    return store.put(KIND, events_config(ds, model_name, train_cfg, seed, digest), arrays, fmt="arrays", meta=meta,
                     replace=True, metrics={"mean_confidence": float(np.nanmean(arrays["confidence"])),
                                            "epochs": len(recorder.epochs_seen)})


def learning_events(inp: ScoreInput) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """θ_o's learning events: from the store when recorded with θ_o, else from a replica training (stored)."""
    digest = weights_digest(inp.original)
    cfg = events_config(inp.ds, inp.model_name, inp.train_cfg, inp.seed, digest)
    if inp.store is not None:
        got = inp.store.lookup(KIND, cfg, "arrays")
        if got is not None and got[0]["confidence"].shape == (inp.ds.n_train,):
            return got[0], {**got[1], "key": got[2]["key"], "replica_trained_now": False}
    t0 = time.time()
    inp.ctx.log("learning events: θ_o was trained without recording them; re-running its recipe with recording "
                "(one extra training)")
    rec = EventRecorder(inp.ds.n_train, inp.ds.device)
    replica = train_model(inp.model_name, inp.ds, torch.arange(inp.ds.n_train), inp.train_cfg, inp.seed,
                          ctx=inp.ctx, what="learning events (replica of θ_o's training)", on_outputs=rec)
    matches = weights_digest(replica) == digest
    if not matches:
        inp.ctx.log("learning events: the replica's weights differ from θ_o's (another device, an imported or a "
                    "stacked-trained θ_o); the proxies describe a training run of the same recipe and seed")
    # Stored under θ_o's weights either way (with the flag), so the replica is never re-run for this θ_o.
    key = store_events(inp.store, inp.ds, inp.model_name, inp.train_cfg, inp.seed, None, rec,
                       source="replica of θ_o's training", matches_original=matches, digest=digest)
    return rec.arrays(), {"source": "replica of θ_o's training", "matches_original": matches, "key": key,
                          "epochs": sorted(rec.epochs_seen), "replica_trained_now": True,
                          "replica_s": time.time() - t0}


def _event_score(event: str):
    def fn(inp: ScoreInput) -> ScoreResult:
        if event not in EVENTS:
            raise ConfigError(f"Unknown learning event '{event}'.")
        arrays, info = learning_events(inp)
        values = np.asarray(arrays[event], dtype=np.float32)
        if not np.isfinite(values).all():  # a sample never drawn in a batch (cannot happen with full epochs)
            values = np.where(np.isfinite(values), values, np.nanmean(values)).astype(np.float32)
        extras = {"event": event, "source": info.get("source"), "matches_original": info.get("matches_original"),
                  "replica_trained_now": info.get("replica_trained_now"), "epochs": info.get("epochs")}
        return ScoreResult(values, extras=extras,
                           arrays={k: np.asarray(v, dtype=np.float32) for k, v in arrays.items() if k != event})

    return fn


_FREE = ("Recorded from the original model's own training forward passes (no extra pass; one replica training "
         "if θ_o was trained without recording).")
register_score("le_confidence", label="Learning-event confidence", hard_end="low",
               description="Mean true-class softmax confidence p_y over θ_o's training epochs (Zhao & Triantafillou "
                           "2024 learning-event proxy of memorization; low = memorized = hard to unlearn, Zhao et al. "
                           "2024). " + _FREE)(_event_score("confidence"))
register_score("le_max_confidence", label="Learning-event max confidence", hard_end="low",
               description="Mean max softmax confidence over θ_o's training epochs (learning-event proxy; low = "
                           "memorized = hard). " + _FREE)(_event_score("max_confidence"))
register_score("le_entropy", label="Learning-event entropy", hard_end="high",
               description="Mean softmax entropy over θ_o's training epochs (learning-event proxy; high = memorized "
                           "= hard). " + _FREE)(_event_score("entropy"))
register_score("le_accuracy", label="Learning-event accuracy", hard_end="low",
               description="Fraction of θ_o's training epochs in which the sample was classified correctly "
                           "(binary-accuracy learning event; low = memorized = hard). " + _FREE)(
    _event_score("accuracy"))
