"""The typed Setup and the one setup key: every module that groups results by setup agrees on it."""
from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from unlearn_core import results
from unlearn_core.analysis import coreset
from unlearn_core.config import Setup, config_key, setup_key
from unlearn_core.errors import ConfigError
from unlearn_core.grid import ExperimentSpec, grid_status, run_experiment
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store

ROOT = Path(__file__).resolve().parents[1]


def test_setup_is_frozen_validated_and_round_trips():
    s = Setup(dataset="digits", train={"epochs": 5, "lr": None}, blo={"K": 2})
    assert s.train == {"epochs": 5}  # None overrides are dropped
    with pytest.raises(Exception):
        s.dataset = "mnist"  # frozen
    assert Setup.from_dict(s.to_dict()) == s
    # the older dict names still read
    assert Setup.from_dict({"dataset": "digits", "train_overrides": {"epochs": 5}, "blo_params": {"K": 2}}) == s
    with pytest.raises(ConfigError, match="Unknown setup fields"):
        Setup.from_dict({"datset": "digits"})
    with pytest.raises(ConfigError):
        Setup(dataset="")
    with pytest.raises(ConfigError):
        Setup(train=[1, 2])
    with pytest.raises(ConfigError, match="integer"):
        Setup(train={"epochs": "abc"}).resolve()
    with pytest.raises(ConfigError, match="no field"):
        Setup(train={"epoch": 3}).resolve()
    with pytest.raises(ConfigError, match="integer"):
        Setup(train={"epochs": True}).resolve()


def test_key_ignores_where_it_runs_but_not_what_it_computes():
    base = Setup(train={"epochs": 5})
    assert base.key() == base.replace(device="cpu").key() == Setup(model="mlp", train={"epochs": 5.0}).key()
    assert base.key() != Setup(train={"epochs": 6}).key()
    assert base.key() != Setup(dataset="biased_digits", train={"epochs": 5}).key()
    assert base.label().startswith("digits · mlp · 5 ep")


def test_every_module_computes_the_same_setup_key(tmp_path):
    """Setup.key(), the Pipeline, stored run configs, results frames, score and forget-set listings, the coreset
    view and the grid status all group by the same key (one function, config.setup_key)."""
    setup = Setup(train={"epochs": 3}, blo={"upper_iters": 2, "K": 1})
    store = Store(tmp_path)
    spec = ExperimentSpec(setup=setup, methods=["retrain", "ft"], selectors=["random", "worst"], ratios=[0.1],
                          seeds=[0])
    run_experiment(spec, store)
    pipe = Pipeline(store, setup)
    pipe.score("loss", 0)
    coreset.coreset_curves(pipe, (0.9,), seeds=(0,), strategies=["random"])
    key = setup.key()
    assert pipe.setup_key == key == setup.resolve().key
    for run in store.list_runs(status="done"):
        if {"dataset", "data_fingerprint", "model", "train"} <= set(run["config"]):
            assert setup_key(run["config"]) == key, run["kind"]
    df = results.results_frame(store)
    assert set(df["setup_id"]) == {key} and len(results.results_frame(store, key)) == len(df) == 4
    assert {e["name"] for e in results.cached_scores(pipe, 0)} >= {"loss", "blo"}
    assert len(results.forget_sets(pipe)) == 2
    assert len(coreset.stored_points(pipe)) == 1
    assert grid_status(spec, store)["cached"].all()
    # another setup sees none of it
    other = Pipeline(store, Setup(train={"epochs": 4}))
    assert other.setup_key != key
    assert results.cached_scores(other, 0) == [] and results.forget_sets(other).empty
    assert coreset.stored_points(other).empty


