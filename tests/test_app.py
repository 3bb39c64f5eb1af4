"""Smoke tests of every dashboard page with streamlit.testing.v1.AppTest on a small pre-computed store."""
from __future__ import annotations

import re
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


def _app(page: str | None = None, setup=None) -> AppTest:
    from unlearn_core.config import Setup

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["setup"] = (setup or Setup(train={"epochs": EPOCHS}, blo=BLO)).to_dict()
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
    for page in ["app_pages/scores.py", "app_pages/forget_sets.py", "app_pages/compare.py", "app_pages/runs.py"]:
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.info or at.warning, page


def test_data_and_model(cache_dir):
    at = _app("app_pages/data_model.py")
    labels = [m.label for m in at.metric]
    assert "Train accuracy" in labels and "Test accuracy" in labels
    assert float(at.metric[1].value.rstrip("%")) > 50
    assert len(at.image) >= 1
    assert at.button(key="train_btn")
    # bad input: an npz path outside the data root is refused (without saying whether it exists); the old setup stays
    msgs = []
    for path in ["/nonexistent/data.npz", "/etc/shadow"]:
        at.selectbox[0].set_value("npz file…")
        at.text_input[1].set_value(path)
        at.button[0].click()  # the form's submit button
        at.run()
        assert not at.exception
        msgs.append([e.value for e in at.error if "data root" in e.value])
        assert msgs[-1], [e.value for e in at.error]
        assert at.session_state["setup"]["dataset"] == "digits"
    assert msgs[0] == msgs[1]  # a missing file and an existing one get the same answer
    at.text_input[0].set_value("/no/such/data/root")  # the data root
    at.selectbox[0].set_value("digits")
    at.button[0].click()
    at.run()
    assert any("data root" in e.value and "Only data folder" in e.value for e in at.error)


def test_server_config_upload_limit_and_checkpoint_confirmation_text(cache_dir):
    import tomllib

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"  # this machine only (README: how to share a classroom server)
    assert cfg["server"]["fileWatcherType"] == "none"  # nothing re-scanned while idle (tests/test_dashboard_idle.py)
    assert cfg["client"]["showErrorDetails"] == "none" and cfg["client"]["toolbarMode"] == "minimal"  # no Deploy
    assert cfg["browser"]["gatherUsageStats"] is False
    at = _app("app_pages/data_model.py")
    text = _texts(at)
    assert f"up to {cfg['server']['maxUploadSize']} MB" in text  # the UI states the configured limit
    box = at.checkbox(key="ckpt_confirm")
    assert "digits" in box.label  # the confirmation names the data set


def test_checkpoint_path_box_reads_nothing_outside_the_data_root(cache_dir, monkeypatch, tmp_path):
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    monkeypatch.setenv("FORGETSET_DATA_ROOT", str(tmp_path / "data"))
    at = _app("app_pages/data_model.py")
    n_jobs = len(JobManager.shared(Store(cache_dir)).list_jobs())
    errors = []
    for path in ["/etc/passwd", "/nope/model.pt"]:
        at.text_input(key="ckpt_path").set_value(path)
        at.button(key="import_btn").click()
        at.run()
        assert not at.exception
        errors.append([e.value for e in at.error])
    assert errors[0] == errors[1] and "data root" in errors[0][0]
    assert len(JobManager.shared(Store(cache_dir)).list_jobs()) == n_jobs  # nothing was submitted


def test_checkpoint_without_metadata_needs_the_confirmation(cache_dir, monkeypatch, tmp_path):
    """A plain state dict says nothing about its data set: refused unless the box naming the data set is ticked."""
    import torch

    from unlearn_core.jobs import JobManager
    from unlearn_core.pipeline import Pipeline
    from unlearn_core.store import Store

    from unlearn_core.config import Setup

    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("FORGETSET_DATA_ROOT", str(data))
    store = Store(cache_dir)
    model = Pipeline(store, Setup(train={"epochs": EPOCHS}, blo=BLO)).original(0)
    torch.save(model.state_dict(), data / "plain.pt")
    mgr = JobManager.shared(store)
    for confirm, expect in ((False, "failed"), (True, "done")):
        at = _app("app_pages/data_model.py")
        at.session_state["seed"] = 7  # a seed of its own: the shared θ_o of seed 0 stays untouched
        at.run()
        at.text_input(key="ckpt_path").set_value("plain.pt")  # relative to the data root
        if confirm:
            at.checkbox(key="ckpt_confirm").check()
        at.button(key="import_btn").click()
        at.run()
        assert not at.exception
        assert all("metadata" in e.value for e in at.error), [e.value for e in at.error]  # only the job's own error
        job = mgr.wait(at.session_state["train_job"], 60)
        assert job["status"] == expect, job.get("error")
        if not confirm:
            assert "no metadata" in job["error"]
        else:
            assert job["config"]["confirm_dataset"] == "digits"


def test_scores(cache_dir):
    at = _app("app_pages/scores.py")
    text = _texts(at)
    assert "Loss" in text and "Entropy" in text and "BLO worst-case weight (10% set)" in text
    assert "blo@0.1" not in text  # ids never reach the user
    assert len(at.tabs) >= 4
    assert _n_charts(at) >= 3  # histograms, scatter, BLO trace
    # the BLO trace caption says how the run ended and reads the trace's overlaps (docs/blo.md)
    assert "upper iteration" in text and "with the starting / chance set" in text and "× one original training" in text
    assert any(w in text for w in ("reached a fixed point", "stopped at its cost cap", "stopped at its iteration"))
    assert len(at.dataframe) >= 2  # hardest / easiest galleries
    assert len(at.image) >= 2
    ms = at.multiselect(key="score_pick")
    from unlearn_core.scores import score_names

    assert set(ms.options) >= {f for f in score_names()} or len(ms.options) == len(score_names())


def test_scores_blo_trace_reads_the_trace_fields(cache_dir):
    """docs/blo.md "What other code reads": overlaps as lines on one 0–1 axis, the objective on another; the
    caption states the stop reason, the iterations and the cost in units of one original training."""
    from dashboard import style

    at = _app("app_pages/scores.py")
    fig = _chart(at, lambda f: "top-m set overlap" in _titles(f))
    names = {t["name"] for t in fig["data"]}
    assert {"with the previous iteration", "with the starting / chance set", "with θ_o's lowest-loss set",
            "with its response (the best set given θ_u)", "objective (mean loss on the set once unlearned)"} <= names
    overlaps = [t for t in fig["data"] if t["name"].startswith("with ")]
    assert {t["yaxis"] for t in overlaps} == {"y2"} and fig["layout"]["yaxis2"]["range"] == [0, 1.05]
    assert next(t for t in fig["data"] if t["name"].startswith("objective")).get("yaxis", "y") == "y"
    assert "(nats)" in fig["layout"]["yaxis"]["title"]["text"] and "upper iteration" in _titles(fig)
    assert "sample passes (cumulative)" in next(t for t in overlaps)["hovertemplate"]
    assert next(t for t in overlaps if t["name"] == "with the previous iteration")["line"]["color"] == \
        style.SELECTOR_COLORS["worst"]
    cap = next(c.value for c in at.caption if "upper iteration" in c.value)
    assert "× one original training" in cap and "sample passes" in cap
    assert any(r in cap for r in ("reached a fixed point", "stopped at its cost cap", "stopped at its iteration"))


