"""Reliability attacks of issue 21, each tried as a user (or an attacker) would, with a table of what happened.

    python benchmarks/reliability.py [--work /tmp/forgetset-reliability] [--bomb-mb 1200]

Every attack runs in its own subprocess against this checkout (``python -m unlearn_core ...``, or a short script
where the timing of a kill must be exact) on the digits data set with a 3-epoch recipe. Printed: one row per
attack with what is expected and what was observed, PASS / FAIL, and the count. Exit status 1 if any failed.

- **disk full** (a 3 MB tmpfs; skipped where mounting is impossible): a grid fills the disk; a second run while
  it is still full must say so (free space, what to do) and never move the healthy database aside;
  **read-only** (the same tmpfs remounted read-only): reported as read-only, nothing moved.
- **damaged database**: garbage in place of the database: moved aside, and the note names where it went.
- **θ_o import under a long-lived pipeline**: one Pipeline holds θ_o in memory, another imports a checkpoint;
  the first must serve the imported θ_o on its next call.
- **npz bomb** (``--bomb-mb`` MB of zeros in a ~1 MB npz, data limit 256 MB): refused from the headers, with the
  child's peak memory far below the declared size; **too many files / a huge image** in an image folder, and a
  **checkpoint above the limit**: refused with the limit named.
- **class name with a line break**: refused at load, naming the rule.
- **symbolic link out of a folder data set**: refused, the outside file is never read.
- **pickled whole-model checkpoint**: one ``error:`` line in forgetset's words (no torch warning, no
  ``weights_only=False`` advice).
- **SIGTERM right after θ_o is stored** (while its learning events / predictions are written): the next run
  leaves no row ``running``.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
BASE = ["--epochs", "3", "--device", "cpu", "--quiet"]
GRID = ["compare", "--methods", "retrain,ft", "--selectors", "random,worst", "--ratios", "0.1", "--seeds", "2",
        "--blo", '{"upper_iters": 2, "K": 1}', "--params", '{"ft": {"epochs": 1}}', *BASE]
ROWS: list[tuple[str, str, str, bool]] = []


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unlearn_core", *args], capture_output=True, text=True,
                          timeout=timeout, env=env or ENV, cwd=str(REPO), stdin=subprocess.DEVNULL)


def script(code: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=ENV, cwd=str(REPO))


def last_line(p: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else f"(exit {p.returncode}, nothing on stderr)"


def record(attack: str, expected: str, observed: str, ok: bool) -> None:
    ROWS.append((attack, expected, observed, ok))
    print(f"  {'PASS' if ok else 'FAIL'}  {attack}: {observed[:220]}", flush=True)


def db_rows(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute("SELECT COUNT(*) FROM runs WHERE status='done'").fetchone()[0]
        finally:
            con.close()  # an open handle would keep the tmpfs busy (no read-only remount)
    except sqlite3.Error:
        return -1


def moved_aside(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.glob("forgetset.db.corrupt-*") if not p.name.endswith(("-wal", "-shm")))


# ---------------------------------------------------------------------------------------------- 1. full / read-only disk
def attack_disk(work: Path) -> None:
    mnt = work / "tmpfs"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if p.returncode:
        record("disk full (3 MB tmpfs)", "skipped", f"cannot mount a tmpfs here: {p.stderr.strip()[:80]}", True)
        return
    try:
        cache = mnt / "cache"
        first = cli(*GRID, "--cache-dir", str(cache))
        done = db_rows(cache / "forgetset.db")
        # fill what is left to the last byte, so the next run finds the disk full whatever the grid left
        for chunk in (65536, 1):
            try:
                with open(mnt / "filler", "ab") as f:
                    while True:
                        f.write(b"\0" * chunk)
                        f.flush()
            except OSError:
                pass
        outcomes = [cli(*GRID, "--cache-dir", str(cache)) for _ in range(2)]
        moved = moved_aside(cache)
        after = db_rows(cache / "forgetset.db")
        msg = last_line(outcomes[-1])
        ok = (all(o.returncode == 2 for o in outcomes) and "full" in msg and "free" in msg and not moved
              and after == done and "Traceback" not in "".join(o.stderr for o in outcomes))
        record("disk full (3 MB tmpfs), run twice more",
               "'error: ... full (N free ...)', database kept in place with every finished run",
               f"first run exit {first.returncode} ({done} runs stored); then: {msg}; moved aside: {moved or 'none'}; "
               f"finished runs after: {after}", ok)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
    # read-only: a finished cache on a 32 MB tmpfs, remounted read-only, asked for one more seed
    mnt = work / "tmpfs-ro"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mnt)], capture_output=True)
    try:
        cache = mnt / "cache"
        first = cli(*GRID, "--cache-dir", str(cache))
        done = db_rows(cache / "forgetset.db")
        rm = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True, text=True)
        if rm.returncode:
            record("read-only file system", "skipped", f"cannot remount read-only: {rm.stderr.strip()[:80]}", True)
            return
        ro = cli(*[a if a != "2" else "3" for a in GRID], "--cache-dir", str(cache))
        msg = last_line(ro)
        ok = first.returncode == 0 and ro.returncode == 2 and "read-only" in msg and not moved_aside(cache) \
            and db_rows(cache / "forgetset.db") == done
        record("read-only file system (finished cache, one more seed asked)", "'error: ... read-only ...', nothing moved",
               f"{msg}; moved aside: {moved_aside(cache) or 'none'}; finished runs: {db_rows(cache / 'forgetset.db')} "
               f"of {done}", ok)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def attack_damaged_db(work: Path) -> None:
    cache = work / "damaged"
    cache.mkdir()
    (cache / "forgetset.db").write_bytes(os.urandom(8192))
    p = cli("runs", "--cache-dir", str(cache))
    moved = moved_aside(cache)
    said = p.stderr
    ok = p.returncode == 0 and len(moved) == 1 and moved[0] in said
    record("garbage database (real damage)", "moved aside once, the note names the new file",
           f"exit {p.returncode}; moved: {moved}; note names it: {bool(moved) and moved[0] in said}", ok)


# ---------------------------------------------------------------------------------------------- 3. import under a live pipeline
def attack_import(work: Path) -> None:
    cache = work / "import"
    p = script(f"""
        import torch
        from unlearn_core.models import build_model
        from unlearn_core.pipeline import Pipeline
        from unlearn_core.store import Store, weights_digest
        kw = dict(dataset="digits", model="mlp", device="cpu", train={{"epochs": 3}})
        server = Pipeline(Store({str(cache)!r}), **kw)
        old = weights_digest(server.original(0))
        torch.manual_seed(5)
        torch.save(build_model("mlp", server.ds.input_shape, server.ds.num_classes).state_dict(), {str(work / 'o.pt')!r})
        job = Pipeline(Store({str(cache)!r}), **kw)
        new = weights_digest(job.import_checkpoint({str(work / 'o.pt')!r}, 0, confirm_dataset="digits"))
        served = weights_digest(server.original(0))
        same_fs = (server.forget_set("bottom:loss", 0.1, 0).forget_idx == job.forget_set("bottom:loss", 0.1, 0).forget_idx).all()
        print(old[:8], new[:8], served[:8], bool(same_fs))
    """)
    if p.returncode:
        record("θ_o imported while a pipeline holds the old one", "the new θ_o served", last_line(p), False)
        return
    old, new, served, same_fs = p.stdout.split()
    record("θ_o imported while a pipeline holds the old one", "long-lived pipeline serves the new θ_o",
           f"old {old}, imported {new}, served {served}; forget sets built on it agree: {same_fs}",
           served == new != old and same_fs == "True")


# ---------------------------------------------------------------------------------------------- 4. data limits
def write_bomb(path: Path, mb: int) -> tuple[int, int]:
    """An npz whose x_train (uint8, N x 64 x 64 x 3) inflates to ``mb`` MB of zeros, written in chunks."""
    n = mb * 2**20 // (64 * 64 * 3)
    header = {"descr": "|u1", "fortran_order": False, "shape": (n, 64, 64, 3)}
    from numpy.lib import format as npy
    import io

    buf = io.BytesIO()
    npy.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("x_train.npy", "w", force_zip64=True) as f:
            f.write(buf.getvalue())
            zero = bytes(8 * 2**20)
            left = n * 64 * 64 * 3
            while left > 0:
                f.write(zero[:min(left, len(zero))])
                left -= len(zero)
        for name, arr in (("y_train", np.arange(n) % 2), ("x_test", np.zeros((4, 64, 64, 3), np.uint8)),
                          ("y_test", np.arange(4) % 2)):
            b = io.BytesIO()
            np.save(b, arr)
            zf.writestr(name + ".npy", b.getvalue())
    return n, path.stat().st_size


def peak_child_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def attack_limits(work: Path, bomb_mb: int) -> None:
    bomb = work / "bomb.npz"
    n, size = write_bomb(bomb, bomb_mb)
    env = {**ENV, "FORGETSET_MAX_DATA_MB": "256"}
    t0 = time.time()
    p = subprocess.run([sys.executable, "-c", "import resource, sys, runpy; sys.argv=['unlearn_core', *sys.argv[1:]];"
                        "\ntry:\n runpy.run_module('unlearn_core', run_name='__main__')\nfinally:\n"
                        " print('peak_mb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, file=sys.stderr)",
                        "train", "--dataset", f"npz:{bomb}", "--cache-dir", str(work / "c-bomb"), *BASE],
                       capture_output=True, text=True, env=env, cwd=str(REPO), timeout=600)
    peak = next((int(ln.split()[1]) for ln in p.stderr.splitlines() if ln.startswith("peak_mb")), -1)
    msg = next((ln for ln in p.stderr.splitlines() if ln.startswith("error:")), last_line(p))
    ok = p.returncode == 2 and "limit" in msg and "FORGETSET_MAX_DATA_MB" in msg and 0 < peak < bomb_mb / 2
    record(f"npz bomb ({size / 2**20:.1f} MB file, x_train {bomb_mb} MB inflated; limit 256 MB)",
           "refused from the headers, peak memory far below the declared size",
           f"{msg} | child peak RSS {peak} MB, {time.time() - t0:.1f}s", ok)
    bomb.unlink()

    from PIL import Image

    root = work / "imgs"
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in ("a", "b"):
            d = root / split / cls
            d.mkdir(parents=True)
            for i in range(9):
                Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(d / f"{i}.png")
    p = cli("train", "--dataset", f"folder:{root}", "--cache-dir", str(work / "c-folder"), *BASE,
            env={**ENV, "FORGETSET_MAX_FOLDER_FILES": "20"})
    msg = last_line(p)
    record("image folder with 36 files, file limit 20", "refused, naming FORGETSET_MAX_FOLDER_FILES", msg,
           p.returncode == 2 and "FORGETSET_MAX_FOLDER_FILES" in msg)
    huge = root / "train" / "a" / "huge.png"
    Image.new("RGB", (20000, 20000)).save(huge)
    p = cli("train", "--dataset", f"folder:{root}", "--cache-dir", str(work / "c-folder"), *BASE)
    msg = last_line(p)
    record(f"one 20000x20000 PNG ({huge.stat().st_size // 1024} kB) among 8x8 images",
           "refused from its header, naming the per-side limit", msg,
           p.returncode == 2 and "400000000 pixels" in msg and "per side" in msg)
    huge.unlink()
    ck = work / "big.pt"
    import torch

    torch.save({"w": torch.zeros(2_000_000)}, ck)
    p = cli("train", "--checkpoint", str(ck), "--confirm-dataset", "digits", "--cache-dir", str(work / "c-ck"),
            *BASE, env={**ENV, "FORGETSET_MAX_DATA_MB": "4"})
    msg = last_line(p)
    record("8 MB checkpoint, data limit 4 MB", "refused, naming the limit", msg,
           p.returncode == 2 and "FORGETSET_MAX_DATA_MB" in msg)


# ---------------------------------------------------------------------------------------------- 5. class names, 6. links
def attack_names_and_links(work: Path) -> None:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images * 15).astype(np.uint8)
    names = [str(i) for i in range(10)]
    names[3] = "three\nlines\nhere"
    p_npz = work / "names.npz"
    np.savez(p_npz, x_train=x[:1400], y_train=d.target[:1400], x_test=x[1400:], y_test=d.target[1400:],
             classes=np.array(names))
    p = cli("train", "--dataset", f"npz:{p_npz}", "--cache-dir", str(work / "c-names"), *BASE)
    msg = last_line(p)
    record("class name with line breaks", "refused at load: one printable line", msg,
           p.returncode == 2 and "one line" in msg)

    from PIL import Image

    root = work / "linked"
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for cls in ("a", "b"):
            dd = root / split / cls
            dd.mkdir(parents=True)
            for i in range(9):
                Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(dd / f"{i}.png")
    secret = work / "outside.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(secret)
    (root / "train" / "a" / "z.png").symlink_to(secret)
    p = cli("train", "--dataset", f"folder:{root}", "--cache-dir", str(work / "c-link"), *BASE)
    msg = last_line(p)
    record("folder: with a link to an image outside it", "refused (36 images, never 37)", msg,
           p.returncode == 2 and "outside" in msg)


# ---------------------------------------------------------------------------------------------- 7. checkpoints, kills
def attack_checkpoint_and_kills(work: Path) -> None:
    import torch

    ck = work / "whole_model.pt"
    torch.save(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)), ck)
    p = cli("train", "--checkpoint", str(ck), "--confirm-dataset", "digits", "--cache-dir", str(work / "c-pickle"),
            *BASE)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    low = p.stderr.lower()
    leaks = [w for w in ("weights_only", "weights only", "site-packages", "warning", "trust") if w in low]
    record("pickled whole-model .pt", "one 'error:' line in forgetset's words",
           f"{len(lines)} stderr line(s); torch text: {leaks or 'none'}; {lines[0][:160] if lines else ''}",
           p.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and not leaks)

    for stage in ("learning_events", "predictions"):
        cache = work / f"c-term-{stage}"
        p = script(f"""
            import os, signal
            from unlearn_core.store import Store
            from unlearn_core.pipeline import Pipeline
            real = Store.encode
            def encode(self, fmt, kind, key, value, meta):
                if kind == {stage!r}:
                    os.kill(os.getpid(), signal.SIGTERM)
                return real(self, fmt, kind, key, value, meta)
            Store.encode = encode
            Pipeline(Store({str(cache)!r}), dataset="digits", model="mlp", device="cpu", train={{"epochs": 3}}).original(0)
        """)
        with sqlite3.connect(cache / "forgetset.db") as con:
            left = con.execute("SELECT kind FROM runs WHERE status='running'").fetchall()
        rerun = cli("unlearn", "--method", "ft", "--selector", "random", "--ratio", "0.1", "--seed", "0",
                    "--params", '{"epochs": 1}', "--cache-dir", str(cache), *BASE)
        with sqlite3.connect(cache / "forgetset.db") as con:
            after = con.execute("SELECT kind, status FROM runs WHERE kind=?", (stage,)).fetchall()
        ok = p.returncode == -15 and left == [(stage,)] and rerun.returncode == 0 and all(s != "running" for _, s in after)
        record(f"SIGTERM while θ_o's {stage} are written, then a run that reuses θ_o",
               "no row left 'running' after the next run",
               f"killed: exit {p.returncode}, running rows {[k for k, in left]}; next run exit {rerun.returncode}; "
               f"{stage} row now: {[s for _, s in after]}", ok)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/forgetset-reliability")
    ap.add_argument("--bomb-mb", type=int, default=1200)
    args = ap.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.time()
    for attack in (attack_disk, attack_damaged_db, attack_import,
                   lambda w: attack_limits(w, args.bomb_mb), attack_names_and_links, attack_checkpoint_and_kills):
        try:
            attack(work)
        except Exception as err:  # noqa: BLE001 - a crashing attack is a failed row, not the end of the table
            record(getattr(attack, "__name__", "attack"), "no crash", f"{type(err).__name__}: {err}", False)
    print()
    w1 = max(len(a) for a, *_ in ROWS)
    w2 = max(len(e) for _, e, *_ in ROWS)
    print(f"{'attack':{w1}s} | {'expected':{w2}s} | verdict | observed")
    print("-" * (w1 + w2 + 30))
    for attack, expected, observed, ok in ROWS:
        print(f"{attack:{w1}s} | {expected:{w2}s} | {'PASS' if ok else 'FAIL':7s} | {observed}")
    n_ok = sum(ok for *_, ok in ROWS)
    print(f"\nreliability attacks: {n_ok}/{len(ROWS)} passed in {time.time() - t0:.0f}s")
    return 0 if n_ok == len(ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
