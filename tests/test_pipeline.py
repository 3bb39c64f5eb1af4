"""The pipeline's caching: a run is computed once and served after; its key follows its configuration; the
read-only lookups compute nothing; a complete row needs no metric computed on demand."""
from __future__ import annotations

import pytest

from unlearn_core.methods import get_method
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store


@pytest.fixture()
def pipe(tmp_path):
    return Pipeline(Store(tmp_path), dataset="digits", model="mlp", device="cpu", train={"epochs": 3})


def test_lookups_compute_nothing_and_a_run_is_served_from_the_cache(pipe, monkeypatch):
    assert pipe.find_original(0) is None and pipe.find_run("ga", "random", 0.1, 0) is None
    assert pipe.store.list_runs() == []  # the lookups wrote nothing
    row = pipe.run("ga", "random", 0.1, 0)
    assert pipe.find_run("ga", "random", 0.1, 0)["key"] == row["key"]

    def boom(*a, **k):
        raise AssertionError("computed again")

    monkeypatch.setattr(type(get_method("ga")), "unlearn", boom)
    again = pipe.run("ga", "random", 0.1, 0)
    assert again["key"] == row["key"] and again["UA"] == row["UA"]
    assert pipe.run_metrics(pipe.find_run("ga", "random", 0.1, 0)) == {}  # a row of today is complete


def test_the_key_follows_the_configuration(pipe):
    a = pipe.run("ga", "random", 0.1, 0)
    b = pipe.run("ga", "random", 0.1, 0, {"epochs": 1})  # other hyperparameters: another run
    c = pipe.run("ga", "random", 0.1, 1)  # another seed: another θ_o and forget set
    assert len({a["key"], b["key"], c["key"]}) == 3
    assert a["theta_o"] == b["theta_o"] != c["theta_o"]
    assert a["forget_set_digest"] == b["forget_set_digest"] != c["forget_set_digest"]