def test_scores_correlation_matrix(cache_dir):
    """Spearman ρ of memorization, the learning-event proxies, loss, LiRA ASR and the BLO weight: a heatmap with the
    numbers, "mean over n seeds (sample std)", '—' for the spread of one seed; score jobs compute what is missing."""
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    at = _app("app_pages/scores.py")
    assert 0 in at.multiselect(key="corr_seeds").value  # every seed with a stored θ_o
    at.multiselect(key="corr_seeds").set_value([0]).run()
    fig = _chart(at, lambda f: "Spearman ρ" in _titles(f))
    assert "Spearman ρ, mean over 1 seed (sample std)" in _titles(fig)
    if _has_button(at, "corr_go"):
        assert "Not computed yet:" in _texts(at)
        at.button(key="corr_go").click().run()
        assert not at.exception and not at.error
        mgr = JobManager.shared(Store(cache_dir))
        jobs = [mgr.wait(j, 240) for j in at.session_state["corr_jobs"]]
        assert jobs and all(j["status"] == "done" and j["kind"] == "score" for j in jobs), [j["error"] for j in jobs]
        at = _app("app_pages/scores.py")
        at.multiselect(key="corr_seeds").set_value([0]).run()
        fig = _chart(at, lambda f: "Spearman ρ" in _titles(f))
    assert not _has_button(at, "corr_go")
    hm = fig["data"][0]
    labels = list(hm["x"])
    assert len(labels) == 8 and "Memorization (Feldman & Zhang)" in labels and "Loss" in labels
    assert not any(x in labels for x in ("memorization", "le_confidence", "lira_asr", "blo"))  # display names
    i, j = labels.index("Loss"), labels.index("BLO worst-case weight")
    assert hm["text"][i][i] == "1.00 ± —" and hm["text"][i][j].endswith("± —")  # one seed: no spread
    z = _plotly_array(hm["z"])
    assert z.shape == (8, 8) and -1 <= z[i, j] <= 1 and z[i, i] == 1 and hm["zmin"] == -1 and hm["zmax"] == 1
    assert "n = 1 seed" in _texts(at)


def test_scores_bad_ratio_shows_error(cache_dir):
    at = _app("app_pages/scores.py")
    at.multiselect(key="score_pick").set_value(["blo"])
    at.text_input(key="score_ratio").set_value("1.5")
    at.button(key="score_go").click()
    at.run()
    assert not at.exception
    assert any("strictly between 0 and 1" in e.value for e in at.error)


def test_forget_sets(cache_dir):
    at = _app("app_pages/forget_sets.py")
    assert len(at.dataframe) >= 1
    assert _n_charts(at) >= 2  # overlap heatmap / class histogram / score boxes
    assert "random 10% · seed 0" in _texts(at) or len(at.image) >= 1
    # build a new set from cached scores (no job needed)
    at.selectbox(key="fs_pick").set_value("top:loss")
    at.button(key="fs_build").click()
    at.run()
    assert not at.exception and not at.error
    at.text_input(key="fs_ratio").set_value("2")
    at.button(key="fs_build").click()
    at.run()
    assert any("strictly between 0 and 1" in e.value for e in at.error)


def _chart(at: AppTest, pred) -> dict:
    """The first plotly figure (as JSON) for which ``pred(fig)`` holds."""
    import json

    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    found = [f for f in figs if pred(f)]
    assert found, [f["layout"].get("title") for f in figs]
    return found[0]


def _plotly_array(v):
    """A plotly JSON array (a list, or a typed array {"dtype", "bdata", "shape"}) as numpy."""
    import base64

    import numpy as np

    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape([int(x) for x in str(v.get("shape", len(a))).split(",")])
    return np.asarray(v, dtype=float)


def _has_button(at: AppTest, key: str) -> bool:
    return any(b.key == key for b in at.button)


def _titles(fig: dict) -> str:
    """Every axis title and subplot title of a figure, as one text."""
    out = [str(v.get("title", {}).get("text", "")) for k, v in fig["layout"].items() if k.startswith(("xaxis", "yaxis"))]
    out += [a.get("text", "") for a in fig["layout"].get("annotations", [])]
    out.append(str((fig["layout"].get("title") or {}).get("text", "")))
    return "\n".join(out)


def test_forget_sets_entanglement_column(cache_dir):
    """Entanglement (ES) next to every set: '—' until the view_entanglement job stored it, then a number."""
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    at = _app("app_pages/forget_sets.py")
    table = at.dataframe[0].value
    assert "entanglement (ES)" in table.columns
    if table["entanglement (ES)"].isna().any():
        assert "not computed yet" in _texts(at)
        at.button(key="fs_ent_job").click().run()
        assert not at.exception and not at.error
        jid = at.session_state["fs_ent_job_id"]
        assert JobManager.shared(Store(cache_dir)).wait(jid, 120)["status"] == "done"
        at = _app("app_pages/forget_sets.py")
    es = at.dataframe[0].value["entanglement (ES)"]
    assert es.notna().all() and (es > 0).all()
    assert not _has_button(at, "fs_ent_job")


def test_forget_sets_why_hard_panel(cache_dir):
    """"Why is it hard?": the stored quantities against the training set's; a job computes what is missing, after
    which every quantity, the set's ES against random sets of its size and the class composition are shown."""
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    at = _app("app_pages/forget_sets.py")
    text = _texts(at)
    assert "Why is it hard?" in text and "seed 000" not in text and "seed 001" not in text
    # it opens on the most interesting set: the worst case, not the random reference (issue 22, item 2)
    assert at.selectbox(key="fs_why_pick").value.startswith("worst-case")
    assert "Feldman & Zhang" in text and "comes free once LiRA's shadow-model bank exists" in text
    assert "*What makes unlearning hard and what to do about it* (NeurIPS 2024)" in text
    worst = next(o for o in at.selectbox(key="fs_why_pick").options if o.startswith("worst-case 10%"))
    at.selectbox(key="fs_why_pick").set_value(worst).run()
    summary = next(d.value for d in at.dataframe if "the set leans" in d.value.columns)
    assert "Loss" in set(summary["quantity"]) and "BLO worst-case weight" in set(summary["quantity"])
    if _has_button(at, "fs_why_job"):
        assert "Not computed yet:" in _texts(at)
        at.button(key="fs_why_job").click().run()
        assert not at.exception and not at.error
        # the click reran the page so that the sidebar polls the new job: when it ends the page redraws and the
        # panel shows the scores (before, it kept "Not computed yet" under "Stored: the panel shows it")
        jm = JobManager.shared(Store(cache_dir))
        assert at.session_state["_sidebar_polls"] or jm.get(at.session_state["fs_why_job_id"])["status"] == "done"
        job = JobManager.shared(Store(cache_dir)).wait(at.session_state["fs_why_job_id"], 240)
        assert job["status"] == "done", job.get("error")
        assert (job["config"]["selector"], job["config"]["ratio"], job["config"]["seed"]) == ("worst", 0.1, 0)
        at = _app("app_pages/forget_sets.py")
        at.selectbox(key="fs_why_pick").set_value(worst).run()
    assert not _has_button(at, "fs_why_job") and "Not computed yet:" not in _texts(at)
    summary = next(d.value for d in at.dataframe if "the set leans" in d.value.columns)
    assert set(summary["quantity"]) == {"Memorization (Feldman & Zhang)", "Loss", "LiRA ASR",
                                        "Learning-event confidence", "BLO worst-case weight"}  # display names
    assert set(summary["the set leans"]) <= {"hard", "easy", "typical"}
    assert summary["samples"].iloc[0] == round(0.1 * 1437)  # the 10% set
    dist = _chart(at, lambda f: "hard: high end" in _titles(f))
    axes = _titles(dist)
    assert "(nats)" in axes and "mem = P[correct | in] − P[correct | out]" in axes  # units on the axes
    names = {t["name"] for t in dist["data"]}
    assert names == {"training set", "forget set"}
    colors = {t["name"]: t["marker"]["color"] for t in dist["data"]}
    from dashboard import style

    assert colors == {"training set": style.TRAINING_SET_COLOR, "forget set": style.SELECTOR_COLORS["worst"]}
    es = _chart(at, lambda f: "ES (unitless; higher = more entangled)" in _titles(f))
    assert {t["name"] for t in es["data"]} == {"this set", "random sets of the same size"}
    assert "random sets of the same size:" in _texts(at) and "mean ± sample std over 5 draws" in _texts(at)
    _chart(at, lambda f: "Composition by class" in _titles(f))


