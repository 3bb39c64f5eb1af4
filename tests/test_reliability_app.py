"""Issue 21, item 3 in the dashboard: a checkpoint imported while the server runs (through the dashboard's own job)
is what every page uses next, never the θ_o the server had in memory."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(Path(__file__).resolve().parents[1] / "app.py")
SETUP = {"train": {"epochs": 3}}


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [e.value for e in at.error] + [m.value for m in at.metric]
    return "\n".join(str(p) for p in parts)


def _neighbours(at: AppTest):
    return next(d.value for d in at.dataframe if "distance" in d.value.columns)


def _expected_neighbours(model, ds, index: int, k: int = 8) -> list[int]:
    from unlearn_core.analysis._inputs import penultimate_features

    feats, _ = penultimate_features(model, ds, "train")
    d = np.linalg.norm(feats - feats[index], axis=1)
    d[index] = np.inf
    return [int(i) for i in np.argsort(d, kind="stable")[:k]]


def test_import_while_the_server_runs_reaches_every_page(tmp_path, monkeypatch):
    from unlearn_core.config import Setup
    from unlearn_core.jobs import JobManager
    from unlearn_core.pipeline import Pipeline
    from unlearn_core.store import Store, weights_digest

    cache, data = tmp_path / "cache", tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("FORGETSET_CACHE_DIR", str(cache))
    monkeypatch.setenv("FORGETSET_DATA_ROOT", str(data))
    store = Store(cache)
    setup = Setup(**SETUP)
    helper = Pipeline(store, setup)
    old = helper.original(0)
    torch.save(helper.original(1).state_dict(), data / "other.pt")  # another trained θ_o (seed 1) to import

    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["setup"] = setup.to_dict()
    at.query_params["sample"] = "7"
    at.run()
    at.switch_page("app_pages/inspector.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    before = list(_neighbours(at)["sample"])
    assert before == _expected_neighbours(old, helper.ds, 7)  # the server now holds the old θ_o in memory

    # import through the dashboard's own job, while the server (this process, its cached pipeline) runs
    at.switch_page("app_pages/data_model.py")
    at.run()
    at.text_input(key="ckpt_path").set_value("other.pt")
    at.checkbox(key="ckpt_confirm").check()
    at.button(key="import_btn").click()
    at.run()
    job = JobManager.shared(Store(cache)).wait(at.session_state["train_job"], 120)
    assert job["status"] == "done", job.get("error")
    fresh = Pipeline(Store(cache), setup)
    new = fresh.original(0)
    assert weights_digest(new) != weights_digest(old)
    run = fresh.find_original(0)

    from dashboard.common import PAGES

    for page in PAGES.values():  # every page runs against the new θ_o without an error
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
    at.switch_page("app_pages/data_model.py")
    at.run()
    txt = _texts(at)
    assert "imported from a checkpoint" in txt and f"{run['metrics']['test_acc']:.2f}%" in txt
    at.switch_page("app_pages/inspector.py")
    at.run()
    assert not at.exception
    after = list(_neighbours(at)["sample"])
    assert after == _expected_neighbours(new, fresh.ds, 7), "the Inspector used the old θ_o's features"
    preds = next(d.value for d in at.dataframe if "in its forget set" in d.value.columns)
    row = preds[preds["model"].str.contains("original")].iloc[0]
    from unlearn_core.training import predict_logits

    logits = predict_logits(new, fresh.ds, "train", [7])
    loss = torch.nn.functional.cross_entropy(logits, fresh.ds.y_train[7:8]).item()
    assert row["loss"] == pytest.approx(loss, rel=1e-4, abs=1e-5)
    # the server's own long-lived pipeline serves the imported θ_o too
    from dashboard import readers

    pipe = readers._pipeline(str(cache.resolve()), setup.to_json())
    assert weights_digest(pipe.original(0)) == weights_digest(new)
    JobManager.shared(Store(cache)).shutdown(wait=True, timeout=30)
