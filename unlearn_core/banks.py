"""Model banks: N retrained and N unlearned models per (setup, forget set), stored as per-example outputs.

A bank *member* is one model, kept only as what the distribution tests need (``forget_quality``): its margin
φ = z_y − logsumexp_{j≠y} z_j on every training and test sample and whether it classifies each correctly
(a few KB for digits; the weights are not kept). Each member is a run of kind ``bank_member`` in the store, keyed by
the setup, its role, the forget set's indices (hash), θ_o's weights (hash, for unlearned members), the method's
resolved hyperparameters and its member index, so banks are reused by every method, metric, table and page, and an
interrupted bank resumes where it stopped.

Roles and seeds
    ``retrain``  member k: the Retrain recipe from scratch on D \\ D_f with seed 1000 + k (Retrain's convention,
                 ``methods/retrain.py``). Members 0..N−1 are the reference bank; N..2N−1 an independent bank that
                 evaluates Retrain itself (the control: it should score near the top).
    ``unlearn``  member k: METHOD applied to the one θ_o of the forget set's seed with method seed k
                 (Triantafillou et al.: all unlearned models start from one θ_o).
    ``original`` member k: the original recipe on all of D with seed k — θ_o's distribution over its training
                 seeds. Two baselines are evaluated from the banks: ``original`` = θ_o unchanged (the N unlearned
                 models are all θ_o itself: zero spread, so the competition's peaky rule gives every example the cap
                 ε and F = 0 — the floor) and ``original_seeds`` = this bank (nothing unlearned, but with the same
                 training randomness as the retrain bank: how far membership alone moves the outputs).

Retrain and original members are trained several at once (``ensemble.train_ensemble``) where stacking is measured
faster on this device (``ensemble.auto_model_batch``: the MLP on a CPU; never the small CNN on a CPU), else one at
a time; unlearned members run one at a time (each method has its own loop).

This module sits at the level of the methods and scores (a LiRA-like score uses it); everything that needs the
pipeline takes a pipeline object as an argument.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from .config import config_key
from .context import NULL_CONTEXT, RunContext
from .data import ImageDataset
from .errors import ConfigError
from .forget_quality import DEFAULT_ESTIMATOR, epsilons, klom, margins
from .io import array_digest, weights_digest
from .stats import sample_std
from .methods import UnlearnInput, get_method
from .metrics.bank_evaluation import BankComparison, compare_banks
from .ensemble import auto_model_batch, train_ensemble
from .training import TrainConfig, predict_logits, train_model

ROLES = ("retrain", "unlearn", "original")
PSEUDO_METHODS = ("original", "original_seeds")  # evaluated from banks like methods; not unlearning methods
BANK_CHUNK = 16  # members per grid unit (units run in parallel on workers / Ray)
RETAIN_SAMPLE = 1000  # retain examples KLoM is measured on
TEST_SAMPLE = 2000
MAX_EVAL_MODELS = 512
RETRAIN_SEED0 = 1000


def digest_indices(idx) -> str:
    """Content hash of a sorted index set (names a forget set wherever it came from)."""
    return array_digest(np.sort(np.asarray(idx, dtype=np.int64)))


digest_weights = weights_digest  # names θ_o in a member's key (io's one weights digest)


def check_eval_models(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not (n == 0 or 4 <= n <= MAX_EVAL_MODELS):
        raise ConfigError(f"eval models must be 0 (off) or an integer between 4 and {MAX_EVAL_MODELS}, got {n!r}.")
    return n


@dataclass
class BankContext:
    """Everything a bank member needs, without the pipeline: data, model, recipe, store, setup identity."""

    ds: ImageDataset
    model_name: str
    train_cfg: TrainConfig
    store: Any  # unlearn_core.store.Store (or None: nothing kept)
    base_config: dict

    @classmethod
    def of(cls, pipe) -> "BankContext":
        return cls(pipe.ds, pipe.model_name, pipe.train_cfg, pipe.store, pipe.base_config)


def member_config(bc: BankContext, role: str, member: int, forget_digest: str | None = None,
                  method: str | None = None, params: dict | None = None, original_digest: str | None = None) -> dict:
    if role not in ROLES:
        raise ConfigError(f"Unknown bank role '{role}' (use {', '.join(ROLES)}).")
    cfg = {"kind": "bank_member", **bc.base_config, "role": role, "member": int(member)}
    if role != "original":
        cfg["forget_set"] = forget_digest
    if role == "unlearn":
        cfg.update(method=method, params=params or {}, original=original_digest)
    return cfg


@torch.no_grad()
def member_outputs(model: torch.nn.Module, ds: ImageDataset) -> dict[str, np.ndarray]:
    """Margins and correctness of one model on every training and test sample (float32 / uint8)."""
    out = {}
    for split in ("train", "test"):
        logits = predict_logits(model, ds, split)
        y = ds.y_train if split == "train" else ds.y_test
        y = y.to(logits.device)
        out[split] = margins(logits, y).cpu().numpy().astype(np.float32)
        out[f"{split}_correct"] = (logits.argmax(1) == y).cpu().numpy().astype(np.uint8)
    return out


def _lookup(bc: BankContext, cfg: dict) -> dict[str, np.ndarray] | None:
    if bc.store is None:
        return None
    got = bc.store.lookup("bank_member", cfg, "arrays")
    if got is None:
        return None
    arrays = got[0]
    if arrays.get("train") is None or arrays["train"].shape != (bc.ds.n_train,):
        return None
    return arrays


def _put(bc: BankContext, cfg: dict, arrays: dict[str, np.ndarray], seconds: float) -> None:
    if bc.store is not None:
        bc.store.put("bank_member", cfg, arrays, fmt="arrays", timings={"train_s": seconds},
                     metrics={"train_acc": float(arrays["train_correct"].mean()),
                              "test_acc": float(arrays["test_correct"].mean())})


def ensure_members(bc: BankContext, role: str, members: Sequence[int], forget_idx=None, method: str | None = None,
                   params: dict | None = None, original: torch.nn.Module | None = None,
                   ctx: RunContext = NULL_CONTEXT, model_batch: int = 0,
                   background_writes: bool = True) -> tuple[list[dict], int]:
    """The outputs of bank members ``members`` (trained and stored where missing); returns (outputs, n_trained).

    ``model_batch``: models trained at once for retrain / original members; 0 = measured (auto_model_batch),
    1 = one at a time. ``background_writes``: store members on a writer thread while the next trains (False: in
    line, the benchmark's rival)."""
    ds = bc.ds
    fdig = digest_indices(forget_idx) if role != "original" else None
    m = None
    if role == "unlearn":
        m = get_method(method)
        if m.exact:
            raise ConfigError(f"'{method}' is exact; its bank is the retrain bank.")
        params = m.resolve_params(ds, params)
        odig = digest_weights(original)
    else:
        odig = None
    cfgs = [member_config(bc, role, k, fdig, method, params, odig) for k in members]
    outs: list[dict | None] = [_lookup(bc, c) for c in cfgs]
    todo = [i for i, o in enumerate(outs) if o is None]
    if not todo:
        return outs, 0  # type: ignore[return-value]
    forget_t = retain_t = None
    if role != "original":
        forget_t = torch.as_tensor(np.sort(np.asarray(forget_idx, dtype=np.int64)), device=ds.device)
        keep = torch.ones(ds.n_train, dtype=torch.bool, device=ds.device)
        keep[forget_t] = False
        retain_t = torch.nonzero(keep).squeeze(1)
    train_idx = torch.arange(ds.n_train, device=ds.device) if role == "original" else retain_t
    # Store writes (three short SQLite transactions and an fsync'd artifact per member: 30–45 ms each, profiled as
    # ~10% of a cold bank on digits) run on one writer thread while the next member trains; every write has
    # finished (or raised) before this function returns, also when training fails (the stored members resume).
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bank-writer") if background_writes else None
    pending: list = []

    def put(*a) -> None:
        if writer is None:
            _put(bc, *a)
        else:
            pending.append(writer.submit(_put, bc, *a))

    try:
        _train_members(bc, role, members, todo, outs, cfgs, m, method, params, original, forget_t, retain_t,
                       train_idx, ctx, model_batch, put)
    finally:
        if writer is not None:
            writer.shutdown(wait=True)
    for f in pending:
        f.result()  # a failed write raises here
    return outs, len(todo)  # type: ignore[return-value]


def _train_members(bc: BankContext, role: str, members: Sequence[int], todo: list[int], outs: list, cfgs: list[dict],
                   m, method: str | None, params: dict | None, original, forget_t, retain_t, train_idx,
                   ctx: RunContext, model_batch: int, put) -> None:
    """Train the ``todo`` members of :func:`ensure_members` into ``outs``; ``put(cfg, outputs, seconds)`` stores
    one."""
    ds = bc.ds
    done = 0
    if role in ("retrain", "original"):
        seed0 = RETRAIN_SEED0 if role == "retrain" else 0
        batch = model_batch or auto_model_batch(bc.model_name, ds, len(todo), bc.train_cfg)
        for g in range(0, len(todo), batch):
            group = todo[g:g + batch]
            sub = ctx.sub(done / len(todo), (done + len(group)) / len(todo))
            seeds = [seed0 + int(members[i]) for i in group]
            what = f"{role} bank members {[members[i] for i in group]}"
            t0 = time.perf_counter()
            if len(group) == 1:
                models = [train_model(bc.model_name, ds, train_idx, bc.train_cfg, seeds[0], ctx=sub, what=what)]
            else:
                models = train_ensemble(bc.model_name, ds, [train_idx] * len(group), bc.train_cfg, seeds, ctx=sub,
                                        what=what)
            sec = (time.perf_counter() - t0) / len(group)
            for i, model in zip(group, models):
                outs[i] = member_outputs(model, ds)
                put(cfgs[i], outs[i], sec)
            done += len(group)
            ctx.progress(done / len(todo), f"{role} bank: {done}/{len(todo)} models trained")
    else:
        for i in todo:
            t0 = time.perf_counter()
            inp = UnlearnInput(original, bc.model_name, ds, forget_t, retain_t, bc.train_cfg, int(members[i]),
                               ctx.sub(done / len(todo), (done + 1) / len(todo)))
            inp.store = bc.store
            model = m.unlearn(inp, params)
            if not all(torch.isfinite(p).all() for p in model.parameters()):
                raise ConfigError(f"{method}: bank member {members[i]} diverged (non-finite weights). Lower its "
                                  f"learning rate.")
            outs[i] = member_outputs(model, ds)
            if not (np.isfinite(outs[i]["train"]).all() and np.isfinite(outs[i]["test"]).all()):
                raise ConfigError(f"{method}: bank member {members[i]} diverged (non-finite outputs). Lower its "
                                  f"learning rate.")
            put(cfgs[i], outs[i], time.perf_counter() - t0)
            done += 1
            ctx.progress(done / len(todo), f"{method} bank: {done}/{len(todo)} runs")


def find_members(bc: BankContext, role: str, members: Sequence[int], forget_idx=None, method: str | None = None,
                 params: dict | None = None, original_digest: str | None = None) -> list[dict] | None:
    """Stored outputs of the members, or None when any is missing (nothing is computed)."""
    fdig = digest_indices(forget_idx) if role != "original" else None
    if role == "unlearn":
        params = get_method(method).resolve_params(bc.ds, params)
    outs = []
    for k in members:
        o = _lookup(bc, member_config(bc, role, k, fdig, method, params, original_digest))
        if o is None:
            return None
        outs.append(o)
    return outs


def count_stored(bc: BankContext, role: str, members: Sequence[int], forget_idx=None, method: str | None = None,
                 params: dict | None = None, original_digest: str | None = None) -> int:
    fdig = digest_indices(forget_idx) if role != "original" else None
    if role == "unlearn":
        params = get_method(method).resolve_params(bc.ds, params)
    return sum(bc.store is not None and bc.store.done_run(
        config_key(member_config(bc, role, k, fdig, method, params, original_digest))) is not None for k in members)


# ---------------------------------------------------------------------------------------------- which members
def bank_roles(method: str, n: int) -> tuple[tuple[str, range], tuple[str, range]]:
    """((role, members) of the bank evaluated, (role, members) of the reference retrain bank) for ``method``."""
    reference = ("retrain", range(0, n))
    if method == "retrain":
        return ("retrain", range(n, 2 * n)), reference  # an independent retrain bank: the control
    if method == "original_seeds":
        return ("original", range(0, n)), reference
    if method == "original":
        return ("copies", range(0, n)), reference  # θ_o itself, n times (no bank to store)
    return ("unlearn", range(0, n)), reference


def parse_members(text: str) -> range:
    a, b = (int(x) for x in text.split("-"))
    return range(a, b)


def member_chunks(n_members: int, start: int = 0, chunk: int = BANK_CHUNK) -> list[str]:
    return [f"{a}-{min(a + chunk, start + n_members)}" for a in range(start, start + n_members, chunk)]


def retain_sample(n_train: int, forget_idx, seed: int, size: int = RETAIN_SAMPLE) -> np.ndarray:
    """The fixed random retain examples KLoM is measured on (seeded by the forget set's seed)."""
    keep = np.setdiff1d(np.arange(n_train), np.asarray(forget_idx, dtype=np.int64))
    if keep.size <= size:
        return keep
    rng = np.random.default_rng([int(seed), 0x4B4C6F4D])
    return np.sort(rng.choice(keep, size=size, replace=False))


def test_sample(n_test: int, seed: int, size: int = TEST_SAMPLE) -> np.ndarray:
    if n_test <= size:
        return np.arange(n_test)
    rng = np.random.default_rng([int(seed), 0x54455354])
    return np.sort(rng.choice(n_test, size=size, replace=False))


# ---------------------------------------------------------------------------------------------- pipeline level
def _forget(pipe, selector: str, ratio: float | None, seed: int, compute: bool):
    if compute:
        return pipe.forget_set(selector, ratio, seed)
    run = pipe.find_forget_set(selector, ratio, seed)
    return None if run is None else pipe.load_forget_set(run)


def chunk_config(pipe, method: str, selector: str | None, ratio: float | None, seed: int, params: dict | None,
                 members: range, compute: bool = True) -> dict | None:
    """The configuration of a grid unit's chunk of a bank (a ``bank_chunk`` run listing its members' keys: what a
    cluster worker returns and the driver looks up). None when ``compute`` is False and the forget set or θ_o is
    not stored."""
    bc = BankContext.of(pipe)
    if method == "original_seeds":
        keys = [config_key(member_config(bc, "original", k)) for k in members]
    else:
        fs = _forget(pipe, selector, ratio, seed, compute)
        if fs is None:
            return None
        fdig = digest_indices(fs.forget_idx)
        if method == "retrain":
            keys = [config_key(member_config(bc, "retrain", k, fdig)) for k in members]
        else:
            if not compute and pipe.find_original(seed) is None:
                return None
            odig = digest_weights(pipe.original(seed))
            p = get_method(method).resolve_params(bc.ds, params)
            keys = [config_key(member_config(bc, "unlearn", k, fdig, method, p, odig)) for k in members]
    return {"kind": "bank_chunk", **bc.base_config, "method": method, "members": keys}


def run_bank_unit(pipe, method: str, selector: str | None, ratio: float | None, seed: int, params: dict | None,
                  members: range, ctx: RunContext = NULL_CONTEXT) -> dict:
    """A grid unit: members ``members`` of ``method``'s bank for the (selector, ratio, seed) forget set."""
    bc = BankContext.of(pipe)
    t0 = time.perf_counter()
    if method == "original_seeds":
        _, n_new = ensure_members(bc, "original", list(members), ctx=ctx)
    else:
        fs = pipe.forget_set(selector, ratio, seed, ctx.sub(0, 0.05))
        role = "retrain" if method == "retrain" else "unlearn"
        original = pipe.original(seed, ctx.sub(0, 0.05)) if role == "unlearn" else None
        _, n_new = ensure_members(bc, role, list(members), fs.forget_idx, method if role == "unlearn" else None,
                                  params, original, ctx.sub(0.05, 1.0))
    pipe._add_time(f"bank {method}", time.perf_counter() - t0)
    cfg = chunk_config(pipe, method, selector, ratio, seed, params, members)
    key = bc.store.put("bank_chunk", cfg, {"members": cfg["members"]}, fmt="json", metrics={"n_trained": n_new})
    return {"key": key, "hit": n_new == 0, "members": f"{members.start}-{members.stop}", "n_trained": n_new,
            "method": method}


@dataclass
class BankResult:
    comparison: BankComparison
    forget_idx: np.ndarray
    retain_idx: np.ndarray  # the retain sample
    test_idx: np.ndarray
    unlearned: dict[str, np.ndarray]  # split -> (N, n_split) margins
    retrained: dict[str, np.ndarray]
    n: int


def _stack(outs: list[dict], forget_idx, retain_idx, test_idx) -> tuple[dict, dict]:
    tr = np.stack([o["train"] for o in outs])
    te = np.stack([o["test"] for o in outs])
    trc = np.stack([o["train_correct"] for o in outs]).astype(np.float64)
    tec = np.stack([o["test_correct"] for o in outs]).astype(np.float64)
    keep = np.ones(tr.shape[1], dtype=bool)
    keep[forget_idx] = False
    marg = {"forget": tr[:, forget_idx], "retain": tr[:, retain_idx], "test": te[:, test_idx]}
    acc = {"forget": trc[:, forget_idx].mean(1), "retain": trc[:, keep].mean(1), "test": tec.mean(1)}
    return marg, acc


def bank_comparison(pipe, method: str, selector: str, ratio: float | None, seed: int, n: int,
                    params: dict | None = None, estimator: str = DEFAULT_ESTIMATOR,
                    compute_if_missing: bool = False, ctx: RunContext = NULL_CONTEXT) -> BankResult | None:
    """``method``'s bank against the reference retrain bank on the (selector, ratio, seed) forget set.

    ``method`` may be ``retrain`` (the control: an independent retrain bank) or ``original``. Returns None when a
    member is missing and ``compute_if_missing`` is False (nothing is computed then)."""
    check_eval_models(n)
    bc = BankContext.of(pipe)
    fs = _forget(pipe, selector, ratio, seed, compute_if_missing)
    if fs is None:
        return None
    (role, members), (rrole, rmembers) = bank_roles(method, n)
    if role in ("unlearn", "copies") and not compute_if_missing and pipe.find_original(seed) is None:
        return None
    original = pipe.original(seed) if role in ("unlearn", "copies") else None
    if compute_if_missing:
        ref, _ = ensure_members(bc, rrole, list(rmembers), fs.forget_idx, ctx=ctx.sub(0, 0.5))
        got = None
        if role != "copies":
            got, _ = ensure_members(bc, role, list(members), fs.forget_idx, method if role == "unlearn" else None,
                                    params, original, ctx.sub(0.5, 1.0))
        if role == "copies":
            got = [member_outputs(original, pipe.ds)] * n
    else:
        found = _stored_pair(pipe, method, fs.forget_idx, seed, n, params)
        if found is None:
            return None
        got, ref = found
    ds = pipe.ds
    forget_idx = np.sort(np.asarray(fs.forget_idx, dtype=np.int64))
    r_idx = retain_sample(ds.n_train, forget_idx, seed)
    t_idx = test_sample(int(ds.x_test.shape[0]), seed)
    mu, au = _stack(got, forget_idx, r_idx, t_idx)
    mr, ar = _stack(ref, forget_idx, r_idx, t_idx)
    comp = compare_banks(mu, mr, au, ar, estimator)
    comp.metrics.update({"UA_bank": 100 * (1 - float(au["forget"].mean())), "RA_bank": 100 * float(au["retain"].mean()),
                         "TA_bank": 100 * float(au["test"].mean())})
    return BankResult(comp, forget_idx, r_idx, t_idx, mu, mr, n)


def _stored_pair(pipe, method: str, forget_idx, seed: int, n: int,
                 params: dict | None = None) -> tuple[list[dict], list[dict]] | None:
    """(outputs of ``method``'s N models, outputs of the N reference retrained models) on this forget set, read from
    the store; None when a member (or θ_o, for a method or ``original``) is missing."""
    bc = BankContext.of(pipe)
    (role, members), (rrole, rmembers) = bank_roles(method, n)
    original = None
    if role in ("unlearn", "copies"):
        if pipe.find_original(seed) is None:
            return None
        original = pipe.original(seed)
    ref = find_members(bc, rrole, list(rmembers), forget_idx)
    if ref is None:
        return None
    if role == "copies":
        return [member_outputs(original, pipe.ds)] * n, ref
    got = find_members(bc, role, list(members), forget_idx, method if role == "unlearn" else None, params,
                       digest_weights(original) if role == "unlearn" else None)
    return None if got is None else (got, ref)


def sample_in_banks(pipe, sample: int, forget_sets: Sequence[tuple[str, float | None, int, Any]],
                    estimator: str = DEFAULT_ESTIMATOR) -> list[dict]:
    """One training sample under every stored bank of the forget sets that hold it: per (forget set, method with
    a bank — ``retrain`` = the control, ``original_seeds``, the preset-hyperparameter banks of the methods), at the
    largest N stored, the sample's ε (``estimator`` and the threshold test), its KLoM, and its margin under each
    unlearned and each retrained model (``unlearned``, ``retrained``: (N,) arrays). ``forget_sets``: (selector,
    ratio, seed, forget indices). Reads stored banks only; ``original`` (θ_o unchanged: ε at the cap) is left out."""
    have = stored_banks(pipe)
    rows = []
    for sel, ratio, seed, idx in forget_sets:
        idx = np.sort(np.asarray(idx, dtype=np.int64))
        if not np.isin(sample, idx):
            continue
        counts = {**have.get(digest_indices(idx), {}), **have.get("*", {})}
        methods = ["retrain", "original_seeds", *sorted(m for m in counts if m not in ("retrain", "original_seeds"))]
        for m in methods:
            n = max([k for k in N_LADDER if k <= available_n(counts, m)], default=0)
            if n < 4:
                continue
            found = _stored_pair(pipe, m, idx, int(seed), n)
            if found is None:
                continue
            u = np.array([o["train"][sample] for o in found[0]], dtype=np.float64)
            r = np.array([o["train"][sample] for o in found[1]], dtype=np.float64)
            rows.append({"selector": sel, "ratio": ratio, "seed": int(seed), "method": m, "n_models": n,
                         "eps": float(epsilons(u[:, None], r[:, None], estimator)[0]),
                         "eps_threshold": float(epsilons(u[:, None], r[:, None], "threshold")[0]),
                         "klom": float(klom(u[:, None], r[:, None])[0]), "estimator": estimator,
                         "unlearned": u, "retrained": r})
    return rows


def json_params(params: dict | None) -> str:
    return json.dumps(params or {}, sort_keys=True)


# ---------------------------------------------------------------------------------------------- read-only views
def stored_banks(pipe) -> dict[str, dict[str, int]]:
    """{forget-set digest: {bank: members stored from 0 without a gap}} for this setup; banks are ``retrain``,
    ``original_seeds`` (key "*" holds it: it has no forget set) and ``METHOD`` (its preset hyperparameters only)."""
    ident = {k: pipe.base_config[k] for k in ("dataset", "data_fingerprint", "model", "train")}
    have: dict[str, dict[str, set[int]]] = {}
    for r in pipe.store.list_runs("bank_member", "done"):
        c = r["config"]
        if any(c.get(k) != v for k, v in ident.items()):
            continue
        role = c.get("role")
        fs = c.get("forget_set") or "*"
        name = {"retrain": "retrain", "original": "original_seeds"}.get(role, c.get("method"))
        if role == "unlearn":
            try:
                if c.get("params") != get_method(name).resolve_params(pipe.ds, None):
                    continue
            except Exception:  # noqa: BLE001 - a method whose module is gone
                continue
        have.setdefault(fs, {}).setdefault(name, set()).add(int(c["member"]))
    out: dict[str, dict[str, int]] = {}
    for fs, banks in have.items():
        out[fs] = {}
        for name, ks in banks.items():
            n = 0
            while n in ks:
                n += 1
            out[fs][name] = n
    return out


def available_n(counts: dict[str, int], method: str) -> int:
    """The largest N a comparison of ``method`` can use with these stored counts (0 = none)."""
    ref = counts.get("retrain", 0)
    if method == "retrain":
        return ref // 2 if ref >= 8 else 0  # the control needs 2N: a reference and an independent bank
    if method == "original":
        return ref
    return min(ref, counts.get(method, 0))


def forget_quality_table(pipe, selector: str, ratio: float | None, seed: int, n: int,
                         methods: Sequence[str]) -> list[dict]:
    """One row of bank metrics per method (``retrain`` = the control, ``original``, ``original_seeds``) that has N
    stored models on this forget set; nothing is computed (methods without a full bank are left out)."""
    rows = []
    for m in methods:
        res = bank_comparison(pipe, m, selector, ratio, seed, n)
        if res is not None:
            rows.append({"method": m, **res.comparison.metrics})
    return rows


# ---------------------------------------------------------------------------------------------- tables of many sets
TABLE_METRICS = ("forget_quality", "score", "klom_forget_p95", "klom_retain_p95", "klom_test_p95")
N_LADDER = (4, 8, 16, 32, 64, 128, 256, 512)


def forget_set_banks(pipe, forget_sets: Sequence[tuple[str, float | None, int]]) -> dict[tuple, dict[str, int]]:
    """{(selector, ratio, seed): {bank: members stored} (:func:`stored_banks`)} for the stored forget sets among
    ``forget_sets`` (a set that is not stored is left out; ``original_seeds`` is the same bank for every set)."""
    have = stored_banks(pipe)
    shared = have.get("*", {})
    out: dict[tuple, dict[str, int]] = {}
    for sel, ratio, seed in forget_sets:
        fs = _forget(pipe, sel, ratio, int(seed), False)
        if fs is None:
            continue
        out[(sel, ratio, int(seed))] = {**have.get(digest_indices(fs.forget_idx), {}), **shared}
    return out


def n_choices(counts: Sequence[dict[str, int]], methods: Sequence[str]) -> list[int]:
    """The N (of ``N_LADDER``) at which at least one of ``methods`` (not ``original``, which needs only the
    reference) can be compared on at least one of the forget sets with these stored counts; ascending."""
    best = [available_n(c, m) for c in counts for m in methods if m != "original"]
    return [n for n in N_LADDER if any(b >= n for b in best)]


def bank_table_rows(pipe, forget_sets: Sequence[tuple[str, float | None, int]],
                    methods: Sequence[tuple[str, dict | None]], n: int, estimator: str = DEFAULT_ESTIMATOR,
                    ) -> list[dict]:
    """One row per (forget set, method) with N stored models: identity (selector, ratio, seed, method, params as
    JSON) and the bank metrics (``BankComparison.metrics``). ``methods``: (method, parameters) pairs, ``retrain``
    (evaluated against an independent retrain bank: the control) and ``original`` (θ_o unchanged) included as the
    caller wants them. Reads stored banks only; a pair without N stored models is left out."""
    check_eval_models(n)
    rows = []
    for sel, ratio, seed in forget_sets:
        for method, params in methods:
            res = bank_comparison(pipe, method, sel, ratio, int(seed), n, params or None, estimator=estimator)
            if res is not None:
                rows.append({"selector": sel, "ratio": ratio, "seed": int(seed), "method": method,
                             "params": json_params(params), **res.comparison.metrics})
    return rows


def summarise_bank_rows(rows: Sequence[dict], metrics: Sequence[str] = TABLE_METRICS) -> dict[tuple, dict]:
    """{(selector, method, params JSON): {metric: (mean, sample std (ddof = 1; NaN for one seed), n seeds)},
    "seeds": sorted seeds, "n_models": N}} over the seeds of :func:`bank_table_rows` (also the bank-mean accuracies
    ``UA_bank``, ``RA_bank``, ``TA_bank`` in %, where every row has them)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["selector"], r["method"], r["params"]), []).append(r)
    out = {}
    for key, g in groups.items():
        s = {}
        for m in [*metrics, *(k for k in ("UA_bank", "RA_bank", "TA_bank") if all(k in r for r in g))]:
            v = np.array([float(r[m]) for r in g], dtype=float)
            s[m] = (float(v.mean()), sample_std(v), len(v))
        s["seeds"] = sorted(int(r["seed"]) for r in g)
        s["n_models"] = int(g[0]["n_models"])
        out[key] = s
    return out