def test_experiments_estimate_and_errors(cache_dir):
    from unlearn_core.grid import DEFAULT_SELECTORS, ExperimentSpec

    at = _app("app_pages/experiments.py")
    assert at.button(key="exp_launch")
    runs = next(m for m in at.metric if m.label == "Unlearning runs")
    expected = ExperimentSpec(methods=at.multiselect(key="exp_methods").value, seeds=[0, 1, 2],
                              selectors=list(DEFAULT_SELECTORS), ratios=[0.1]).n_runs()
    assert int(runs.value) == expected
    assert len(at.data_editor) >= 1  # editable presets
    at.multiselect(key="exp_methods").set_value([])
    at.run()
    assert any("at least one unlearning method" in e.value for e in at.error)
    assert at.button(key="exp_launch").disabled


def test_experiments_launch_cached_grid(cache_dir):
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    at = _app("app_pages/experiments.py")
    at.multiselect(key="exp_methods").set_value(["retrain", "ft"])
    at.multiselect(key="exp_selectors").set_value(["random", "worst"])  # the cached part of the default grid
    at.multiselect(key="exp_seeds").set_value([0])
    at.text_input(key="exp_ratios_txt").set_value("0.1")
    at.run()
    assert next(m for m in at.metric if m.label == "Already cached").value == "4"
    at.button(key="exp_launch").click()
    at.run()
    assert not at.exception and not at.error
    jid = at.session_state["exp_job"]
    job = JobManager.shared(Store(cache_dir)).wait(jid, 60)
    assert job["status"] == "done" and job["result"]["n_runs"] == 4


def test_experiments_executor_choice(cache_dir, monkeypatch):
    """Issue "--executor ray on the CLI and a choice on the Runs page": the grid runs on this machine or on a Ray
    cluster; a bad Ray address is refused on the page (nothing submitted); without Ray the choice is disabled and
    the page says how to install it."""
    import unlearn_core.cluster as cluster
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    n_jobs = len(JobManager.shared(Store(cache_dir)).list_jobs())
    if cluster.ray_available():
        at = _app("app_pages/experiments.py")
        radio = at.radio(key="exp_executor")
        assert radio.value == "local" and not radio.disabled and radio.options == ["on this machine",
                                                                                   "on a Ray cluster"]
        radio.set_value("ray").run()
        assert at.text_input(key="exp_ray_address").value == "auto" and not at.button(key="exp_launch").disabled
        at.text_input(key="exp_ray_address").set_value("http://not-a-ray-address![x](y)").run()
        assert not at.exception
        err = [e.value for e in at.error if "Ray address" in e.value]
        assert err and "![" not in err[0]  # the typed text is shown as text
        assert at.button(key="exp_launch").disabled  # nothing can be submitted with it
        at.text_input(key="exp_ray_address").set_value("ray://head.example:10001").run()
        assert not [e for e in at.error if "Ray address" in e.value] and not at.button(key="exp_launch").disabled
    monkeypatch.setattr(cluster, "ray_available", lambda: False)
    at = _app("app_pages/experiments.py")
    radio = at.radio(key="exp_executor")
    assert radio.value == "local" and radio.disabled
    assert "pip install -e '.[cluster]'" in _texts(at)
    assert len(JobManager.shared(Store(cache_dir)).list_jobs()) == n_jobs


def test_runs_rerun_chooses_the_executor(cache_dir):
    """The Runs page re-runs an experiment on the executor chosen there (the job's own by default)."""
    from unlearn_core.cluster import ray_available
    from unlearn_core.config import Setup
    from unlearn_core.grid import ExperimentSpec
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    spec = ExperimentSpec(setup=Setup(train={"epochs": EPOCHS}, blo=BLO), methods=["retrain"], seeds=[0],
                          ratios=[0.1], selectors=["random"])
    mgr = JobManager.shared(Store(cache_dir))
    jid = mgr.submit("experiment", {"spec": spec.to_dict()})
    assert mgr.wait(jid, 120)["status"] == "done"
    at = _app("app_pages/runs.py")
    at.selectbox(key="runs_pick").set_value(jid).run()
    assert "Units run on this machine" in _texts(at)
    radio = at.radio(key=f"runs_{jid}_executor")
    assert radio.value == "local"
    if ray_available():
        radio.set_value("ray").run()
        at.text_input(key=f"runs_{jid}_ray_address").set_value("not an address").run()
        assert at.button(key=f"rerun_{jid}").disabled and any("Ray address" in e.value for e in at.error)
        at.radio(key=f"runs_{jid}_executor").set_value("local").run()
    at.button(key=f"rerun_{jid}").click().run()
    assert not at.exception
    new = next(j for j in mgr.list_jobs() if j.get("rerun_of") == jid)
    assert mgr.wait(new["id"], 120)["status"] == "done"
    assert "executor" not in new["config"] and new["config"]["spec"] == spec.to_dict()


def test_compare(cache_dir):
    import io

    import pandas as pd

    at = _app("app_pages/compare.py")
    assert len(at.dataframe) >= 1
    assert _n_charts(at) >= 2  # gap heatmap + ratio sweep
    text = _texts(at)
    assert "Methods vs Retrain" in text and "Challenging Forgets" in text and "n = the seeds behind each row" in text
    assert "seed 000" not in text and "Table 3 view" not in text
    table = at.dataframe[0].value
    assert {"n", "seeds", "forget set", "method"} <= set(table.columns)
    assert set(table["method"]) <= {"Retrain", "FT"} and "worst-case" in set(table["forget set"])
    assert all("± —" in v for v in table["UA"])  # one seed: no spread, never '± 0.00'
    assert len(at.get("download_button")) >= 2
    # the Table-3 export is numbers: mean, std, n and gap in their own columns
    csv = res_csv(at)
    assert not csv.startswith("#")  # a plain CSV (issue 22): the notes live in a sidecar
    t = pd.read_csv(io.StringIO(csv))
    assert {"UA_mean", "UA_std", "n", "gap_UA", "seeds", "method_name"} <= set(t.columns)
    assert pd.api.types.is_float_dtype(t["UA_mean"]) and pd.api.types.is_integer_dtype(t["n"])
    assert "Unnamed: 0" not in t.columns


