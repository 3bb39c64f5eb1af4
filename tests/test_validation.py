"""The validation layer: parameter types and ranges, declared rules, seeds, ratios, data arrays, model size."""
from __future__ import annotations

import numpy as np
import pytest

from unlearn_core.errors import ConfigError
from unlearn_core.methods import validate_method_params
from unlearn_core.validation import (Rule, check_output_file, check_param, check_params, check_seed, parse_ratios,
                                     parse_seeds)


@pytest.mark.parametrize("value, default, expected", [
    (5, 10, 5), (5.0, 10, 5), (0.5, 0.1, 0.5), (2, 0.1, 2.0), (True, False, True), (0, True, False),
    ("false", True, False), ("yes", False, True), ("sgd", "adam", "sgd"), (None, None, None), ("x", None, "x"),
])
def test_values_are_typed_by_their_default(value, default, expected):
    got = check_param("M", "p", value, default, Rule(min=None))
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value, default, message", [
    ("abc", 10, "must be an integer"), (True, 10, "must be an integer"), (1.5, 10, "whole number"),
    ("0.1", 0.1, "must be a number"), (float("nan"), 0.1, "finite"), (float("inf"), 10, "finite"),
    (0.5, True, "true or false"), (1.0, True, "true or false"), ("maybe", True, "true or false"),
    (5, "sgd", "must be a string"), (None, 10, "cannot be null"), ([1], 0.1, "must be a number"),
])
def test_wrong_types_are_refused(value, default, message):
    with pytest.raises(ConfigError, match=message):
        check_param("M", "p", value, default)


def test_ranges_by_name_declared_rules_and_automatic_zero():
    with pytest.raises(ConfigError, match=r"\[0, 1000\]"):
        check_param("M", "epochs", 1001, 10)
    with pytest.raises(ConfigError, match=r"\(0, 1e6\]"):
        check_param("M", "ascent_lr", 0, 0.1)
    with pytest.raises(ConfigError, match="fraction"):
        check_param("M", "val_fraction", 1.5, 0.5)
    with pytest.raises(ConfigError, match=">= 0"):
        check_param("M", "alpha", -1e-9, 0.5)
    assert check_param("M", "shift", -3.0, 0.0, {"min": None}) == -3.0  # a declared rule wins
    assert check_param("M", "batch_size", 0, 0) == 0  # 0 = automatic where the default is 0
    with pytest.raises(ConfigError, match="or 0 \\(automatic\\)"):
        check_param("M", "batch_size", -1, 0)
    with pytest.raises(ConfigError, match="at least|batch size"):
        check_param("M", "batch_size", 0, 64)
    with pytest.raises(ConfigError, match="one of a, b"):
        check_param("M", "mode", "c", "a", {"choices": ["a", "b"]})
    with pytest.raises(ConfigError, match="Did you mean 'epochs'"):
        check_params("M", {"epoch": 3}, {"epochs": 10})


def test_methods_and_scores_declare_rules_through_their_hooks(monkeypatch, digits):
    from unlearn_core.methods import get_method
    from unlearn_core.scores import get_score

    ft = get_method("ft")
    monkeypatch.setattr(type(ft), "param_rules", {"epochs": {"min": 2, "max": 4}})
    with pytest.raises(ConfigError, match=r"\[2, 4\]"):
        ft.resolve_params(digits, {"epochs": 5})
    assert ft.resolve_params(digits, {"epochs": 3})["epochs"] == 3
    spec = get_score("loss")
    monkeypatch.setattr(spec, "defaults", {"k": 3})
    monkeypatch.setattr(spec, "param_rules", {"k": {"min": 1, "max": 5}})
    with pytest.raises(ConfigError, match=r"Score 'loss': 'k' must be in \[1, 5\]"):
        spec.resolve_params({"k": 9})


def test_blo_parameters_are_checked_before_anything_runs():
    from unlearn_core.scores import get_score

    blo = get_score("blo")
    for bad in ({"K": 0}, {"upper_iters": -1}, {"beta": 0}, {"granularity": "pixel"}, {"batch_size": -4},
                {"lower": "sgd"}, {"K": True}):
        with pytest.raises(ConfigError):
            blo.resolve_params(bad)
    assert blo.resolve_params({"batch_size": 0, "K": 2.0})["K"] == 2


def test_method_params_without_data():
    assert validate_method_params("ft", {"epochs": 3.0}) == {"epochs": 3}
    with pytest.raises(ConfigError, match="takes no hyperparameters"):
        validate_method_params("retrain", {"epochs": 3})
    with pytest.raises(ConfigError, match="no hyperparameter 'nope'"):
        validate_method_params("rsu:ga", {"nope": 1})


