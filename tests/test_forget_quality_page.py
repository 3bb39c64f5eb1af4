"""The Forgetting quality page on a tiny store with model banks (AppTest), and the CLI's bank columns."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
EPOCHS = 5


@pytest.fixture(scope="module")
def bank_cache(tmp_path_factory):
    from unlearn_core.config import Setup
    from unlearn_core.grid import ExperimentSpec, run_experiment
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    root = tmp_path_factory.mktemp("fq_cache")
    store = Store(root)
    spec = ExperimentSpec(setup=Setup(train={"epochs": EPOCHS}), selectors=["random"], methods=["retrain", "ga"],
                          seeds=[0], eval_models=4)
    df = run_experiment(spec, store)
    yield root, df
    JobManager.shared(store).shutdown(wait=True, timeout=30)


def test_grid_rows_carry_bank_columns_and_baselines(bank_cache):
    _, df = bank_cache
    from unlearn_core.forget_quality import ULIRA_MIN_MODELS
    from unlearn_core.metrics import registry

    assert set(df["method"]) == {"retrain", "ga", "original", "original_seeds"}
    for c in registry.names("bank"):  # every registered bank metric is a column of the grid's rows
        if c == "ulira_forget_acc":  # 4 models per bank: below U-LiRA's minimum, so reported as missing, not a number
            assert (df["n_models"] < ULIRA_MIN_MODELS).all() and df[c].isna().all()
            continue
        assert df[c].notna().all(), c
    by = df.set_index("method")
    assert by.loc["original", "forget_quality"] == 0.0
    assert (df["n_models"] == 4).all()
    from unlearn_core.results import format_table3, table3

    shown = format_table3(table3(df))
    assert {"F", "score", "KLoM f", "KLoM r", "KLoM t", "n models"} <= set(shown.columns)


def test_page_shows_the_table_and_a_sample(bank_cache, monkeypatch):
    from unlearn_core.config import Setup

    monkeypatch.setenv("FORGETSET_CACHE_DIR", str(bank_cache[0]))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["setup"] = Setup(train={"epochs": EPOCHS}).to_dict()
    at.run()
    at.switch_page("app_pages/forget_quality.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Forgetting quality"
    frames = at.dataframe
    methods = set(frames[0].value["method"])
    assert {"retrain", "original", "ga"} <= methods
    assert len(at.get("plotly_chart")) == 2  # ε histogram and the sample's two margin histograms
    # the table says what its N can see (the estimator's resolution, computed, not a fixed sentence)
    from unlearn_core.forget_quality import detectable_shift

    n = int(frames[0].value["n models"].iloc[0])
    # what the banks differ in: one row per compared bank but θ_o unchanged, the control's spread ratio near 1
    res_table = next(f.value for f in frames if "median σ_u/σ_r" in f.value.columns)
    assert "original (θ_o unchanged)" not in set(res_table["method"])
    assert {"Retrain (control: vs an independent retrain bank)", "ga"} <= set(res_table["method"])
    assert any(f"At N = {n} the gauss estimator resolves" in c.value and f"{detectable_shift(n):.2f}×" in c.value
               for c in at.caption)


def test_page_with_no_banks_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("FORGETSET_CACHE_DIR", str(tmp_path / "empty"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/forget_quality.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def _compare(root, monkeypatch) -> AppTest:
    from unlearn_core.config import Setup

    monkeypatch.setenv("FORGETSET_CACHE_DIR", str(root))
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["setup"] = Setup(train={"epochs": EPOCHS}).to_dict()
    at.run()
    at.switch_page("app_pages/compare.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_compare_table_shows_bank_columns_with_the_controls_as_rows(bank_cache, monkeypatch):
    at = _compare(bank_cache[0], monkeypatch)
    table = at.dataframe[0].value
    for col in ("F", "score", "KLoM forget P95", "KLoM retain P95", "KLoM test P95", "n models"):
        assert col in table.columns, col
    by = table.set_index("method")
    # Retrain's row is the control (vs an independent bank), GA's its bank, θ_o unchanged a row of its own at F = 0
    assert {"Retrain", "GA", "original (θ_o unchanged)"} <= set(by.index)
    assert by.loc["original (θ_o unchanged)", "F"].startswith("0.000")
    assert by.loc["original (θ_o unchanged)", "MIA"] == "—"  # no one-model attack on θ_o here: not made up
    grid = bank_cache[1].set_index("method")  # the CLI's row of θ_o, evaluated directly
    for m in ("UA", "TA"):
        assert by.loc["original (θ_o unchanged)", m] == f"{grid.loc['original', m]:.2f} ± —", m
    f_retrain = float(by.loc["Retrain", "F"].split(" ")[0])
    assert f_retrain > 0.5  # the control: an independent retrain bank looks like the reference
    assert by.loc["GA", "n models"].startswith("4")
    assert not any("F / score / KLoM **not computed**" in str(c.value) for c in at.caption)  # every method has its bank
    at.session_state["cmp_layout"] = "forget sets side by side"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    wide = at.dataframe[0].value
    assert {"F", "KLoM forget P95"} <= set(wide.columns)  # the random sets' table, beside UA–MIA
    assert wide.loc["GA", "F"] == by.loc["GA", "F"].replace(" ± ", "±")


def test_compare_without_banks_offers_to_build_them(tmp_path_factory, monkeypatch):
    from unlearn_core.config import Setup
    from unlearn_core.grid import ExperimentSpec, run_experiment
    from unlearn_core.store import Store

    root = tmp_path_factory.mktemp("fq_nobank")
    run_experiment(ExperimentSpec(setup=Setup(train={"epochs": EPOCHS}), selectors=["random"],
                                  methods=["retrain", "ga"], seeds=[0]), Store(root))
    at = _compare(root, monkeypatch)
    table = at.dataframe[0].value
    assert "F" not in table.columns  # nothing made up
    note = [c.value for c in at.caption if "not computed" in str(c.value)]
    assert note and "build a bank of 32 models" in note[0] and "Estimate" in note[0], note
    assert any(b.key == "cmp_bank_job" for b in at.button)


def test_inspector_shows_a_forgotten_samples_eps_and_its_two_margin_histograms(bank_cache, monkeypatch):
    from unlearn_core.config import Setup
    from unlearn_core.pipeline import Pipeline
    from unlearn_core.store import Store

    root = bank_cache[0]
    pipe = Pipeline(Store(root), Setup(train={"epochs": EPOCHS}))
    forget = pipe.load_forget_set(pipe.find_forget_set("random", 0.1, 0)).forget_idx
    inside, outside = int(forget[0]), int(next(i for i in range(pipe.ds.n_train) if i not in set(forget)))
    monkeypatch.setenv("FORGETSET_CACHE_DIR", str(root))
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["setup"] = Setup(train={"epochs": EPOCHS}).to_dict()
    at.run()
    at.switch_page("app_pages/inspector.py")
    at.session_state["insp_index"] = inside
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    eps = next(d.value for d in at.dataframe if "ε" in d.value.columns)
    assert any(m.startswith("Retrain (control") for m in eps["method"]) and "ga" in set(eps["method"])
    assert ((eps["ε"] >= 0) & (eps["ε"] <= 50)).all() and (eps["N"] == 4).all()
    hist = at.get("plotly_chart")[-1]
    assert "margin" in hist.proto.spec and "retrained" in hist.proto.spec  # unlearned vs retrained
    # a sample no forget set holds has no ε: the page says how to get one instead of a number
    at.session_state["insp_index"] = outside
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("ε is defined only while a sample is forgotten" in i.value for i in at.info)


def test_why_is_it_hard_shows_the_eps_score_under_each_method(bank_cache, monkeypatch):
    """Once ε under a method is stored (the ``eps_hardness`` score), "Why is it hard?" lists it as one of its
    quantities, named by the method."""
    from unlearn_core.config import Setup
    from unlearn_core.pipeline import Pipeline
    from unlearn_core.store import Store

    root = bank_cache[0]
    pipe = Pipeline(Store(root), Setup(train={"epochs": EPOCHS}))
    pipe.score("eps_hardness", 0, params={"method": "scrub", "n_models": 4, "folds": 2})
    monkeypatch.setenv("FORGETSET_CACHE_DIR", str(root))
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["setup"] = Setup(train={"epochs": EPOCHS}).to_dict()
    at.run()
    at.switch_page("app_pages/forget_sets.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    summary = next(d.value for d in at.dataframe if "the set leans" in d.value.columns)
    assert "hardest to forget by ε under SCRUB (folds=2, n_models=4)" in set(summary["quantity"])