def test_compare_entanglement_column(cache_dir):
    """Table 3 shows the entanglement of each row's forget sets (mean ± sample std over their seeds; '—' until the
    view_entanglement job stored it, with a button for that job)."""
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    at = _app("app_pages/compare.py")
    table = at.dataframe[0].value
    assert "ES" in table.columns
    if (table["ES"] == "—").any():
        at.button(key="cmp_ent_job").click().run()
        assert not at.exception and not at.error
        assert JobManager.shared(Store(cache_dir)).wait(at.session_state["cmp_ent_job_id"], 120)["status"] == "done"
        at = _app("app_pages/compare.py")
        table = at.dataframe[0].value
    assert not (table["ES"] == "—").any() and table["ES"].str.endswith("± —").all()  # one seed: no spread
    assert not _has_button(at, "cmp_ent_job") and "Zhao et al." in _texts(at)
    # the same ES for every method on one forget set
    assert table.groupby("forget set")["ES"].nunique().eq(1).all()


def test_compare_tuning_protocol(cache_dir):
    """One click tunes a method (job 'tune'; the cost model's estimate is shown first); then the candidates, the
    chosen values and Table 3 "tuned vs preset" on the applied sets are shown, and Table 3's rows that ran with
    the tuned values are labelled as tuned with their resolved hyperparameters."""
    from unlearn_core.config import Setup
    from unlearn_core.grid import ExperimentSpec, run_experiment
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    # a setup of its own (4 epochs): the tuning's extra GA runs stay out of the other tests' tables
    setup = Setup(train={"epochs": EPOCHS - 1}, blo=BLO)
    run_experiment(ExperimentSpec(setup=setup, methods=["retrain"], seeds=[0], ratios=[0.1]), Store(cache_dir))
    at = _app("app_pages/compare.py", setup)
    assert at.selectbox(key="cmp_setup").value == at.session_state["cmp_setup"]
    assert "(active setup)" in at.selectbox(key="cmp_setup").format_func(at.selectbox(key="cmp_setup").value)
    assert "Challenging Forgets" in _texts(at) and "No tuning of this setup yet." in _texts(at)
    at.selectbox(key="tune_method").set_value("ga")
    at.multiselect(key="tune_seeds").set_value([0])
    at.text_input(key="tune_grid").set_value('{"lr": [0.001, 0.05], "epochs": ').run()
    assert not at.exception and any("Grid" in e.value for e in at.error) and at.button(key="tune_go").disabled
    at.text_input(key="tune_grid").set_value('{"lr": [0.001, 0.05], "epochs": [2]}').run()
    assert not at.error
    cap = next(c.value for c in at.caption if c.value.startswith("Cost model"))
    assert "≈" in cap and "3 candidates" in cap  # two grid points + the preset
    at.button(key="tune_go").click().run()
    assert not at.exception and not at.error
    job = JobManager.shared(Store(cache_dir)).wait(at.session_state["tune_job"], 240)
    assert job["status"] == "done", job.get("error")
    assert job["config"]["method"] == "ga" and job["config"]["apply_to"] == ["worst"]
    at = _app("app_pages/compare.py", setup)
    text = _texts(at)
    assert "Chosen for GA:" in text and "Avg. gap" in text
    cands = next(d.value for d in at.dataframe if "Avg. gap (objective)" in d.value.columns)
    assert len(cands) == 3 and (cands["chosen"] == "✓ chosen").sum() == 1 and (cands["preset"] == "preset").sum() == 1
    assert {"lr", "epochs", "n (seeds)"} <= set(cands.columns)
    applied = next(d.value for d in at.dataframe if "variant" in d.value.columns)
    assert set(applied["forget set"]) == {"worst-case"} and "Retrain" in set(applied["variant"])
    assert set(applied["variant"]) - {"Retrain"} in ({"tuned", "preset"}, {"tuned (= preset)"})
    assert applied["UA"].str.contains("± —").all() and (applied["n"] == 1).all()
    table = at.dataframe[0].value
    tuned = table[table["method"] == "GA · tuned"]
    assert len(tuned) >= 1 and "worst-case" in set(tuned["forget set"])
    assert tuned["hyperparameters"].str.contains("lr=").all() and tuned["tuned on"].str.startswith(
        "tuned on random 10%").all()
    assert (table.loc[table["method"] != "GA · tuned", "tuned on"] == "—").all()


def res_csv(at) -> str:
    """The data behind Compare's 'Download this table' button (the page's own export function)."""
    import os

    from dashboard import tables
    from unlearn_core import results as res
    from unlearn_core.store import Store

    df = res.results_frame(Store(os.environ["FORGETSET_CACHE_DIR"]))
    d = res.results_for_setup(df, at.session_state["cmp_setup"])
    return tables.table3_export(d[d["ratio"] == 0.1], ["random", "worst"])


def test_compare_side_by_side_and_sweep_labels(cache_dir):
    at = _app("app_pages/compare.py")
    at.segmented_control(key="cmp_layout").set_value("forget sets side by side").run()
    assert not at.exception
    random_t, worst_t = at.dataframe[0].value, at.dataframe[1].value  # one table per forget set, side by side
    assert {"UA", "MIA", "RA", "TA", "Avg. gap", "n"} <= set(random_t.columns) == set(worst_t.columns)
    assert all(v.endswith("±—") for v in worst_t["UA"])  # one seed: no spread
    assert "worst\\-case sets" in _texts(at)  # (Markdown-escaped in the page source)
    sweep = at.get("plotly_chart")[-1]
    import json

    fig = json.loads(sweep.proto.spec)
    assert fig["layout"]["xaxis"]["ticksuffix"] == "%"
    names = {t.get("name") for t in fig["data"] if t.get("mode") == "lines+markers"}
    assert names <= {"Retrain", "FT"}  # display names, not ids


def test_runs_shows_failed_job_message(cache_dir):
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    mgr = JobManager.shared(Store(cache_dir))
    jid = mgr.submit("train_original", {"setup": {"train": {"epochs": 2, "lr": 1e5}}, "seed": 3})
    assert mgr.wait(jid, 60)["status"] == "failed"
    at = _app("app_pages/runs.py")
    assert len(at.dataframe) >= 1
    at.selectbox(key="runs_pick").set_value(jid)
    at.run()
    assert not at.exception
    assert any("diverged" in e.value for e in at.error)
    assert at.button(key=f"rerun_{jid}") and at.button(key=f"delete_{jid}")


