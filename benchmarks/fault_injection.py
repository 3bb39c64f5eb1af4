"""Fault injection on the cache: kill -9 during ``compare``, damaged artifacts and databases, checkpoint imports.

    python benchmarks/fault_injection.py [--kills 20] [--seed 0] [--work /tmp/forgetset-faults]

A small digits grid (Retrain / FT / GA × random / worst-case × 2 seeds, short recipe and BLO) is first run on a
fresh cache: its per-run CSV is the reference. Then every trial damages a cache and re-runs ``compare`` to the end:

- ``kill``: SIGKILL during a compare on a fresh cache, after a random number of its results are recorded (so every
  stage is hit), plus a random jitter (then ``runs`` must still list the cache);
- ``flip`` / ``truncate`` / ``delete``: a random artifact of a finished cache gets a bit flip, is cut, or vanishes;
- ``db-garbage`` / ``db-truncate`` / ``db-flips`` / ``db-row``: the database is replaced by garbage, cut, gets random
  bit flips, or a finished row's metric is altered in place;
- ``import``: another θ_o is imported for seed 0 (results must change exactly where they depend on θ_o and equal a
  clean run with the same import), then the original θ_o is imported back (results must equal the reference).

A trial passes when the re-run exits 0, its CSV equals the reference (every column but run times and timestamps:
no wrong or stale result served), and no run is left ``running`` or ``corrupt``. Prints pass/fail counts.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
GRID = ["compare", "--methods", "retrain,ft,ga", "--selectors", "random,worst", "--ratios", "0.1", "--seeds", "2",
        "--epochs", "3", "--blo", '{"upper_iters": 2, "K": 1}', "--params",
        '{"ft": {"epochs": 2}, "ga": {"epochs": 2}}', "--device", "cpu", "--quiet"]
VOLATILE = {"runtime_s", "finished"}  # wall-clock columns; everything else must be identical
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unlearn_core", *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV, cwd=str(REPO))


def compare(cache: Path, out: Path) -> tuple[subprocess.CompletedProcess, pd.DataFrame | None]:
    p = cli(*GRID, "--cache-dir", str(cache), "--out", str(out))
    return p, (pd.read_csv(out) if p.returncode == 0 and out.exists() else None)


def same_results(df: pd.DataFrame | None, ref: pd.DataFrame) -> str:
    """'' if ``df`` equals the reference on every non-volatile column, else what differs."""
    if df is None:
        return "no CSV"
    cols = [c for c in ref.columns if c not in VOLATILE]
    if list(df.columns) != list(ref.columns) or len(df) != len(ref):
        return f"shape {df.shape} vs {ref.shape}"
    a, b = df[cols].reset_index(drop=True), ref[cols].reset_index(drop=True)
    diff = [c for c in cols if not a[c].equals(b[c])]
    return f"columns differ: {diff[:6]}" if diff else ""


def leftover_rows(cache: Path) -> str:
    with sqlite3.connect(cache / "forgetset.db") as con:
        bad = con.execute("SELECT status, COUNT(*) FROM runs WHERE status IN ('running') GROUP BY status").fetchall()
    p = cli("runs", "--cache-dir", str(cache), "--status", "corrupt")
    corrupt = 0 if "no runs" in p.stdout else max(0, len(p.stdout.splitlines()) - 1)
    out = ", ".join(f"{n} {s}" for s, n in bad) + (f", {corrupt} corrupt" if corrupt else "")
    return out.strip(", ")


def done_count(cache: Path) -> int:
    """Finished results in a cache that another process may be writing (0 while it has no database yet)."""
    try:
        with sqlite3.connect(f"file:{cache / 'forgetset.db'}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM runs WHERE status='done'").fetchone()[0]
    except sqlite3.Error:
        return 0


def artifacts(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "artifacts").rglob("*") if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--damages", type=int, default=4, help="trials per artifact / database damage kind")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default="/tmp/forgetset-faults")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    t0 = time.time()
    ref_cache = work / "reference"
    p, ref = compare(ref_cache, work / "reference.csv")
    if ref is None:
        print(p.stderr)
        return 1
    t_clean = time.time() - t0
    print(f"reference: {len(ref)} runs in {t_clean:.1f}s (clean compare on a fresh cache)", flush=True)
    results: list[tuple[str, bool, str]] = []

    def record(kind: str, ok: bool, detail: str) -> None:
        results.append((kind, ok, detail))
        print(f"  {'PASS' if ok else 'FAIL'}  {kind:12s} {detail}", flush=True)

    def check_rerun(kind: str, cache: Path, what: str, expect: pd.DataFrame = ref) -> None:
        listing = cli("runs", "--cache-dir", str(cache))
        if listing.returncode != 0 or "Traceback" in listing.stderr:
            record(kind, False, f"{what}: 'runs' failed: {listing.stderr.strip()[-200:]}")
            return
        p, df = compare(cache, cache / "rerun.csv")
        problem = "Traceback in stderr" if "Traceback" in p.stderr else (
            f"exit {p.returncode}: {p.stderr.strip()[-200:]}" if p.returncode else same_results(df, expect))
        left = leftover_rows(cache) if not problem else ""
        said = listing.stderr + p.stderr
        note = " (note: " + said.split("note: ")[1][:70].strip() + "...)" if "note: " in said else ""
        record(kind, not problem and not left, f"{what}: " + (problem or (f"left {left}" if left else
                                                                      "identical to the clean run")) + note)

    # ---- kill -9 at random moments of a compare on a fresh cache: after a random number k of results are done
    # (0 .. all but one, so every stage is hit: θ_o, scores, forget sets, runs) plus a random jitter.
    with sqlite3.connect(ref_cache / "forgetset.db") as con:
        n_rows = con.execute("SELECT COUNT(*) FROM runs WHERE status='done'").fetchone()[0]
    print(f"kill -9 during compare ({args.kills} trials; the clean run records {n_rows} results)", flush=True)
    for i in range(args.kills):
        cache = work / f"kill{i}"
        target, jitter = rng.randrange(n_rows), rng.uniform(0.0, 0.4)
        proc = subprocess.Popen([sys.executable, "-m", "unlearn_core", *GRID, "--cache-dir", str(cache)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, cwd=str(REPO))
        t_start, done = time.time(), 0
        while proc.poll() is None and done < target:
            time.sleep(0.05)
            done = done_count(cache)
        time.sleep(jitter)
        finished_first = proc.poll() is not None
        if not finished_first:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        check_rerun("kill", cache, f"SIGKILL at {time.time() - t_start:4.1f}s after {done_count(cache)}/{n_rows} "
                    f"results" + (" (it had finished first)" if finished_first else ""))

    # ---- damaged artifacts of a finished cache
    print("damaged artifacts", flush=True)
    for kind in ("flip", "truncate", "delete"):
        for i in range(args.damages):
            cache = work / f"{kind}{i}"
            shutil.copytree(ref_cache, cache)
            target = rng.choice(artifacts(cache))
            data = bytearray(target.read_bytes())
            if kind == "flip":
                pos = rng.randrange(len(data))
                data[pos] ^= 1 << rng.randrange(8)
                target.write_bytes(bytes(data))
            elif kind == "truncate":
                target.write_bytes(bytes(data[: rng.randrange(len(data))]))
            else:
                target.unlink()
            check_rerun(kind, cache, f"{target.parent.name}/{target.name[:10]}")

    # ---- damaged databases
    print("damaged databases", flush=True)
    for kind in ("db-garbage", "db-truncate", "db-flips", "db-row"):
        for i in range(args.damages if kind != "db-garbage" else 1):
            cache = work / f"{kind}{i}"
            shutil.copytree(ref_cache, cache)
            db = cache / "forgetset.db"
            with sqlite3.connect(db) as con:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            data = bytearray(db.read_bytes())
            if kind == "db-garbage":
                db.write_bytes(bytes(rng.getrandbits(8) for _ in range(len(data))))
                what = "replaced by random bytes"
            elif kind == "db-truncate":
                cut = rng.randrange(len(data))
                db.write_bytes(bytes(data[:cut]))
                what = f"cut at byte {cut} of {len(data)}"
            elif kind == "db-flips":
                n = rng.choice([1, 8, 64])
                for _ in range(n):
                    pos = rng.randrange(100, len(data))
                    data[pos] ^= 1 << rng.randrange(8)
                db.write_bytes(bytes(data))
                what = f"{n} random bit flips"
            else:
                with sqlite3.connect(db) as con:
                    key, metrics = con.execute("SELECT key, metrics FROM runs WHERE kind='unlearn' AND status='done' "
                                               "ORDER BY key LIMIT 1 OFFSET ?", (i,)).fetchone()
                    con.execute("UPDATE runs SET metrics=? WHERE key=?", (metrics.replace('"UA": ', '"UA": 1'), key))
                with sqlite3.connect(db) as con:
                    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                what = f"metric UA of run {key[:10]} altered in place"
            for suffix in ("-wal", "-shm"):
                (cache / f"forgetset.db{suffix}").unlink(missing_ok=True)
            check_rerun(kind, cache, what)

    # ---- checkpoint import, then compare; then the original θ_o back
    print("checkpoint import", flush=True)
    import torch

    from unlearn_core.models import build_model

    cache = work / "import"
    shutil.copytree(ref_cache, cache)
    torch.manual_seed(args.seed + 1)
    other = work / "other.pt"
    torch.save(build_model("mlp", (1, 8, 8), 10).state_dict(), other)
    setup_args = ["--epochs", "3", "--device", "cpu", "--quiet"]
    clean = work / "import-clean"
    imp = [cli("train", "--checkpoint", str(other), "--confirm-dataset", "digits", "--seed", "0", "--cache-dir",
               str(c), *setup_args) for c in (cache, clean)]
    p1, df1 = compare(cache, cache / "after-import.csv")
    p2, df2 = compare(clean, clean / "after-import.csv")
    ok = all(p.returncode == 0 for p in imp) and df1 is not None and df2 is not None
    if ok:
        # θ_o of seed 0 feeds FT/GA of seed 0 and the worst-case forget set of seed 0 (so Retrain on it too)
        mask0 = (ref["seed"] == 0) & ((ref["method"] != "retrain") | (ref["selector"] != "random"))
        changed = (df1.loc[mask0, "key"].values != ref.loc[mask0, "key"].values).all()
        kept = (df1.loc[~mask0, "key"].values == ref.loc[~mask0, "key"].values).all()
        same = same_results(df1, df2)
        record("import", bool(changed and kept and not same),
               f"seed-0 runs re-keyed: {changed}, others reused: {kept}, equal to a clean run with the import: "
               f"{same or 'yes'}")
    else:
        record("import", False, " / ".join(p.stderr.strip()[-120:] for p in [*imp, p1, p2] if p.returncode))
    # Import the reference's θ_o of seed 0 back: content addressing must serve the reference's results again.
    seed0 = None
    with sqlite3.connect(ref_cache / "forgetset.db") as con:
        for key, cfg in con.execute("SELECT key, config FROM runs WHERE kind='original' AND status='done'"):
            if '"seed": 0' in cfg:
                seed0 = ref_cache / "artifacts" / "original" / f"{key}.safetensors"
    if seed0 is not None and seed0.exists():
        p = cli("train", "--checkpoint", str(seed0), "--seed", "0", "--cache-dir", str(cache), *setup_args)
        if p.returncode:
            record("import-back", False, p.stderr.strip()[-200:])
        else:
            check_rerun("import-back", cache, "original θ_o imported back")
    else:
        record("import-back", False, "the reference's θ_o of seed 0 was not found")

    # ---- summary
    kinds = sorted({k for k, _, _ in results}, key=[k for k, _, _ in results].index)
    print()
    print(f"fault-injection trials: {len(results)} in {time.time() - t0:.0f}s; passed {sum(ok for _, ok, _ in results)}, "
          f"failed {sum(not ok for _, ok, _ in results)}")
    for k in kinds:
        rs = [ok for kk, ok, _ in results if kk == k]
        print(f"  {k:12s} {sum(rs)}/{len(rs)} passed")
    print("wrong or stale results served: " + str(sum(1 for _, ok, d in results if not ok and "differ" in d)))
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
