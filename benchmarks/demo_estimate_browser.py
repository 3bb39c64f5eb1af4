"""The Overview's demo estimate vs the demo's actual time, through the real dashboard (issue 22).

Runs the browser test's teaching demo (``tests/test_e2e_browser.py``: `streamlit run app.py` on a fresh store,
headless Chromium at 1400 px, the quick demo from the click through the guided tour) several times, alternating
Streamlit's ``runner.postScriptGC`` (forced ``gc.collect()`` after every script run; ``.streamlit/config.toml``
turns it off) so that both variants meet the same load. Prints, per round, the estimate the Overview showed
before the click, the demo's actual time (the job's finished − started) and their ratio; then the mean ratio per
variant. Absolute times on a shared machine vary several-fold; compare the ratios of one run.

    python benchmarks/demo_estimate_browser.py --rounds 2
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOB = re.compile(r'^demo: (\{.*\})$', re.M)  # the job's own estimate (unrounded), printed by the test
LINE = re.compile(r"demo estimate ([\d.]+) s, actual ([\d.]+) s \(actual/estimate ([\d.]+), load ([\d.]+) per core\)")


def one_demo(post_script_gc: bool) -> tuple[float, float, float, float, float]:
    """(estimate shown s, actual s, actual/estimate shown, load per core, the job's unrounded estimate s) of one
    browser-test demo. The Overview shows the estimate rounded to whole seconds ("about 3 s")."""
    env = {**os.environ, "STREAMLIT_RUNNER_POST_SCRIPT_GC": "true" if post_script_gc else "false"}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                          "tests/test_e2e_browser.py", "-k", "demo_tour"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    m = LINE.search(out.stdout)
    if out.returncode != 0 or m is None:
        raise SystemExit(f"the browser test failed (exit {out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-2000:]}")
    job = JOB.search(out.stdout)
    job_est = float((json.loads(job.group(1)).get("estimate") or {}).get("total_s") or "nan") if job else math.nan
    return (*(float(g) for g in m.groups()), job_est)  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2, help="rounds; each runs both variants (default 2)")
    args = ap.parse_args()
    names = ("gc after each run (Streamlit default)", "no forced gc (ours)")
    ratios: dict[str, list[float]] = {n: [] for n in names}
    exact: dict[str, list[float]] = {n: [] for n in names}
    print(f"{'round':>5}  {'variant':38s} {'shown':>7} {'job est':>8} {'actual':>8} {'act/shown':>9} "
          f"{'act/job est':>11} {'load/core':>9}")
    for r in range(args.rounds):
        for gc, name in ((True, "gc after each run (Streamlit default)"), (False, "no forced gc (ours)")):
            est, act, ratio, load, job_est = one_demo(gc)
            ratios[name].append(ratio)
            exact[name].append(act / job_est)
            print(f"{r:5d}  {name:38s} {est:6.1f}s {job_est:7.2f}s {act:7.2f}s {ratio:9.2f} {act / job_est:11.2f} "
                  f"{load:9.1f}", flush=True)
    for name in names:
        for what, v in (("shown estimate", ratios[name]), ("job's estimate", exact[name])):
            spread = f" ± {statistics.stdev(v):.2f}" if len(v) > 1 else ""
            print(f"{name}: actual / {what} {statistics.mean(v):.2f}{spread} (mean ± sample std, {len(v)} rounds)")


if __name__ == "__main__":
    main()