def test_teaching_demo_button_starts_job(cache_dir):
    """The demo says it switches the setup, unlocks the tour page by page and can be cancelled on the Overview."""
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    at = _app()
    assert "switches your active setup" in _texts(at)  # the session's setup (5 epochs, quick BLO) is not the demo's
    at.button(key="demo_start").click()
    at.run()
    at.run()  # the button's st.rerun (AppTest does not follow it by itself)
    assert not at.exception
    assert at.session_state["tour"]["active"]
    assert at.session_state["_setup_note"][0].startswith("Active setup switched from")  # said, not silent
    mgr = JobManager.shared(Store(cache_dir))
    jid = at.session_state["tour"]["job"]
    assert mgr.get(jid)["kind"] == "teaching_demo"
    assert at.button(key="demo_cancel")  # Cancel on the Overview
    txt = _texts(at)
    assert "ready in" in txt or "left" in txt  # per-stage ETAs
    at.switch_page("app_pages/data_model.py")
    at.run()
    assert "Teaching demo" in _texts(at)  # the tour banner
    nxt = at.button(key="tour_next_data")
    assert nxt.disabled and "unlocks when" in _texts(at)  # Scores needs the BLO stage: locked until it lands
    at.switch_page("app_pages/overview.py")
    at.run()
    at.button(key="demo_cancel").click()
    at.run()
    assert mgr.wait(jid, 30)["status"] == "cancelled"
    t0 = time.time()
    at = _app()  # the overview shows the cancelled demo without errors
    assert time.time() - t0 < 30


def test_url_parameters_are_checked_clamped_and_shown_as_text(cache_dir):
    from unlearn_core.config import Setup

    def fresh(**params):
        at = AppTest.from_file(APP, default_timeout=60)
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at, "\n".join(w.value for w in at.warning if "URL" in w.value)

    at, warn = fresh(epochs="5000")
    assert "outside 1…200" in warn and at.session_state["setup"] == Setup().to_dict()
    at, warn = fresh(seed="-3")
    assert "seed" in warn and at.session_state.get("seed", 0) == 0
    _, w1 = fresh(dataset="npz:/etc/shadow")
    _, w2 = fresh(dataset="npz:/nope/missing.npz")
    assert "data root" in w1 and w1.replace("etc/shadow", "X") == w2.replace("nope/missing.npz", "X")
    at, warn = fresh(dataset="![x](http://127.0.0.1:9/a.png)")
    assert "![" not in warn and "](" not in warn  # escaped: shown as text, never an image
    assert at.session_state["setup"]["dataset"] == "digits"
    at, warn = fresh(dataset="digits", epochs="7", seed="2")
    assert at.session_state["setup"]["train"] == {"epochs": 7} and at.session_state["seed"] == 2 and not warn
    assert at.query_params["epochs"] == "7" and at.query_params["seed"] == "2"  # kept in the address


def test_new_sessions_start_from_the_defaults(cache_dir):
    from unlearn_core.config import Setup

    a = _app()
    a.session_state["setup"] = Setup(dataset="biased_digits").to_dict()
    a.run()
    b = AppTest.from_file(APP, default_timeout=60)
    b.run()
    assert b.session_state["setup"] == Setup().to_dict()


def test_queued_jobs_say_their_place_and_why(cache_dir):
    import threading

    from dashboard import job_widgets
    from unlearn_core.jobs import JobManager, register_job_kind
    from unlearn_core.store import Store

    gate = threading.Event()

    @register_job_kind("test_block", title="Blocking test job", resource="cpu", replace=True)
    def _block(config, env):
        while not gate.wait(0.05):
            env.ctx.progress(0.5, "waiting for the gate")
        return {}

    mgr = JobManager(Store(cache_dir / "queue_test"), max_cpu_workers=1)
    try:
        first = mgr.submit("test_block", {})
        second = mgr.submit("test_block", {})
        time.sleep(0.3)
        job = mgr.get(second, with_log=False)
        text = job_widgets.queue_text(job)
        assert job["status"] == "queued" and text.startswith("#1 in the queue") and "Blocking test job" in text
    finally:
        gate.set()
        mgr.wait(first, 10)
        mgr.wait(second, 10)
        mgr.shutdown()


def test_reproduction_report_link(cache_dir):
    """The Overview shows the newest report of `python -m unlearn_core reproduce` (dashboard.report.latest_report):
    its verdicts per finding and links to its HTML / Markdown; without one, the command that makes it."""
    import os
    import shutil

    from dashboard.report import write_report
    from unlearn_core.reproduce import FAILS, HOLDS, INCONCLUSIVE, Finding

    at = _app()
    assert "python -m unlearn_core reproduce" in "\n".join(c.value for c in at.code)
    assert "No report yet" in _texts(at)
    older, newest = cache_dir / "reports" / "20260101-000000-digits", cache_dir / "reports" / "paper"
    try:
        write_report([Finding(98, "Old", "c", "s", FAILS, "w", {})], older, "old", {"wall_s": 1.0, "seeds": [0]})
        findings = [Finding(98, "Retrain's UA is near 0 on the worst case", "claim", "Fan et al.", HOLDS,
                            "intervals separate", {}),
                    Finding(99, "RL drifts in MIA", "claim", "Fan et al.", INCONCLUSIVE, "one seed <b>x</b>", {})]
        write_report(findings, newest, "Reproduction", {"wall_s": 75.0, "seeds": [0, 1, 2]})
        os.utime(older / "report.html", (1, 1))  # the other one is newer
        (newest / "report.md").write_text("# Reproduction\n\n![remote](http://127.0.0.1:9/x.png) Retrain UA 0.00\n")
        at = _app()
        txt = _texts(at)
        assert "Newest report: **paper**" in txt
        assert "1 holds · 1 inconclusive" in txt and "over 3 seeds" in txt
        # an HTML table (st.table): long text wraps, nothing is cut ("inconclusiv")
        verdicts = next(d.value for d in at.table if "verdict" in d.value.columns)
        assert list(verdicts["verdict"]) == [HOLDS, INCONCLUSIVE]
        assert list(verdicts["finding"]) == ["Retrain's UA is near 0 on the worst case", "RL drifts in MIA"]
        assert not [d for d in at.dataframe if "verdict" in d.value.columns]
        # the report opens on the page (an embedded frame), and prints seconds as seconds, not "6.000"
        frames = at.get("iframe")
        assert frames and "Reproduction" in str(frames[0].proto)
        html_text = (newest / "report.html").read_text()
        from dashboard.report import fmt_number
        assert fmt_number(6.0, seconds=True) == "6 s" and fmt_number(6.25, seconds=True) == "6.2 s"
        assert fmt_number(300.0, seconds=True) == "5.0 min" and "6.000" not in html_text
        assert "Retrain UA 0.00" in txt and "![remote]" not in txt  # no remote image from the report
        assert len(at.get("download_button")) >= 2
        (newest / "summary.json").unlink()  # a report without its summary: still linked, verdicts not listed
        at = _app()
        assert "no readable summary.json" in _texts(at) and len(at.get("download_button")) >= 2
    finally:
        shutil.rmtree(cache_dir / "reports", ignore_errors=True)