def test_no_other_module_hashes_a_configuration():
    """io.config_key is the one hashing function: no module imports hashlib to hash configurations
    (hashes of file contents and index sets are content digests, listed here)."""
    allowed = {"io.py", "analysis/_inputs.py", "scores/lira.py"}
    offenders = []
    for path in (ROOT / "unlearn_core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        rel = str(path.relative_to(ROOT / "unlearn_core"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if "hashlib" in names and rel not in allowed:
                    offenders.append(rel)
    assert not offenders, offenders


def test_user_facing_registry_text_cites_papers_by_authors():
    """Descriptions and preset notes shown in the CLI and the dashboard never use the project's internal paper
    numbers ('seed 000'); they cite authors and title."""
    import re

    from unlearn_core.methods import get_method, method_names
    from unlearn_core.scores import get_score, score_names

    texts = [get_score(s).description for s in score_names()]
    for m in method_names():
        meta = get_method(m).metadata()
        texts += [meta["description"], str(meta.get("preset_notes", ""))]
    assert not [t for t in texts if re.search(r"\bseeds? 00[0-3]\b", t)]


# ---------------------------------------------------------------------------------------------- parse once
BAD_INPUTS = [  # (field, compare's flags, the same in a job's / a typed spec's JSON)
    ("ratio", ["--ratios", "1.5"], {"ratios": [1.5]}),
    ("selector", ["--selectors", "top:nosuch"], {"selectors": ["top:nosuch"]}),
    ("seed", ["--seeds", "4294967296,"], {"seeds": [2**32]}),
]


@pytest.mark.parametrize("field, flags, json_fields", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_a_bad_value_is_one_error_naming_its_field_at_every_edge(field, flags, json_fields):
    """The CLI, a job's JSON and the typed spec all refuse it the same way: a ConfigError whose ``field`` names it."""
    from unlearn_core.cli.grids import experiment_from_args
    from unlearn_core.cli.parser import build_parser
    from unlearn_core.jobs.registry import get_job_kind
    from unlearn_core.spec import ExperimentSpec, parse

    errors = []
    args = build_parser().parse_args(["compare", "--epochs", "2", *flags])
    for attempt in (lambda: experiment_from_args(args),
                    lambda: get_job_kind("experiment").check({"spec": json_fields}),
                    lambda: ExperimentSpec(**json_fields),
                    lambda: parse(json.dumps(json_fields))):
        with pytest.raises(ConfigError) as err:
            attempt()
        errors.append(err.value)
    assert [e.field for e in errors] == [field] * 4, [(e.field, str(e)) for e in errors]
    assert all(type(e) is ConfigError and str(e) for e in errors)


def test_the_spec_is_frozen_and_parsing_is_idempotent():
    from unlearn_core.spec import ExperimentSpec, parse
    from unlearn_core.validation import Ratio

    raw = {"setup": {"train": {"epochs": 2}}, "selectors": [" random", "worst", "random"], "methods": ["ga"],
           "ratios": [0.1, 0.05, 0.1], "seeds": [2, 0, 2.0]}
    spec = parse(raw)
    assert parse(spec) is spec  # a parsed spec is trusted as is
    assert parse(spec.to_dict()) == spec and parse(json.dumps(spec.to_dict())) == spec
    assert spec.selectors == ("random", "worst") and spec.seeds == (2, 0) and spec.ratios == (0.1, 0.05)
    assert all(type(r) is Ratio for r in spec.ratios) and spec.selector("worst").score_requests[0].score == "blo"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seeds = (1,)
    with pytest.raises(ConfigError) as err:
        spec.replace(ratios=[0.0])  # a changed copy is parsed again
    assert err.value.field == "ratio"


def test_a_ratio_keys_runs_exactly_like_its_float():
    """Ratio is a float: configurations holding one hash to the same key, so cached runs stay found."""
    from unlearn_core.validation import Ratio

    for r in (0.1, 1 / 3, 0.05, 1e-3):
        assert config_key({"ratio": Ratio(r)}) == config_key({"ratio": r}) and json.dumps(Ratio(r)) == json.dumps(r)
    assert Ratio.parse("10%") == 0.1 and Ratio(Ratio(0.2)) == 0.2
    for bad in (0, 1, -0.5, float("nan"), True, "0.1"):
        with pytest.raises(ConfigError):
            Ratio(bad)
