"""End to end in a real browser: `streamlit run app.py`, launch a small experiment on the Experiments page, wait
for it, open Compare and check the table and a chart render. Headless Debian chromium via Playwright (sync API)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is missing (install Debian's chromium: apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {**os.environ, "FORGETSET_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError((tmp_path / "streamlit.log").read_text())
    else:
        proc.terminate()
        raise RuntimeError("streamlit did not start: " + (tmp_path / "streamlit.log").read_text())
    yield base, tmp_path
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_launch_experiment_then_compare(server):
    from playwright.sync_api import expect, sync_playwright

    base, tmp = server
    # a small grid prefilled through the URL: Retrain + FT, random vs worst, 10%, seed 0, 5 training epochs, quick BLO
    q = urllib.parse.urlencode({"epochs": 5, "methods": "retrain,ft", "selectors": "random,worst", "ratios": "0.1",
                                "seeds": "0", "blo": json.dumps({"upper_iters": 3, "K": 2})})
    shot = tmp / "compare.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(f"{base}/experiments?{q}")
        launch = page.get_by_role("button", name="Launch experiment")
        expect(launch).to_be_enabled(timeout=60_000)
        expect(page.get_by_text("Unlearning runs")).to_be_visible()
        launch.click()
        # the job's progress is shown on the page; wait for the end
        expect(page.get_by_text("Experiment finished")).to_be_visible(timeout=150_000)
        assert page.locator('[data-testid="stException"]').count() == 0

        page.goto(f"{base}/compare?epochs=5&blo={urllib.parse.quote(json.dumps({'upper_iters': 3, 'K': 2}))}")
        expect(page.get_by_text("Table 3 view")).to_be_visible(timeout=60_000)
        table = page.locator('[data-testid="stDataFrame"]').first
        expect(table).to_be_visible(timeout=30_000)
        chart = page.locator('[data-testid="stPlotlyChart"] .main-svg').first
        expect(chart).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Gap to Retrain · method × metric")).to_be_visible()
        expect(page.get_by_role("button", name="Download this table")).to_be_visible()
        page.wait_for_timeout(1500)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")

        page.goto(f"{base}/runs")
        expect(page.get_by_text("Experiment · digits").first).to_be_visible(timeout=30_000)
        browser.close()
    assert shot.stat().st_size > 10_000


def test_embeddings_box_selection(server):
    """Open Embeddings (PCA of θ_o), drag a box over the map, check the selection panel lists samples."""
    import torch
    from playwright.sync_api import expect, sync_playwright

    from unlearn_core.pipeline import Pipeline
    from unlearn_core.store import Store

    torch.set_num_threads(1)
    base, tmp = server
    Pipeline(Store(tmp / "cache"), dataset="digits", train={"epochs": 5}).original(0)  # θ_o, as Data & model would
    shot = tmp / "embeddings_selection.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1200})
        page.goto(f"{base}/embeddings?epochs=5")
        expect(page.get_by_text("Feature embeddings")).to_be_visible(timeout=60_000)
        drag = page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first
        expect(drag).to_be_visible(timeout=60_000)
        expect(page.get_by_text("No samples selected yet.")).to_be_visible(timeout=30_000)
        box = drag.bounding_box()
        x0, y0 = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2
        x1, y1 = box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.8
        page.mouse.move(x0, y0)
        page.mouse.down()
        for k in range(1, 11):
            page.mouse.move(x0 + (x1 - x0) * k / 10, y0 + (y1 - y0) * k / 10)
        page.mouse.up()
        expect(page.get_by_text("selected samples").first).to_be_visible(timeout=30_000)
        expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible(timeout=30_000)
        page.wait_for_timeout(1500)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        browser.close()
    assert shot.stat().st_size > 10_000