def test_experiment_grid_persists_and_ratios_are_typed_exactly(cache_dir):
    at = _app("app_pages/experiments.py")
    at.text_input(key="exp_ratios_txt").set_value("0").run()
    assert any("strictly between 0 and 1" in e.value for e in at.error)  # never completed to 0.2 / 0.01 / 0.05
    assert at.button(key="exp_launch").disabled
    at.text_input(key="exp_ratios_txt").set_value("0.05, 10%").run()
    at.multiselect(key="exp_methods").set_value(["retrain", "ga"]).run()
    assert not at.error
    assert at.query_params["ratios"] == "0.05,0.1" and at.query_params["methods"] == "retrain,ga"
    at.switch_page("app_pages/compare.py")
    at.run()
    at.switch_page("app_pages/experiments.py")
    at.run()
    assert at.multiselect(key="exp_methods").value == ["retrain", "ga"]  # kept for the session
    assert at.text_input(key="exp_ratios_txt").value == "0.05, 10%"
    # a reload (new session) rebuilds the grid from the address
    b = AppTest.from_file(APP, default_timeout=60)
    for k in ("methods", "ratios"):
        b.query_params[k] = at.query_params[k]
    b.run()
    b.switch_page("app_pages/experiments.py")
    b.run()
    assert b.multiselect(key="exp_methods").value == ["retrain", "ga"]
    assert b.text_input(key="exp_ratios_txt").value == "0.05, 0.1"


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
    at = _app("app_pages/coreset.py")
    assert at.title[0].value == "Coreset curves"
    assert at.button(key="cs_go").label == "Compute coreset curves"
    _run_job(cache_dir, "view_coreset", {"setup": _setup_cfg(), "strategies": ["random", "worst"],
                                         "fractions": [0.9], "seeds": [0]})
    at = _app("app_pages/coreset.py")
    assert _n_charts(at) == 1
    assert "dashed line" in _texts(at)  # the caption says how to read the chart


def test_composition_page(cache_dir):
    at = _app("app_pages/composition.py")  # digits: no spurious attribute -> explained, with a switch button
    assert "no spurious attribute" in _texts(at)
    assert at.button(key="comp_switch").label == "Switch to biased_digits"
    _run_job(cache_dir, "view_composition", {"setup": _setup_cfg(dataset="biased_digits"), "selectors": ["random"],
                                             "ratio": 0.1, "seeds": [0], "attribute": "red_ink"})
    at.button(key="comp_switch").click().run()
    assert not at.exception, [e.value for e in at.exception]
    txt = _texts(at)
    assert "project" in txt and "digit ≥ 5" in txt  # the UI says biased_digits is project-built from real digits
    assert _n_charts(at) == 1 and "majority" in txt
    assert "Estimate" in txt and "cost model" in txt  # estimated before its first run, like every job kind


def test_embeddings_page(cache_dir):
    at = _app("app_pages/embeddings.py")
    assert at.title[0].value == "Feature embeddings"
    assert _n_charts(at) == 1  # PCA of θ_o, instantly
    assert "penultimate" in _texts(at)
    at.selectbox(key="emb_after").select_index(1).run()  # a stored unlearned model next to it
    assert not at.exception, [e.value for e in at.exception]
    assert _n_charts(at) == 2
    at.segmented_control(key="emb_reducer").set_value("umap").run()
    assert not at.exception
    assert at.button(key="emb_umap_go").label.startswith("Compute UMAP")
    assert "Estimate" in _texts(at) and "cost model" in _texts(at)  # estimated before the first run
    # the choice survives a visit to another page, and is in the address
    at.switch_page("app_pages/compare.py")
    at.run()
    at.switch_page("app_pages/embeddings.py")
    at.run()
    assert at.segmented_control(key="emb_reducer").value == "umap"
    assert at.query_params["proj"] == "umap"


def test_inspector_page(cache_dir):
    at = AppTest.from_file(APP, default_timeout=60)
    from unlearn_core.config import Setup

    at.session_state["setup"] = Setup.from_dict(_setup_cfg()).to_dict()
    at.query_params["sample"] = "7"
    at.run()
    at.switch_page("app_pages/inspector.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="insp_index").value == 7
    txt = _texts(at)
    assert "Sample #7" in txt and "Which forget sets and runs held it" in txt
    assert "nearest neighbours" in txt.lower()
    frames = [d.value for d in at.dataframe]
    preds = next(v for v in frames if "in its forget set" in v.columns)
    assert {"loss", "p(true label)", "predicts"} <= set(preds.columns)
    models = " ".join(preds["model"])
    assert "original θ_o" in models and "Retrain" in models and "FT" in models
    sets = next(v for v in frames if "holds this sample" in v.columns)
    assert {"runs on it", "methods"} <= set(sets.columns)
    nn = next(v for v in frames if "distance" in v.columns)
    assert len(nn) == 8 and 7 not in set(nn["sample"])
    # the hardest sample to forget: its row in the worst-case set is marked, with the runs that unlearned it
    at.button(key="insp_hardest").click().run()
    assert not at.exception
    sets = next(d.value for d in at.dataframe if "holds this sample" in d.value.columns)
    worst = sets[sets["forget set"].str.startswith("worst-case 10%")]
    assert (worst["holds this sample"] == "yes").all() and "Retrain" in worst["methods"].iloc[0]
    # the answer comes first, in one line: its rank by each score, its sets, Retrain's verdict (issue 22, item 10)
    first = at.info[0].value
    assert first.startswith("**Why is #") and "#1 of 1437 by BLO" in first and "10% · seed 0" in first.replace("\\", "")
    assert "Retrain" in first and "p(true label)" in first
    # the per-model rows are collapsed under an expander, not 6,800 px of page
    assert any(e.label.startswith("Per-model rows:") and not e.proto.expanded for e in at.expander)


def test_runs_experiment_result_is_a_table(cache_dir):
    from unlearn_core.grid import ExperimentSpec
    from unlearn_core.jobs import JobManager
    from unlearn_core.config import Setup
    from unlearn_core.store import Store

    spec = ExperimentSpec(setup=Setup(train={"epochs": EPOCHS}, blo=BLO), methods=["retrain", "ft"], seeds=[0],
                          ratios=[0.1])
    mgr = JobManager.shared(Store(cache_dir))
    jid = mgr.submit("experiment", {"spec": spec.to_dict()})
    assert mgr.wait(jid, 120)["status"] == "done"
    at = _app("app_pages/runs.py")
    at.selectbox(key="runs_pick").set_value(jid).run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "forget set" in d.value.columns)
    assert set(table["method"]) == {"Retrain", "FT"} and {"UA", "n", "seeds"} <= set(table.columns)
    runs_table = at.dataframe[0].value
    assert "duration_s" not in runs_table.columns and "kind" not in runs_table.columns
    assert "took" in runs_table.columns and "now / queue" in runs_table.columns or "now" in runs_table.columns


def test_experiments_cache_count_uses_the_grid_s_own_blo(cache_dir):
    """'Already cached' is computed with the grid's BLO parameters, not the page pipeline's (a fixed bug)."""
    at = _app("app_pages/experiments.py")
    at.multiselect(key="exp_methods").set_value(["retrain", "ft"])
    at.multiselect(key="exp_selectors").set_value(["random", "worst"])  # the cached part of the default grid
    at.multiselect(key="exp_seeds").set_value([0])
    at.text_input(key="exp_ratios_txt").set_value("0.1")
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
    pages = ["app_pages/compare.py", "app_pages/coreset.py", "app_pages/scores.py", "app_pages/forget_sets.py",
             "app_pages/embeddings.py", "app_pages/overview.py"]
    before = {p: _n_charts(_app(p)) for p in pages}
    assert all(before[p] >= 1 for p in pages), before
    mgr = JobManager.shared(Store(cache_dir))
    for job in mgr.list_jobs():
        if job["status"] not in ("queued", "running"):
            mgr.delete(job["id"])
    assert all(j["status"] in ("queued", "running") for j in mgr.list_jobs())
    after = {p: _n_charts(_app(p)) for p in pages}
    assert after == before


