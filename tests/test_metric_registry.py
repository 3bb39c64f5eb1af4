"""The metric registry: a metric added later appears for cached runs without re-running unlearning; raising a
metric's version recomputes that metric only; the stored values of existing metrics are the ones the formulas give,
bit for bit, and rows stored before versions existed read as version 1."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from unlearn_core.config import config_key
from unlearn_core.errors import ConfigError
from unlearn_core.methods import get_method
from unlearn_core.metrics import (MIA_VARIANTS, Metric, evaluate, evaluate_view, mia_efficacy_from_logits,
                                  parse_mia_variants, registry)
from unlearn_core.pipeline import Pipeline
from unlearn_core.results import mark_not_computed, on_demand_columns, results_frame
from unlearn_core.store import Store, run_digest
from unlearn_core.training import predict_logits


@pytest.fixture()
def cached_run(tmp_path):
    pipe = Pipeline(Store(tmp_path), dataset="digits", model="mlp", device="cpu", train={"epochs": 3})
    row = pipe.run("ft", "random", 0.1, 0)
    return pipe, row


def _no_unlearning(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("unlearning ran again")

    monkeypatch.setattr(type(get_method("ft")), "unlearn", boom)


def test_registry_entries_carry_label_direction_unit_formula_version():
    for name in ("UA", "RA", "TA", "MIA", "avg_gap", "ToW"):
        m = registry.get(name)
        assert m.label and m.formula and m.direction in ("higher", "lower") and m.version >= 1
    assert registry.get("avg_gap").direction == "lower" and registry.get("UA").unit == "%"
    assert registry.names("model")[:3] == ["UA", "RA", "TA"]  # stored column order as before the registry
    with pytest.raises(Exception, match="metric"):
        registry.get("no_such_metric")


def test_a_metric_added_later_appears_for_a_cached_run_without_unlearning_again(cached_run, monkeypatch):
    pipe, row = cached_run
    calls = []

    def margin(view) -> float:  # mean top-1 minus top-2 logit on D_f: a throwaway metric
        calls.append(1)
        top = view.logits_forget.float().topk(2, dim=1).values
        return float((top[:, 0] - top[:, 1]).mean())

    new = Metric("forget_margin", "forget margin", "lower", "logit", "mean(top1 − top2 logit on D_f)", 1, margin)
    _no_unlearning(monkeypatch)
    n_unlearn = len(pipe.store.list_runs("unlearn"))
    with registry.replaced(new):
        again = pipe.run("ft", "random", 0.1, 0)
        assert again["forget_margin"] == pytest.approx(_margin_by_hand(pipe), abs=0)
        assert again["finished"] == row["finished"]  # the run row itself is the one stored before
        assert len(calls) == 1
        pipe.run("ft", "random", 0.1, 0)  # the record is read, not recomputed
        assert len(calls) == 1
        df = results_frame(pipe.store)  # read-only views see it too
        assert df.loc[df["method"] == "ft", "forget_margin"].iloc[0] == again["forget_margin"]
        for name in ("UA", "RA", "TA", "MIA"):
            assert again[name] == row[name]
    assert len(pipe.store.list_runs("unlearn")) == n_unlearn
    assert "forget_margin" not in results_frame(pipe.store)  # gone with its registration


def _margin_by_hand(pipe) -> float:
    run = pipe.find_run("ft", "random", 0.1, 0)
    model = pipe._build(*pipe.store.decode("model", run), "test")
    fs = pipe.forget_set("random", 0.1, 0)
    top = predict_logits(model, pipe.ds, "train")[torch.as_tensor(fs.forget_idx)].float().topk(2, dim=1).values
    return float((top[:, 0] - top[:, 1]).mean())


def test_raising_a_version_recomputes_that_metric_only(cached_run, monkeypatch):
    pipe, row = cached_run
    counts = {n: 0 for n in registry.names("model")}
    for name in counts:  # count every metric computation
        m = registry.get(name)

        def counted(view, _fn=m.fn, _n=name):
            counts[_n] += 1
            return _fn(view)

        monkeypatch.setitem(registry._METRICS, name, dataclasses.replace(m, fn=counted))
    _no_unlearning(monkeypatch)
    ta = registry.get("TA")
    with registry.replaced(dataclasses.replace(ta, version=2)):
        again = pipe.run("ft", "random", 0.1, 0)
        assert counts["TA"] == 1 and sum(counts.values()) == 1  # TA v2 only: no UA, RA, MIA recomputed
        assert again["TA"] == row["TA"]  # same formula: the same number, now stored as a v2 record
        rec = pipe.store.list_runs("metric", "done")
        assert [(r["config"]["metric"], r["config"]["version"]) for r in rec] == [("TA", 2)]
        stored = pipe.find_run("ft", "random", 0.1, 0)["metrics"]
        assert "metric_versions" not in stored and stored["TA"] == row["TA"]  # the v1 value is kept, never lost
    # back at version 1: the stored value is current again, nothing recomputed
    assert pipe.run("ft", "random", 0.1, 0)["TA"] == row["TA"] and counts["TA"] == 1


def test_a_stale_value_without_a_record_is_not_shown_as_current(cached_run):
    pipe, row = cached_run
    with registry.replaced(dataclasses.replace(registry.get("UA"), version=3)):
        df = results_frame(pipe.store)  # read-only: nothing computed
        assert df["UA"].isna().all() and (df["RA"] == row["RA"]).any()


def test_stored_values_are_the_formulas_bit_for_bit_and_old_rows_read_as_version_1(cached_run):
    pipe, row = cached_run
    run = pipe.find_run("ft", "random", 0.1, 0)
    assert "metric_versions" not in run["metrics"]  # a run of today stores exactly what it stored before
    assert all(registry.is_current(n, run["metrics"]) for n in registry.run_time_names())
    model = pipe._build(*pipe.store.decode("model", run), "test")
    fs = pipe.forget_set("random", 0.1, 0)
    lt, lte = predict_logits(model, pipe.ds, "train"), predict_logits(model, pipe.ds, "test")
    keep = np.ones(pipe.ds.n_train, dtype=bool)
    keep[fs.forget_idx] = False
    f, r = torch.as_tensor(fs.forget_idx), torch.as_tensor(np.flatnonzero(keep))
    y, yt = pipe.ds.y_train, pipe.ds.y_test
    acc = lambda lg, yy: float((lg.argmax(1) == yy).float().mean().item())  # noqa: E731
    assert row["UA"] == 100.0 * (1.0 - acc(lt[f], y[f]))
    assert row["RA"] == 100.0 * acc(lt[r], y[r])
    assert row["TA"] == 100.0 * acc(lte, yt)
    assert row["MIA"] == row["MIA_confidence"] == mia_efficacy_from_logits(lt[r], y[r], lte, yt, lt[f], y[f],
                                                                          "confidence", 0)


# ---------------------------------------------------------------------------------------------- on-demand metrics
ON_DEMAND = ["MIA_correctness", "MIA_entropy", "MIA_m_entropy", "MIA_prob"]


def test_a_new_run_computes_only_the_confidence_mia_and_its_key_ignores_the_variants(cached_run):
    pipe, row = cached_run
    assert registry.on_demand_names() == ON_DEMAND and "MIA_confidence" in registry.run_time_names()
    run = pipe.find_run("ft", "random", 0.1, 0)
    assert not set(ON_DEMAND) & set(run["metrics"]) and not set(ON_DEMAND) & set(row)
    assert run["timings"]["mia_svc_s"] > 0  # the confidence fit's time: what the dashboard's estimate reads
    cfg = run["config"]
    assert "mia" not in json.dumps(cfg).lower()  # the variants asked for are no part of the run's key
    fs = pipe.find_forget_set("random", 0.1, 0)
    assert config_key(pipe.run_config("ft", "random", 0.1, 0, None, run_digest(fs), cfg["original"])) == run["key"]
    assert pipe.run("ft", "random", 0.1, 0)["key"] == row["key"]


def test_asking_computes_a_variant_from_the_stored_model_as_the_all_variants_evaluation_did(cached_run,
                                                                                          monkeypatch):
    pipe, row = cached_run
    run = pipe.find_run("ft", "random", 0.1, 0)
    # the old evaluation (every variant with every run) on the same stored model, same split, same seed
    model = pipe._build(*pipe.store.decode("model", run), "test")
    fs = pipe.forget_set("random", 0.1, 0)
    keep = np.ones(pipe.ds.n_train, dtype=bool)
    keep[fs.forget_idx] = False
    old = evaluate(model, pipe.ds, torch.as_tensor(fs.forget_idx), torch.as_tensor(np.flatnonzero(keep)),
                   seed=fs.seed, mia_variants=MIA_VARIANTS)
    assert old["MIA"] == row["MIA"] and old["MIA_confidence"] == row["MIA_confidence"]  # bitwise
    _no_unlearning(monkeypatch)
    got = pipe.on_demand_metrics([run["key"]], ["MIA_entropy", "MIA_prob"])[run["key"]]
    # bitwise: the same logits (same weights, same CPU forward) and each variant's own generator seeded by the seed
    assert got == {"MIA_entropy": old["MIA_entropy"], "MIA_prob": old["MIA_prob"]}
    recs = pipe.store.list_runs("metric", "done")
    assert sorted(r["config"]["metric"] for r in recs) == ["MIA_entropy", "MIA_prob"]
    again = pipe.run("ft", "random", 0.1, 0, extra_metrics=ON_DEMAND)  # two read, two computed now
    assert {n: again[n] for n in ON_DEMAND} == {n: old[n] for n in ON_DEMAND}
    assert len(pipe.store.list_runs("metric", "done")) == 4 and again["finished"] == row["finished"]
    stored = pipe.find_run("ft", "random", 0.1, 0)
    assert stored["key"] == row["key"] and not set(ON_DEMAND) & set(stored["metrics"])  # the run is untouched
    df = results_frame(pipe.store)
    assert df.loc[df["key"] == row["key"], "MIA_m_entropy"].iloc[0] == old["MIA_m_entropy"]


def test_an_old_cache_with_every_variant_stored_shows_them_without_recomputing(tmp_path, monkeypatch):
    import unlearn_core.pipeline as pipeline_mod

    # a run stored the way every run was before (all five variants computed with the run)
    monkeypatch.setattr(pipeline_mod, "evaluate_view", lambda view: evaluate_view(view, MIA_VARIANTS))
    pipe = Pipeline(Store(tmp_path), dataset="digits", model="mlp", device="cpu", train={"epochs": 2})
    row = pipe.run("ft", "random", 0.1, 0)
    assert set(ON_DEMAND) <= set(row)
    monkeypatch.undo()

    def no_svc(*a, **k):
        raise AssertionError("a stored variant was recomputed")

    monkeypatch.setattr(registry, "get", lambda n, _g=registry.get: dataclasses.replace(_g(n), fn=no_svc))
    got = pipe.on_demand_metrics([row["key"]], ON_DEMAND)[row["key"]]
    assert got == {n: row[n] for n in ON_DEMAND}
    assert pipe.store.list_runs("metric") == []
    assert on_demand_columns(results_frame(pipe.store)) == ON_DEMAND  # shown without being asked for


def test_a_missing_variant_reads_not_computed_and_a_bad_name_is_a_config_error(cached_run):
    pipe, row = cached_run
    df = results_frame(pipe.store)
    assert on_demand_columns(df) == [] and on_demand_columns(df, ["MIA_entropy"]) == ["MIA_entropy"]
    shown = mark_not_computed(df, ["MIA_entropy"])
    assert list(shown["MIA_entropy"]) == [registry.NOT_COMPUTED] * len(df) == ["not computed"] * len(df)
    assert shown["MIA"].equals(df["MIA"])  # the computed columns keep their numbers
    with pytest.raises(ConfigError, match="MIA_bogus"):
        pipe.on_demand_metrics([row["key"]], ["MIA_bogus"])
    with pytest.raises(ConfigError, match="'bogus'.*confidence, correctness"):
        parse_mia_variants("entropy,bogus")
    with pytest.raises(ConfigError, match="No finished unlearning run"):
        pipe.on_demand_metrics(["0" * 64], ["MIA_entropy"])
    assert parse_mia_variants("all") == MIA_VARIANTS and parse_mia_variants("none") == ()
    assert parse_mia_variants("MIA_prob, entropy") == ("entropy", "prob")


def test_the_run_metrics_job_refuses_bad_input_at_submit_time():
    from unlearn_core.jobs import get_job_kind

    check = get_job_kind("run_metrics").check
    check({"run_keys": ["a" * 64], "metrics": ["MIA_entropy"]})
    with pytest.raises(ConfigError, match="MIA_bogus"):
        check({"run_keys": ["a" * 64], "metrics": ["MIA_bogus"]})
    with pytest.raises(ConfigError, match="run keys"):
        check({"run_keys": [], "metrics": ["MIA_entropy"]})
    with pytest.raises(ConfigError, match="model metric 'avg_gap'"):
        check({"run_keys": ["a" * 64], "metrics": ["avg_gap"]})  # computed when results are read, never stored


def test_a_worst_case_run_is_evaluated_on_its_own_forget_set_never_on_another_blo_s(tmp_path):
    from unlearn_core.pipeline import setup_of_run

    store = Store(tmp_path)
    pipe = Pipeline(store, dataset="digits", model="mlp", device="cpu", train={"epochs": 2},
                    blo={"upper_iters": 2, "K": 1})
    row = pipe.run("ft", "worst", 0.1, 0)
    other = Pipeline(store, dataset="digits", model="mlp", device="cpu", train={"epochs": 2},
                     blo={"upper_iters": 3, "K": 1})
    n_sets = len(store.list_runs("forget_set"))
    with pytest.raises(ConfigError, match="another forget set"):
        other.on_demand_metrics([row["key"]], ["MIA_entropy"])
    assert len(store.list_runs("forget_set")) == n_sets  # refused before a BLO of other parameters ran
    own = Pipeline(store, setup_of_run(pipe.find_run("ft", "worst", 0.1, 0)["config"], "cpu"))
    assert own.setup_key == pipe.setup_key
    assert own.on_demand_metrics([row["key"]], ["MIA_entropy"]) == pipe.on_demand_metrics([row["key"]], ["MIA_entropy"])