def test_seeds_and_ratios():
    assert check_seed(2**32 - 1) == 2**32 - 1 and check_seed(3.0) == 3
    for bad in (-1, 2**32, True, "3", 1.5):
        with pytest.raises(ConfigError):
            check_seed(bad)
    assert parse_seeds("3") == [0, 1, 2] and parse_seeds("5,5,1") == [5, 1]
    for bad in ("0", "4294967296", "10001", "a", "1,-2"):
        with pytest.raises(ConfigError):
            parse_seeds(bad)
    assert parse_ratios("10%,0.1,0.2") == [0.1, 0.2]
    with pytest.raises(ConfigError, match="limit"):
        parse_ratios(",".join(["0.1"] * 101))


def test_output_files_are_checked_up_front(tmp_path):
    assert check_output_file(str(tmp_path / "a.csv"), "--out") == tmp_path / "a.csv"
    with pytest.raises(ConfigError, match="does not exist"):
        check_output_file(str(tmp_path / "no" / "a.csv"), "--out")
    with pytest.raises(ConfigError, match="is a folder"):
        check_output_file(str(tmp_path), "--out")


def test_data_arrays_are_checked(digits):
    from unlearn_core.data import check_arrays

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (20, 4, 4)).astype(np.uint8)
    y = np.arange(20) % 2
    xtr, ytr, xte, yte, names = check_arrays("t", x, y, x[:6], y[:6], None)
    assert xtr.shape == (20, 4, 4, 1) and names == ["0", "1"] and ytr.dtype == np.int64
    cases = [((x.astype(np.float32), y, x, y, None), "astype"),
             ((x, y, x[:, :3], y, None), "same size"),
             ((x, np.where(y == 1, 2, y), x, y, None), "no training sample"),
             ((x, y * 0, x, y * 0, None), "at least 2"),
             ((x, y + 0.5, x, y, None), "integer class ids"),
             ((x, np.where(np.arange(20) == 0, 100000, y), x, y, None), "between 0 and 9999"),
             ((x, y, x, y + 1, None), "no training sample has"),
             ((x[..., None].repeat(8, -1), y, x[..., None].repeat(8, -1), y, None), "channels-last"),
             ((np.zeros((20, 0, 4), np.uint8), y, x, y, None), "at least 1x1"),
             ((x, y, x, y, ["a", "a"]), "not unique")]
    for args, message in cases:
        with pytest.raises(ConfigError, match=message):
            check_arrays("t", *args)


def test_model_too_deep_for_the_images_is_refused_with_alternatives():
    from unlearn_core.models import check_model_fits

    check_model_fits("mlp", (1, 8, 8), 10)
    with pytest.raises(ConfigError, match=r"at least 32x32.*mlp, cnn"):
        check_model_fits("vgg16_bn", (1, 8, 8), 10)


def test_job_submit_checks_use_the_same_layer(tmp_path):
    """The dashboard's jobs are refused at submit time with the messages the CLI gives."""
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    mgr = JobManager(Store(tmp_path), max_cpu_workers=1, gpu_ids=[], persist_interval=0.2)
    try:
        bad = [("score", {"score": "blo", "params": {"K": 0}}, "'K' must be in"),
               ("score", {"score": "blo", "setup": {"blo": {"granularity": "pixel"}}}, "granularity"),
               ("train_original", {"setup": {"train": {"epochs": "ten"}}}, "epochs must be an integer"),
               ("train_original", {"setup": {"model": "resnet9000"}}, "Unknown model"),
               ("train_original", {"seed": 2**32}, "seed"),
               ("experiment", {"spec": {"methods": ["ft"], "method_params": {"ft": {"epochs": "x"}}}}, "integer"),
               ("experiment", {"spec": {"methods": ["ft"], "method_params": {"ft": {"lr": True}}}}, "number"),
               ("experiment", {"spec": {"methods": ["retrain"], "method_params": {"retrain": {"epochs": 2}}}},
                "no hyperparameters"),
               ("experiment", {"spec": {"methods": ["ft"], "seeds": list(range(10_001))}}, "limit"),
               ("view_coreset", {"fractions": [0.5], "seeds": [-1]}, "seed")]
        for kind, config, message in bad:
            with pytest.raises(ConfigError, match=message):
                mgr.submit(kind, config)
        assert mgr.list_jobs() == []
    finally:
        mgr.shutdown(wait=True, timeout=10)