def test_attack_view_page(cache_dir):
    """The attack view draws the core's numbers: MIA-efficacy equal to the stored run's, the signal histograms, the
    ROC, the prediction matrix and class-wise accuracy, with risk flags that link to the inspector."""
    at = _app("app_pages/attack.py")
    assert at.title[0].value == "Attack view"
    summ = next(d.value for d in at.dataframe if "MIA-efficacy (%)" in d.value.columns)
    assert list(summ["model"]) == ["θ_o", "FT", "Retrain"]
    from unlearn_core.store import Store

    # it opens on the run whose MIA-efficacy is furthest from Retrain's on the same set, among the runs whose
    # prediction matrix is not one colour (issue 22: it opened on a worst-case set every model gets right)
    from dashboard import analysis_readers
    from unlearn_core.config import Setup
    from unlearn_core.pipeline import Pipeline

    cands = analysis_readers.attack_candidates(Pipeline(Store(cache_dir), Setup.from_dict(at.session_state["setup"])))
    mixed = cands[(cands["UA"] > 0) | (cands["UA_retrain"] > 0)]
    assert len(mixed), "the fixture has a run with a non-uniform prediction matrix"
    best = mixed.loc[(mixed["MIA"] - mixed["MIA_retrain"]).abs().idxmax()]
    assert float(summ["MIA-efficacy (%)"].iloc[1]) == pytest.approx(float(best["MIA"]), abs=1e-9)
    assert float(summ["MIA-efficacy (%)"].iloc[2]) == pytest.approx(float(best["MIA_retrain"]), abs=1e-9)
    assert _n_charts(at) >= 4  # signal, ROC, prediction matrix, class-wise accuracy
    txt = _texts(at)
    assert "Prediction matrix" in txt and "Class-wise accuracy" in txt and "agrees with Retrain on" in txt
    assert "membership signal differs most from Retrain" in txt.replace("\\", "")  # the caption says why
    patterns = next(d.value for d in at.dataframe if "samples" in d.value.columns and "share (%)" in d.value.columns)
    assert int(patterns["samples"].sum()) == int(round(best["ratio"] * 1437))
    assert len(patterns) >= 2  # more than one pattern: the matrix is not uniform


def test_compare_sweep_adds_methods_that_land_later(cache_dir, tmp_path, monkeypatch):
    """Issue 22, item 1: the ratio sweep's method choice followed the first draw (Retrain / FT) and never showed a
    method whose runs landed later (the demo's RL). Now a method that appears joins the choice."""
    import shutil

    from unlearn_core.config import Setup
    from unlearn_core.grid import ExperimentSpec, run_experiment
    from unlearn_core.store import Store

    root = tmp_path / "cache"
    shutil.copytree(cache_dir, root)
    monkeypatch.setenv("FORGETSET_CACHE_DIR", str(root))
    at = _app("app_pages/compare.py")
    assert at.multiselect(key="cmp_sweep_methods").value == ["retrain", "ft"]
    run_experiment(ExperimentSpec(setup=Setup(train={"epochs": EPOCHS}, blo=BLO), methods=["ga"],
                                  selectors=["random", "worst"], ratios=[0.05, 0.1], seeds=[0]), Store(root))
    at.run()  # the same session redraws (as the sidebar does when a job stores results)
    assert not at.exception
    assert at.multiselect(key="cmp_sweep_methods").value == ["retrain", "ft", "ga"]
    sweep = _chart(at, lambda f: any(t.get("name") == "GA" for t in f["data"]))
    assert {t["name"] for t in sweep["data"] if t.get("showlegend") is not False and t.get("name")} >= {
        "Retrain", "FT", "GA"}
    # a method the user removed stays removed
    at.multiselect(key="cmp_sweep_methods").set_value(["retrain", "ga"]).run()
    at.run()
    assert at.multiselect(key="cmp_sweep_methods").value == ["retrain", "ga"]


def test_ratio_sweep_bands_stay_in_0_100():
    """Issue 22, item 6: ± std bands of a % metric are clipped to [0, 100] (UA cannot be negative)."""
    import pandas as pd

    from dashboard import charts

    agg = pd.DataFrame({"method": ["ft"] * 3, "selector": ["worst"] * 3, "ratio": [0.05, 0.1, 0.2],
                        "seeds": ["0,1,2"] * 3, "n": [3, 3, 3]})
    for m in ["UA", "MIA", "RA", "TA", "ToW"]:
        agg[f"{m}_mean"], agg[f"{m}_std"] = [0.5, 1.0, 99.5], [2.0, 3.0, 2.0]
    fig = charts.ratio_sweep(agg, "UA", ["ft"])
    band = next(t for t in fig.data if t.fill == "toself")
    assert min(band.y) >= 0 and max(band.y) <= 100
    assert list(fig.layout.xaxis.ticktext) == ["5%", "10%", "20%"]  # the ratios run, no "5 100 2" minor labels


def test_log_axes_and_colour_bars_are_readable():
    """Issue 22, item 6: log axes are labelled in powers of ten (no SI prefixes like '100μ'); the overlap heatmap's
    and the correlation matrix's colour bars keep a fixed length with a few ticks."""
    import numpy as np
    import pandas as pd

    from dashboard import charts

    df = pd.DataFrame({"loss": np.logspace(-8, 1, 200), "blo@0.1": np.linspace(0, 1, 200)})
    h = charts.score_histograms(df, ["loss", "blo@0.1"], {"loss": "low", "blo@0.1": "high"})
    logy = [ax for k, ax in h.layout.to_plotly_json().items() if k.startswith("yaxis") and ax.get("type") == "log"]
    assert logy and all(ax["exponentformat"] == "power" for ax in logy)
    s = charts.score_scatter(df.assign(index=range(200), cls="0"), "loss", "blo@0.1", "cls", True, False)
    assert s.layout.xaxis.exponentformat == "power" and s.layout.xaxis.dtick == 1
    m = pd.DataFrame(np.eye(2), index=["a", "b"], columns=["a", "b"])
    ov = charts.overlap_heatmap(m)
    assert ov.layout.coloraxis.colorbar.lenmode == "pixels" and len(ov.layout.coloraxis.colorbar.tickvals) == 3
    assert ov.layout.height >= charts.COLORBAR_PX + 100
    cm = charts.correlation_heatmap(m, m.astype(str), m)
    assert cm.data[0].colorbar.lenmode == "pixels"


def test_blo_weights_shown_in_0_1_with_a_tie_note(cache_dir):
    """Issue 22, item 7: no negative BLO weight reaches the page, and the easiest gallery says when it is chosen
    among near-ties (most weights at ≈ 0)."""
    import numpy as np

    from dashboard import tables

    at = _app("app_pages/scores.py")
    for d in at.dataframe:
        for c in d.value.columns:
            if "BLO" in str(c) and np.issubdtype(d.value[c].dtype, np.number):
                assert (d.value[c].dropna() >= 0).all() and (d.value[c].dropna() <= 1).all(), c
    v = np.r_[np.full(700, -5e-7), np.full(300, 1e-9), np.linspace(0.01, 1, 437)]
    note = tables.near_tie_note(v, 18, "high", easiest=True)
    assert "1000 samples" in note and "tie" in note
    assert tables.near_tie_note(np.linspace(0, 1, 100), 18, "high", easiest=True) == ""


