"""Smoke tests of every dashboard page with streamlit.testing.v1.AppTest on a small pre-computed store."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
EPOCHS = 5
BLO = {"upper_iters": 3, "K": 2}  # a quick BLO: these tests check the views, not the science


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A store holding a tiny experiment (Retrain + FT, random vs worst, two ratios, seed 0) and two scores."""
    from unlearn_core.config import Setup
    from unlearn_core.grid import ExperimentSpec, run_experiment
    from unlearn_core.jobs import JobManager
    from unlearn_core.pipeline import Pipeline
    from unlearn_core.store import Store

    root = tmp_path_factory.mktemp("forgetset_cache")
    store = Store(root)
    setup = Setup(train={"epochs": EPOCHS}, blo=BLO)
    spec = ExperimentSpec(setup=setup, methods=["retrain", "ft"], seeds=[0], ratios=[0.05, 0.1])
    run_experiment(spec, store)
    pipe = Pipeline(store, setup)
    pipe.score("loss", 0)
    pipe.score("entropy", 0)
    yield root
    JobManager.shared(store).shutdown(wait=True, timeout=30)


@pytest.fixture(autouse=True)
def _use_cache_dir(cache_dir, monkeypatch):
    """The app finds its store through FORGETSET_CACHE_DIR (set only while these tests run)."""
    monkeypatch.setenv("FORGETSET_CACHE_DIR", str(cache_dir))


