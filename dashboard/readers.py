"""Cached readers of what the store holds for the active setup: the pipeline (data loaded once per server), finished
runs, per-sample scores, forget sets, thumbnails and the job table. Nothing here computes: jobs do."""
from __future__ import annotations

import json

import streamlit as st

from unlearn_core import results as res
from unlearn_core.config import Setup
from unlearn_core.errors import ForgetsetError
from unlearn_core.pipeline import Pipeline

from . import images, style
from .common import PAGES, _store, cache_root, manager, seed, setup_json, store
from .widgets import error


@st.cache_resource(show_spinner=False, max_entries=16)
def _pipeline(root: str, setup_js: str):
    return Pipeline(_store(root), Setup.from_dict({**json.loads(setup_js), "device": "cpu"}))


def pipeline():
    """(Pipeline for the active setup on the CPU, error message or None). Loads data once per server."""
    try:
        return _pipeline(cache_root(), setup_json()), None
    except ForgetsetError as err:
        return None, str(err)
    except Exception as err:  # noqa: BLE001 - show, do not crash the page
        return None, f"{type(err).__name__}: {err}"


def require_pipeline():
    pipe, err = pipeline()
    if pipe is None:
        error(f"The active setup cannot be loaded: {err}")
        st.page_link(PAGES["data"], label="Choose another data set on **Data & model**", icon=":material/dataset:")
        st.stop()
    return pipe


# ---------------------------------------------------------------------------------------------- cached readers
def version() -> tuple:
    return store().version()


@st.cache_data(show_spinner=False, max_entries=8)
def _results(root: str, ver: tuple, include_superseded: bool = False):
    return res.results_frame(_store(root), include_superseded=include_superseded)


def results(include_superseded: bool = False):
    """Finished unlearning runs; rows made with a θ_o that is no longer current only on request (flagged)."""
    return _results(cache_root(), version(), include_superseded)


@st.cache_data(show_spinner=False, max_entries=8)
def _on_demand_todo(root: str, ver: tuple, keys: tuple, names: tuple) -> tuple[int, float | None]:
    df = _results(root, ver, True)
    return res.on_demand_todo(_store(root), df[df["key"].isin(keys)] if len(df) else df, list(names))


def on_demand_todo(keys: list[str], names: list[str]) -> tuple[int, float | None]:
    """(values of the on-demand metrics ``names`` the runs ``keys`` lack, seconds to compute them): read once per
    store version (:func:`unlearn_core.results.on_demand_todo`)."""
    return _on_demand_todo(cache_root(), version(), tuple(keys), tuple(names))


@st.cache_data(show_spinner=False, max_entries=16)
def _score_entries(root: str, setup_js: str, seed_: int, ver: tuple) -> list[dict]:
    return [{k: v for k, v in e.items() if k != 'run'} | {'run_key': e['key']}
            for e in res.cached_scores(_pipeline(root, setup_js), seed_)]


def score_entries() -> list[dict]:
    return _score_entries(cache_root(), setup_json(), seed(), version())


@st.cache_data(show_spinner=False, max_entries=16)
def _samples(root: str, setup_js: str, seed_: int, ver: tuple):
    pipe = _pipeline(root, setup_js)
    return style.clip_weights(res.sample_frame(pipe, seed_))  # BLO weights shown in [0, 1]


def samples():
    """Per-sample frame (label, θ_o prediction, cached scores) of the active setup."""
    return _samples(cache_root(), setup_json(), seed(), version())


@st.cache_data(show_spinner=False, max_entries=64)
def _score_extras(root: str, key: str) -> dict:
    run = _store(root).done_run(key)
    loaded = res.load_score(_store(root), run) if run else None
    return loaded[1] if loaded else {}


def score_extras(key: str) -> dict:
    return _score_extras(cache_root(), key)


@st.cache_data(show_spinner=False, max_entries=8)
def _catalog(root: str, setup_js: str, ver: tuple):
    return res.forget_sets(_pipeline(root, setup_js)).drop(columns="run")


def catalog():
    return _catalog(cache_root(), setup_json(), version())


@st.cache_data(show_spinner=False, max_entries=256)
def _forget_idx(root: str, key: str):
    return res.forget_idx_of(_store(root), key)


def forget_idx(key: str):
    return _forget_idx(cache_root(), key)


@st.cache_data(show_spinner=False, max_entries=256)
def _thumbs(root: str, setup_js: str, idx: tuple, size: int):
    return images.thumbnails(_pipeline(root, setup_js).ds, list(idx), size)


def thumbs(idx, size: int = 64):
    return _thumbs(cache_root(), setup_json(), tuple(int(i) for i in idx), size)


@st.cache_data(show_spinner=False, max_entries=64)
def _mosaic(root: str, setup_js: str, idx: tuple, ncols: int, size: int, labels: tuple | None):
    return images.image_mosaic(_pipeline(root, setup_js).ds, list(idx), ncols, size,
                               labels=list(labels) if labels is not None else None)


def mosaic(idx, ncols: int = 12, size: int = 48, labels=None):
    """Samples in a grid with white gaps; ``labels`` (one short text per sample) are printed under each image.
    By default each image is labelled with its sample number and class."""
    idx = [int(i) for i in idx]
    if labels is None and idx:
        pipe, _ = pipeline()
        if pipe is not None:
            y = pipe.ds.y_train.cpu().numpy()
            labels = [f"{pipe.ds.classes[int(y[i])]} · #{i}" for i in idx]
    return _mosaic(cache_root(), setup_json(), tuple(idx), ncols, size,
                   tuple(str(x) for x in labels) if labels is not None else None)


@st.cache_data(show_spinner=False, max_entries=512)
def _data_uri(root: str, setup_js: str, i: int, size: int) -> str:
    return images.png_data_uri(images.thumbnails(_pipeline(root, setup_js).ds, [i], size)[0])


def data_uris(idx, size: int = 40) -> list[str]:
    return [_data_uri(cache_root(), setup_json(), int(i), size) for i in idx]


def latest_job(kind: str, pred=None) -> dict | None:
    """The most recent job of ``kind`` (optionally matching ``pred(config)``)."""
    for j in manager().list_jobs(limit=200):
        if j["kind"] == kind and (pred is None or pred(j["config"])):
            return j
    return None
