"""Fuzz the CLI with bad and odd invocations, each in its own subprocess with a timeout.

    python benchmarks/fuzz_cli.py [--jobs 2] [--timeout 120] [--work /tmp/forgetset-fuzz] [--only SUBSTRING]

The cases (``tests/_bad_inputs.py``) are generated — every bad value of an option that all computing
subcommands share, for each of train / score / select / unlearn / compare — plus hand-written ones per
subcommand (checkpoints, data files, hyperparameters, selectors, grid lists, outputs, runs, list, damaged,
read-only and old caches). Printed: how many ``refuse`` cases gave exit 2 with an ``error:`` line and no traceback
(target 100%), how many were *silently accepted* (exit 0 for an input that should have been refused; target 0),
how ``recover`` cases (damaged / old caches: exit 0 with a ``note:``) and ``accept`` controls (odd but valid input:
exit 0) fared, and the slowest invocation. Exit status 1 if any case failed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the shared case list lives beside the tests that use a subset of it

from _bad_inputs import Case, all_cases, judge, make_fixtures, readonly_supported  # noqa: E402


def run_case(case: Case, timeout: float, env: dict) -> dict:
    if case.prepare is not None:
        case.prepare()
    t0 = time.time()
    try:
        p = subprocess.run([sys.executable, "-m", "unlearn_core", *case.argv], capture_output=True, text=True,
                           timeout=timeout, env=env, cwd=str(REPO), stdin=subprocess.DEVNULL)
        code, err, timed_out = p.returncode, p.stderr, False
    except subprocess.TimeoutExpired as e:
        code, timed_out = None, True
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    finally:
        if case.cleanup is not None:
            case.cleanup()
    wall = time.time() - t0
    last = [ln for ln in err.splitlines() if ln.strip()]
    msg = next((ln for ln in reversed(last) if "error:" in ln or ln.startswith("note:")), last[-1] if last else "")
    return {"case": case, "code": code, "wall": wall, "verdict": judge(case, code, err, timed_out), "message": msg,
            "crash_file": "internal error" in err}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=1, help="invocations at once (default 1: shared 2-core machines)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per invocation")
    ap.add_argument("--work", default="/tmp/forgetset-fuzz", help="scratch folder (wiped first)")
    ap.add_argument("--only", default=None, help="run only cases whose name contains this")
    ap.add_argument("--verbose", action="store_true", help="print every case")
    args = ap.parse_args()

    work = Path(args.work)
    if work.exists():
        subprocess.run(["chattr", "-R", "-i", str(work)], capture_output=True)
        shutil.rmtree(work)
    work.mkdir(parents=True)
    t_fix = time.time()
    fx = make_fixtures(work / "fixtures")
    cache = str(work / "cache")
    cases = all_cases(fx, cache, work, readonly_supported(work))
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "FORGETSET_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "TMPDIR": str(work)}
    print(f"{len(cases)} cases (fixtures built in {time.time() - t_fix:.1f}s); timeout {args.timeout:.0f}s each, "
          f"{args.jobs} at a time", flush=True)

    # Cases that prepare shared state (read-only folders, damaged databases) run one at a time after the rest.
    plain = [c for c in cases if c.prepare is None]
    stateful = [c for c in cases if c.prepare is not None]
    t0 = time.time()
    results: list[dict] = []

    def report(r: dict) -> None:
        results.append(r)
        if args.verbose or r["verdict"] != "ok":
            print(f"[{len(results):3d}/{len(cases)}] {r['verdict']:>18s} {r['wall']:5.1f}s  {r['case'].name}  ::  "
                  f"{r['message'][:160]}", flush=True)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for r in pool.map(lambda c: run_case(c, args.timeout, env), plain):
            report(r)
    for c in stateful:
        report(run_case(c, args.timeout, env))
    subprocess.run(["chattr", "-R", "-i", str(work)], capture_output=True)

    by = {k: [r for r in results if r["case"].expect == k] for k in ("refuse", "recover", "accept")}
    refuse = by["refuse"]
    clear = sum(r["verdict"] == "ok" for r in refuse)
    silent = sum(r["verdict"] == "silently accepted" for r in refuse)
    tracebacks = sum(r["verdict"] == "traceback" for r in results)
    timeouts = sum(r["verdict"] == "timeout" for r in results)
    crashes = sum(r["crash_file"] for r in results)
    slowest = max(results, key=lambda r: r["wall"])
    per_cmd: dict[str, list[int]] = {}
    for r in results:
        cmd = r["case"].argv[0] if r["case"].argv else "(none)"
        per_cmd.setdefault(cmd, [0, 0])
        per_cmd[cmd][0] += 1
        per_cmd[cmd][1] += r["verdict"] == "ok"
    print()
    print(f"total invocations:        {len(results)} in {time.time() - t0:.0f}s")
    print(f"should be refused:        {len(refuse)}")
    print(f"  clear error, no trace:  {clear}/{len(refuse)} ({100 * clear / max(1, len(refuse)):.1f}%)")
    print(f"  silently accepted:      {silent}  (exit 0 for an input that should have been refused)")
    print(f"damaged/old cache (recover, exit 0 + note): {sum(r['verdict'] == 'ok' for r in by['recover'])}/"
          f"{len(by['recover'])}")
    print(f"odd but valid (accept, exit 0):             {sum(r['verdict'] == 'ok' for r in by['accept'])}/"
          f"{len(by['accept'])}")
    print(f"tracebacks: {tracebacks} · timeouts: {timeouts} · internal errors (crash file): {crashes}")
    print(f"max wall time per invocation: {slowest['wall']:.1f}s ({slowest['case'].name})")
    print("per subcommand (ok/total): " + ", ".join(f"{k} {v[1]}/{v[0]}" for k, v in sorted(per_cmd.items())))
    return 0 if all(r["verdict"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