def _app(page: str | None = None) -> AppTest:
    from unlearn_core.config import Setup

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["setup"] = Setup(train={"epochs": EPOCHS}, blo=BLO).to_dict()
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.title]
    parts += [h.value for h in at.subheader] + [i.value for i in at.info] + [w.value for w in at.warning]
    parts += [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def _n_charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_overview(cache_dir):
    at = _app()
    assert at.title[0].value == "Which training samples are hard to unlearn?"
    assert at.button(key="demo_start").label == "Run the teaching demo"
    assert _n_charts(at) >= 1  # the picture (the headline chart, since results exist)
    assert "Your results" in _texts(at)
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    assert "digits" in sidebar and "mlp" in sidebar and "Jobs" in sidebar


def test_overview_and_pages_with_an_empty_store(cache_dir, tmp_path, monkeypatch):
    """A first-time user: nothing computed yet. Every page explains what to do instead of failing."""
    monkeypatch.setenv("FORGETSET_CACHE_DIR", str(tmp_path / "empty"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert _n_charts(at) == 1  # the pipeline schematic
    assert "The pipeline" in _texts(at)
    for page in ["pages/scores.py", "pages/forget_sets.py", "pages/compare.py", "pages/runs.py"]:
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.info or at.warning, page


def test_data_and_model(cache_dir):
    at = _app("pages/data_model.py")
    labels = [m.label for m in at.metric]
    assert "Train accuracy" in labels and "Test accuracy" in labels
    assert float(at.metric[1].value.rstrip("%")) > 50
    assert len(at.image) >= 1
    assert at.button(key="train_btn")
    # bad input: an npz file that does not exist gives a clear error, and the old setup stays active
    at.selectbox[0].set_value("npz file…")
    at.text_input[1].set_value("/nonexistent/data.npz")
    at.button[0].click()  # the form's submit button
    at.run()
    assert not at.exception
    assert any("does not exist" in e.value for e in at.error), [e.value for e in at.error]
    assert at.session_state["setup"]["dataset"] == "digits"
    at.text_input[0].set_value("/no/such/data/root")  # the data root
    at.selectbox[0].set_value("digits")
    at.button[0].click()
    at.run()
    assert any("Data root '/no/such/data/root' does not exist" in e.value for e in at.error)


def test_scores(cache_dir):
    at = _app("pages/scores.py")
    text = _texts(at)
    assert "loss" in text and "entropy" in text and "blo@0.1" in text
    assert len(at.tabs) >= 4
    assert _n_charts(at) >= 3  # histograms, scatter, BLO trace
    assert len(at.dataframe) >= 2  # hardest / easiest galleries
    assert len(at.image) >= 2
    ms = at.multiselect(key="score_pick")
    from unlearn_core.scores import score_names

    assert set(ms.options) >= {f for f in score_names()} or len(ms.options) == len(score_names())


def test_scores_bad_ratio_shows_error(cache_dir):
    at = _app("pages/scores.py")
    at.multiselect(key="score_pick").set_value(["blo"])
    at.text_input(key="score_ratio").set_value("1.5")
    at.button(key="score_go").click()
    at.run()
    assert not at.exception
    assert any("strictly between 0 and 1" in e.value for e in at.error)


def test_forget_sets(cache_dir):
    at = _app("pages/forget_sets.py")
    assert len(at.dataframe) >= 1
    assert _n_charts(at) >= 2  # overlap heatmap / class histogram / score boxes
    assert "random @ 0.1 · seed 0" in _texts(at) or len(at.image) >= 1
    # build a new set from cached scores (no job needed)
    at.selectbox(key="fs_pick").set_value("top:loss")
    at.button(key="fs_build").click()
    at.run()
    assert not at.exception and not at.error
    at.text_input(key="fs_ratio").set_value("2")
    at.button(key="fs_build").click()
    at.run()
    assert any("strictly between 0 and 1" in e.value for e in at.error)


def test_experiments_estimate_and_errors(cache_dir):
    from unlearn_core.grid import ExperimentSpec

    at = _app("pages/experiments.py")
    assert at.button(key="exp_launch")
    runs = next(m for m in at.metric if m.label == "Unlearning runs")
    expected = ExperimentSpec(methods=at.multiselect(key="exp_methods").value, seeds=[0, 1, 2],
                              selectors=["random", "worst"], ratios=[0.1]).n_runs()
    assert int(runs.value) == expected
    assert len(at.data_editor) >= 1  # editable presets
    at.multiselect(key="exp_methods").set_value([])
    at.run()
    assert any("at least one unlearning method" in e.value for e in at.error)
    assert at.button(key="exp_launch").disabled


def test_experiments_launch_cached_grid(cache_dir):
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    at = _app("pages/experiments.py")
    at.multiselect(key="exp_methods").set_value(["retrain", "ft"])
    at.multiselect(key="exp_seeds").set_value([0])
    at.multiselect(key="exp_ratios").set_value(["0.1"])
    at.run()
    assert next(m for m in at.metric if m.label == "Already cached").value == "4"
    at.button(key="exp_launch").click()
    at.run()
    assert not at.exception and not at.error
    jid = at.session_state["exp_job"]
    job = JobManager.shared(Store(cache_dir)).wait(jid, 60)
    assert job["status"] == "done" and job["result"]["n_runs"] == 4


def test_compare(cache_dir):
    at = _app("pages/compare.py")
    assert len(at.dataframe) >= 1
    assert _n_charts(at) >= 2  # gap heatmap + ratio sweep
    text = _texts(at)
    assert "Table 3" in text and "seeds 0" in text
    assert len(at.get("download_button")) >= 2


def test_runs_shows_failed_job_message(cache_dir):
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    mgr = JobManager.shared(Store(cache_dir))
    jid = mgr.submit("train_original", {"setup": {"train": {"epochs": 2, "lr": 1e5}}, "seed": 3})
    assert mgr.wait(jid, 60)["status"] == "failed"
    at = _app("pages/runs.py")
    assert len(at.dataframe) >= 1
    at.selectbox(key="runs_pick").set_value(jid)
    at.run()
    assert not at.exception
    assert any("diverged" in e.value for e in at.error)
    assert at.button(key=f"rerun_{jid}") and at.button(key=f"delete_{jid}")


def test_teaching_demo_button_starts_job(cache_dir):
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    at = _app()
    at.button(key="demo_start").click()
    at.run()
    assert not at.exception
    assert at.session_state["tour"]["active"]
    mgr = JobManager.shared(Store(cache_dir))
    jid = at.session_state["tour"]["job"]
    assert mgr.get(jid)["kind"] == "teaching_demo"
    at.switch_page("pages/data_model.py")
    at.run()
    assert "Teaching demo" in _texts(at)  # the tour banner
    mgr.cancel(jid)
    assert mgr.wait(jid, 30)["status"] == "cancelled"
    t0 = time.time()
    at = _app()  # the overview shows the cancelled demo without errors
    assert time.time() - t0 < 30


# ---------------------------------------------------------------------------------------------- analysis views
def _run_job(cache_dir, kind: str, config: dict) -> dict:
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    mgr = JobManager.shared(Store(cache_dir))
    job = mgr.wait(mgr.submit(kind, config), 240)
    assert job["status"] == "done", job.get("error")
    return job


def _setup_cfg(**kw) -> dict:
    return {"train": {"epochs": EPOCHS}, "blo": BLO, **kw}


def test_view_job_kinds_registered():
    from unlearn_core.jobs import JOB_KINDS

    assert {"view_coreset", "view_composition", "view_embedding"} <= set(JOB_KINDS)


def test_coreset_page(cache_dir):
    at = _app("pages/coreset.py")
    assert at.title[0].value == "Coreset curves"
    assert at.button(key="cs_go").label == "Compute coreset curves"
    _run_job(cache_dir, "view_coreset", {"setup": _setup_cfg(), "strategies": ["random", "worst"],
                                         "fractions": [0.9], "seeds": [0]})
    at = _app("pages/coreset.py")
    assert _n_charts(at) == 1
    assert "dashed line" in _texts(at)  # the caption says how to read the chart


def test_composition_page(cache_dir):
    at = _app("pages/composition.py")  # digits: no spurious attribute -> explained, with a switch button
    assert "no spurious attribute" in _texts(at)
    assert at.button(key="comp_switch").label == "Switch to biased_digits"
    _run_job(cache_dir, "view_composition", {"setup": _setup_cfg(dataset="biased_digits"), "selectors": ["random"],
                                             "ratio": 0.1, "seeds": [0], "attribute": "red_ink"})
    at.button(key="comp_switch").click().run()
    assert not at.exception, [e.value for e in at.exception]
    txt = _texts(at)
    assert "project" in txt and "digit ≥ 5" in txt  # the UI says biased_digits is project-built from real digits
    assert _n_charts(at) == 1 and "majority" in txt


def test_embeddings_page(cache_dir):
    at = _app("pages/embeddings.py")
    assert at.title[0].value == "Feature embeddings"
    assert _n_charts(at) == 1  # PCA of θ_o, instantly
    assert "penultimate" in _texts(at)
    at.selectbox(key="emb_after").select_index(1).run()  # a stored unlearned model next to it
    assert not at.exception, [e.value for e in at.exception]
    assert _n_charts(at) == 2
    at.segmented_control(key="emb_reducer").set_value("umap").run()
    assert not at.exception
    assert at.button(key="emb_umap_go").label.startswith("Compute UMAP")


def test_inspector_page(cache_dir):
    at = AppTest.from_file(APP, default_timeout=60)
    from unlearn_core.config import Setup

    at.session_state["setup"] = Setup.from_dict(_setup_cfg()).to_dict()
    at.query_params["sample"] = "7"
    at.run()
    at.switch_page("pages/inspector.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="insp_index").value == 7
    txt = _texts(at)
    assert "Sample #7" in txt and "Predictions" in txt
    preds = at.dataframe
    assert len(preds) >= 3
    models = " ".join(str(d.value) for d in preds)
    assert "original" in models and "retrain" in models and "ft" in models


def test_experiments_cache_count_uses_the_grid_s_own_blo(cache_dir):
    """'Already cached' is computed with the grid's BLO parameters, not the page pipeline's (a fixed bug)."""
    at = _app("pages/experiments.py")
    at.multiselect(key="exp_methods").set_value(["retrain", "ft"])
    at.multiselect(key="exp_seeds").set_value([0])
    at.multiselect(key="exp_ratios").set_value(["0.1"])
    at.run()
    assert next(m for m in at.metric if m.label == "Already cached").value == "4"
    at.text_area(key="exp_blo").set_value('{"upper_iters": 4, "K": 2}').run()
    assert not at.exception
    # the worst-case runs of the other BLO are not cached; the random-set runs are
    assert next(m for m in at.metric if m.label == "Already cached").value == "2"


def test_deleting_jobs_keeps_every_chart(cache_dir):
    """Pages read results from the store, never from job payloads: deleting every job changes no chart."""
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    _run_job(cache_dir, "view_coreset", {"setup": _setup_cfg(), "strategies": ["random"], "fractions": [0.8],
                                         "seeds": [0]})
    pages = ["pages/compare.py", "pages/coreset.py", "pages/scores.py", "pages/forget_sets.py",
             "pages/embeddings.py", "pages/overview.py"]
    before = {p: _n_charts(_app(p)) for p in pages}
    assert all(before[p] >= 1 for p in pages), before
    mgr = JobManager.shared(Store(cache_dir))
    for job in mgr.list_jobs():
        if job["status"] not in ("queued", "running"):
            mgr.delete(job["id"])
    assert all(j["status"] in ("queued", "running") for j in mgr.list_jobs())
    after = {p: _n_charts(_app(p)) for p in pages}
    assert after == before
