"""The server costs (almost) nothing while idle: started the way the README says (``streamlit run app.py`` in a
checkout that has its virtual environment inside it), one browser tab open, nothing changing.

Streamlit's default file watcher watches the app's folder recursively; with a ``.venv`` of ~4,500 folders inside
the checkout it re-scanned them in a loop ("Inotify queue overflowed") and burned ~46% of a core (1,376 CPU ticks
per 30 s measured on the 2-core box). ``.streamlit/config.toml`` turns the watcher off; this test measures the
server process's CPU ticks (``/proc/PID/stat``, 100 per second) over a few idle seconds and bounds them.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
N_VENV_FOLDERS = 4600  # as many folders as the README's .venv holds
SAMPLE_S = 6.0
MAX_TICKS = 60  # 10% of one core over SAMPLE_S (measured: ~1 tick with the watcher off, ~276 with it on)

pytestmark = [pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing"),
              pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")]


def _ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _checkout(tmp: Path) -> Path:
    """A copy of the app as a user has it: the app files, the config and a big .venv folder inside."""
    co = tmp / "forgetset"
    co.mkdir()
    for name in ("app.py", "app_pages", "dashboard", ".streamlit"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, co / name)
    site = co / ".venv" / "lib" / "python3" / "site-packages"
    for i in range(N_VENV_FOLDERS):
        d = site / f"pkg{i // 50}" / f"mod{i % 50}"
        d.mkdir(parents=True)
        (d / "__init__.py").write_text("")
    return co


def test_idle_server_with_venv_inside_the_checkout_costs_almost_no_cpu(tmp_path):
    from playwright.sync_api import sync_playwright

    co = _checkout(tmp_path)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env.update(STREAMLIT_SERVER_PORT=str(port), STREAMLIT_SERVER_HEADLESS="true",
               PYTHONPATH=os.pathsep.join([str(co), str(ROOT)]), FORGETSET_CACHE_DIR=str(co / "cache"))
    log_path = tmp_path / "streamlit.log"
    with open(log_path, "w") as log:
        # the README's command: `streamlit run app.py` in the checkout (no flags: the config file decides)
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py"], cwd=co, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 90
            while time.time() < deadline:
                try:
                    if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    time.sleep(0.3)
                assert proc.poll() is None, log_path.read_text()
            else:
                pytest.fail("streamlit did not start: " + log_path.read_text())
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                page.goto(base)
                page.get_by_text("Which training samples are hard to unlearn?").wait_for(timeout=90_000)
                page.wait_for_timeout(4000)  # the first run and its fragments settle
                a, t0 = _ticks(proc.pid), time.time()
                time.sleep(SAMPLE_S)
                b, dt = _ticks(proc.pid), time.time() - t0
                browser.close()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    text = log_path.read_text()
    print(f"idle server: {b - a} CPU ticks in {dt:.1f} s ({(b - a) / dt:.1f}% of a core)")
    assert "Inotify" not in text, text[-2000:]
    assert b - a <= MAX_TICKS, f"{b - a} ticks in {dt:.1f}s idle"