def test_glossary_page_and_hover_help(cache_dir):
    """Every term the pages use has a one-line definition (hover help) and a glossary entry with its formula and
    the paper (authors and title)."""
    from dashboard import glossary

    at = _app("app_pages/glossary.py")
    text = _texts(at)
    for term in ["θ_o", "UA", "RA", "TA", "MIA-efficacy", "ToW", "ES", "Avg. gap", "BLO weight", "ε / forget quality"]:
        assert f"#### {term}" in text, term
        assert term in glossary.GLOSSARY and len(glossary.GLOSSARY[term]) > 20
    assert len(at.get("latex")) == len(glossary.TERMS)
    for term in ["F", "KLoM", "U-LiRA", "TPR at low FPR", "loss", "p(true label)"]:  # every term the pages use
        assert glossary.term_of(term) in glossary.TERMS, term
    assert "Challenging Forgets" in text and "Machine Unlearning in Forgetting Sequence" in text
    assert "seed 00" not in text  # papers by authors and title, never by internal file number


def _column_help(element) -> dict[str, str]:
    """{column: hover text} of a st.dataframe as the browser receives it (its column configuration)."""
    import json

    cfg = json.loads(element.proto.columns or "{}")
    return {k: v.get("help") for k, v in cfg.items() if isinstance(v, dict) and v.get("help")}


def _assert_terms_defined(element, must: set[str]) -> None:
    """Every column of the table that names a glossary term carries that term's one-line definition on hover, and
    the metric columns ``must`` are among them."""
    from dashboard import glossary

    helps = _column_help(element)
    cols = [str(c) for c in element.value.columns]
    assert must <= set(cols), (must, cols)
    for c in cols:
        term = glossary.term_of(c)
        if term is not None:
            assert helps.get(c, "").startswith(f"**{term}** — "), (c, helps.get(c))
            assert glossary.TERMS[term].line in helps[c]
    for c in must:
        assert helps.get(c), c


def test_every_metric_column_defines_its_term_on_hover(cache_dir):
    """Compare's Table 3 (both layouts, the per-run rows) and the inspector's tables define every metric column on
    hover, from the one glossary (issue 22: θ_o, UA, MIA-efficacy … had no way to learn what they mean)."""
    at = _app("app_pages/compare.py")
    assert not at.exception
    _assert_terms_defined(at.dataframe[0], {"UA", "MIA", "RA", "TA", "Avg. gap", "n", "seeds"})
    at.segmented_control(key="cmp_layout").set_value("forget sets side by side").run()
    for el in at.dataframe[:2]:
        _assert_terms_defined(el, {"UA", "MIA", "RA", "TA", "Avg. gap", "n"})

    from unlearn_core.config import Setup

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["setup"] = Setup.from_dict(_setup_cfg()).to_dict()
    at.query_params["sample"] = "7"
    at.run()
    at.switch_page("app_pages/inspector.py")
    at.run()
    assert not at.exception
    by_col = {c: el for el in at.dataframe for c in el.value.columns}
    _assert_terms_defined(by_col["in its forget set"], {"loss", "p(true label)", "confidence (top class)"})
    _assert_terms_defined(by_col["distance"], {"distance"})
    _assert_terms_defined(by_col["holds this sample"], set())
    _assert_terms_defined(by_col["hard-to-forget rank"], {"hard-to-forget rank", "percentile"})


def test_tour_ends_on_a_summary_with_this_run_s_numbers(cache_dir):
    """The tour's last step is a summary page with the numbers of the run (Retrain's UA on random vs worst etc.)."""
    from dashboard import tour
    from unlearn_core import results as res
    from unlearn_core.store import Store

    assert tour.TOUR[-1][0] == "summary" and "Hardest / easiest" in tour.TOUR[1][2]  # step 2 names the tab
    at = AppTest.from_file(APP, default_timeout=60)
    from unlearn_core.config import Setup

    at.session_state["setup"] = Setup(train={"epochs": EPOCHS}, blo=BLO).to_dict()
    at.session_state["tour"] = {"job": None, "active": True}
    at.run()
    at.switch_page("app_pages/runs.py").run()
    assert at.button(key="tour_next_runs").label == "Next: What we saw →"
    at.switch_page("app_pages/tour_summary.py").run()
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    t3 = res.table3(res.results_frame(Store(cache_dir)), ["random", "worst"], 0.1)
    w = t3[(t3["selector"] == "worst") & (t3["method"] == "retrain")].iloc[-1]  # the row the page reads
    ua_worst = res.fmt_mean_std(w["UA_mean"], w["UA_std"], int(w["n"]))  # other tests may add seeds to the store
    mean, _, spread = ua_worst.partition(" ± ")
    assert "What we saw" in text and f"UA {mean}% ± {spread}" in text and "median loss under θ_o" in text
    assert "± —%" not in text  # the unit follows the mean, not the missing spread
    assert "Teaching demo — Step 6" in text


def test_runs_show_estimate_vs_actual(cache_dir):
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    mgr = JobManager.shared(Store(cache_dir))
    jid = mgr.submit("train_original", {"setup": {"dataset": "digits", "train": {"epochs": EPOCHS}, "blo": BLO},
                                        "seed": 0})
    assert mgr.wait(jid, 60)["status"] == "done"
    at = _app("app_pages/runs.py")
    live = next(d.value for d in at.dataframe if "estimate" in d.value.columns)
    assert "actual / estimate" in live.columns
    assert "Estimate vs actual:" in _texts(at)


def test_compare_mia_variants_say_not_computed_until_the_job_computes_them(cache_dir):
    """Runs store only the confidence MIA; the Compare page shows the other feature variants as 'not computed' (never
    a blank number) with an estimate and a button; the job computes them from the stored models (no unlearning, the
    same run keys) and the table then shows numbers."""
    from unlearn_core.jobs import JobManager
    from unlearn_core.store import Store

    store = Store(cache_dir)
    keys = sorted(r["key"] for r in store.list_runs("unlearn", "done"))
    at = _app("app_pages/compare.py")
    table = next(d.value for d in at.dataframe if "MIA (the prediction entropy)" in d.value.columns)
    assert (table["MIA (the prediction entropy)"] == "not computed").all()
    assert table["MIA (the confidence p_y)"].str.match(r"^\d+\.\d\d$").all()
    assert re.search(rf"{4 * len(table)} values not computed \(Estimate: (≈ \d|under a second)",
                     _texts(at).replace("\\", ""))
    at.button(key="cmp_mia_job").click().run()
    assert not at.exception and not at.error
    assert JobManager.shared(store).wait(at.session_state["cmp_mia_job_id"], 120)["status"] == "done"
    at = _app("app_pages/compare.py")
    table = next(d.value for d in at.dataframe if "MIA (the prediction entropy)" in d.value.columns)
    assert not (table == "not computed").any().any() and not _has_button(at, "cmp_mia_job")
    assert sorted(r["key"] for r in store.list_runs("unlearn", "done")) == keys
