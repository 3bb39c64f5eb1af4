"""Nothing lost, nothing stale (issue 21): full disks and other circumstances never move a database aside; caches
keyed by content notice an imported θ_o; data limits checked before anything is inflated; class names one line;
folder data confined to its folder; checkpoint errors in forgetset's words; rows of killed processes reclaimed."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from unlearn_core.config import Setup
from unlearn_core.data import load_dataset
from unlearn_core.errors import CheckpointError, ConfigError, ForgetsetError
from unlearn_core.models import build_model
from unlearn_core.pipeline import Pipeline
from unlearn_core.store import Store, read_checkpoint, weights_digest

ROOT = Path(__file__).resolve().parents[1]
SETUP = dict(dataset="digits", model="mlp", device="cpu", train={"epochs": 3})
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}


def _rows(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        con.close()


def _filled_store(root: Path, n: int = 5) -> Store:
    store = Store(root)
    for i in range(n):
        store.put("score", {"kind": "score", "i": i}, {"values": np.full(4, i, np.float32)}, fmt="arrays")
    return store


# ---------------------------------------------------------------------------------------------- 1. circumstance vs damage
@pytest.mark.parametrize("message, words", [
    ("database or disk is full", "full"),
    ("attempt to write a readonly database", "read-only"),
    ("disk I/O error", "I/O error"),
])
def test_circumstance_errors_never_move_the_database_aside(tmp_path, monkeypatch, message, words):
    """An injected OperationalError of a circumstance (not damage) while the cache opens: reported as such, with
    what to do, and the healthy database stays where it is, untouched."""
    _filled_store(tmp_path)
    db = tmp_path / Store.DB_NAME
    before = db.read_bytes()

    def failing(self):
        raise sqlite3.OperationalError(message)

    monkeypatch.setattr(Store, "_init_schema", failing)
    with pytest.raises(ForgetsetError) as info:
        Store(tmp_path)
    text = str(info.value)
    assert words in text and str(tmp_path) in text
    assert "moved to" not in text
    assert db.read_bytes() == before
    assert not list(tmp_path.glob("*.corrupt-*"))
    monkeypatch.undo()
    assert _rows(db) == 5


def test_disk_full_during_a_run_says_how_much_is_free(tmp_path, monkeypatch):
    """A write that fails with 'disk is full' after the cache opened: a clear error naming the folder and the free
    space, never a raw OperationalError."""
    store = _filled_store(tmp_path)
    real = sqlite3.connect

    class FullConnection:
        def __init__(self, con):
            self._con = con

        def execute(self, sql, *a):
            if sql.lstrip().upper().startswith(("INSERT", "UPDATE")):
                raise sqlite3.OperationalError("database or disk is full")
            return self._con.execute(sql, *a)

        def __getattr__(self, name):
            return getattr(self._con, name)

        def __setattr__(self, name, value):
            if name == "_con":
                object.__setattr__(self, name, value)
            else:
                setattr(self._con, name, value)

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: FullConnection(real(*a, **k)))
    with pytest.raises(ForgetsetError, match=r"full.*free"):
        store.meta_set("x", "y")
    monkeypatch.undo()
    assert _rows(tmp_path / Store.DB_NAME) == 5


def test_integrity_failure_moves_aside_and_says_where(tmp_path):
    """Real damage (a failed integrity check) is the one case that moves the database aside, and the notice names
    the file it went to."""
    _filled_store(tmp_path)
    db = tmp_path / Store.DB_NAME
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.write_bytes(b"this is not a database at all" * 200)
    store = Store(tmp_path)
    moved = [m for m in tmp_path.glob("forgetset.db.corrupt-*") if not m.name.endswith(("-wal", "-shm"))]
    assert len(moved) == 1
    assert any(str(moved[0]) in n for n in store.notices)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 3 MB tmpfs (skipped where mounting is impossible: not root, no mount namespace)."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.decode(errors='replace').strip()[:80]})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_tmpfs_keeps_the_database(small_tmpfs):
    """The issue's case on a real full disk: a cache with finished runs, the disk then filled to the last byte.
    Opening the cache and computing again fail with 'the disk is full' (how much is free, what to do); the database
    is never moved aside and still holds every run."""
    cache = small_tmpfs / "cache"
    _filled_store(cache, 13)
    filler = small_tmpfs / "filler"
    for chunk in (65536, 1):  # fill it to the last byte
        try:
            with open(filler, "ab") as f:
                while True:
                    f.write(b"\0" * chunk)
                    f.flush()
        except OSError:
            pass
    for attempt in range(3):  # every further try: still the same healthy database
        try:
            store = Store(cache)
            store.put("score", {"kind": "score", "new": attempt}, {"values": np.zeros(20000, np.float32)},
                      fmt="arrays")
        except ForgetsetError as err:
            assert "full" in str(err), err
        except OSError as err:  # the artifact write: the CLI reports it as "the disk is full"
            assert err.errno == 28
        assert not list(cache.glob("*.corrupt-*")), f"moved aside on try {attempt}"
        assert (cache / Store.DB_NAME).stat().st_size > 0
    filler.unlink()
    store = Store(cache)
    assert len(store.list_runs(status="done")) == 13
    assert not store.notices


def test_read_only_tmpfs_is_reported_as_read_only(small_tmpfs):
    cache = small_tmpfs / "cache"
    _filled_store(cache, 3)
    con = sqlite3.connect(cache / Store.DB_NAME)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    p = subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], capture_output=True)
    if p.returncode:
        pytest.skip("cannot remount the tmpfs read-only here")
    with pytest.raises(ForgetsetError, match="read-only file system"):
        Store(cache)
    assert not list(cache.glob("*.corrupt-*"))
    con = sqlite3.connect(f"file:{cache / Store.DB_NAME}?immutable=1", uri=True)  # no -shm on a read-only disk
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 3
    con.close()


# ---------------------------------------------------------------------------------------------- 3. content-keyed caches
def test_a_long_lived_pipeline_notices_an_imported_original(tmp_path):
    """A pipeline that has θ_o in memory (the dashboard's, alive as long as the server) serves the θ_o imported
    by another Pipeline (a job, another process) on its next call, never the old one."""
    store = Store(tmp_path)
    long_lived = Pipeline(store, **SETUP)
    old = long_lived.original(0)
    old_digest = weights_digest(old)
    ckpt = tmp_path / "other.pt"
    torch.manual_seed(7)
    torch.save(build_model("mlp", long_lived.ds.input_shape, long_lived.ds.num_classes).state_dict(), ckpt)
    job = Pipeline(Store(tmp_path), **SETUP)
    new = job.import_checkpoint(str(ckpt), 0, confirm_dataset="digits")
    served = long_lived.original(0)
    assert weights_digest(served) == weights_digest(new) != old_digest
    assert long_lived.original_digest(0) == job.original_digest(0)
    fs_long = long_lived.forget_set("bottom:loss", 0.1, 0)
    fs_job = job.forget_set("bottom:loss", 0.1, 0)
    assert np.array_equal(fs_long.forget_idx, fs_job.forget_idx)


def test_dataset_memo_notices_a_replaced_npz(tmp_path):
    """The in-process data-set memo is keyed by the file's content signature, not its name: a file replaced at the
    same path is loaded again."""
    from _synthetic import blob_arrays

    p = tmp_path / "d.npz"
    _, xtr, ytr, xte, yte = blob_arrays(60, 20, 0)
    np.savez(p, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    a = load_dataset(f"npz:{p}")
    _, xtr2, ytr2, xte2, yte2 = blob_arrays(80, 20, 1)
    np.savez(p, x_train=xtr2, y_train=ytr2, x_test=xte2, y_test=yte2)
    os.utime(p, ns=(os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns + 10**9))
    b = load_dataset(f"npz:{p}")
    assert a.n_train == 60 and b.n_train == 80


# ---------------------------------------------------------------------------------------------- 4. data limits
def _bomb(path: Path, n: int, side: int = 64) -> None:
    """An npz whose x_train inflates to n·side·side·3 bytes of zeros (a few kB on disk)."""
    np.savez_compressed(path, x_train=np.zeros((n, side, side, 3), np.uint8), y_train=np.arange(n) % 2,
                        x_test=np.zeros((4, side, side, 3), np.uint8), y_test=np.arange(4) % 2)


def test_npz_bomb_is_refused_from_its_headers(tmp_path, monkeypatch):
    """An npz whose arrays inflate past the data limit is refused from the npz headers, before anything is
    inflated, with an error naming the limit and how to raise it."""
    p = tmp_path / "bomb.npz"
    _bomb(p, 4000)  # 49 MB inflated, ~50 kB on disk
    assert p.stat().st_size < 1_000_000
    monkeypatch.setenv("FORGETSET_MAX_DATA_MB", "16")
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as info:
            load_dataset(f"npz:{p}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    text = str(info.value)
    assert "limit" in text and "FORGETSET_MAX_DATA_MB" in text and "x_train" in text
    assert peak < 8 * 2**20, f"{peak / 2**20:.0f} MB allocated: the arrays were inflated"


def test_npz_wrong_dtype_is_refused_from_its_header(tmp_path, monkeypatch):
    """Float images are refused from the header (the uint8 hint), without loading them."""
    p = tmp_path / "floats.npz"
    np.savez_compressed(p, x_train=np.zeros((3000, 32, 32, 3), np.float64), y_train=np.arange(3000) % 2,
                        x_test=np.zeros((4, 32, 32, 3), np.float64), y_test=np.arange(4) % 2)
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match="uint8"):
            load_dataset(f"npz:{p}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_default_data_limit_follows_available_memory():
    from unlearn_core.limits import data_limit_bytes

    assert 0 < data_limit_bytes() < os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _folder(root: Path, n_per_class: int = 9, size: int = 8) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in ("a", "b"):
            d = root / split / cls
            d.mkdir(parents=True)
            for i in range(n_per_class):
                Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return root


def test_folder_file_count_and_image_size_limits(tmp_path, monkeypatch):
    """ImageFolder trees: too many files, or one huge image among small ones, are refused before decoding."""
    from PIL import Image

    root = _folder(tmp_path / "imgs")
    monkeypatch.setenv("FORGETSET_MAX_FOLDER_FILES", "20")
    with pytest.raises(ConfigError, match=r"more than 20 image files.*FORGETSET_MAX_FOLDER_FILES"):
        load_dataset(f"folder:{root}")
    monkeypatch.delenv("FORGETSET_MAX_FOLDER_FILES")
    Image.new("RGB", (6000, 8)).save(root / "train" / "a" / "huge.png")
    with pytest.raises(ConfigError, match=r"6000x8"):
        load_dataset(f"folder:{root}")


def test_checkpoint_larger_than_the_limit_is_refused(tmp_path, monkeypatch):
    ck = tmp_path / "big.pt"
    torch.save({"w": torch.zeros(300_000)}, ck)  # 1.2 MB
    monkeypatch.setenv("FORGETSET_MAX_DATA_MB", "0.5")
    with pytest.raises(CheckpointError, match="FORGETSET_MAX_DATA_MB"):
        read_checkpoint(ck)


def test_upload_larger_than_the_limit_is_refused(tmp_path, monkeypatch):
    from dashboard.safety import save_upload

    monkeypatch.setenv("FORGETSET_MAX_DATA_MB", "0.5")
    with pytest.raises(ConfigError, match="FORGETSET_MAX_DATA_MB"):
        save_upload(tmp_path, "s1", "model.pt", b"\0" * 2**20)
    assert not list((tmp_path / "uploads").rglob("model.pt*"))


# ---------------------------------------------------------------------------------------------- 5. class names
@pytest.mark.parametrize("bad, why", [("cat\ndog", "one line"), ("x" * 300, "at most"), ("bell\x07", "printable"),
                                      ("", "empty")])
def test_class_names_must_be_one_printable_line(tmp_path, bad, why):
    from _synthetic import blob_arrays

    p = tmp_path / "names.npz"
    _, xtr, ytr, xte, yte = blob_arrays(60, 20, 0)
    np.savez(p, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, classes=np.array(["ok", bad]))
    with pytest.raises(ConfigError, match=why):
        load_dataset(f"npz:{p}")


# ---------------------------------------------------------------------------------------------- 6. symlinks out of the root
def test_folder_data_never_follows_links_out_of_its_folder(tmp_path):
    """A symbolic link inside an image folder that points outside it (a file, or a whole class folder) is refused;
    links that stay inside the folder are fine."""
    from PIL import Image

    root = _folder(tmp_path / "imgs")
    outside = tmp_path / "secret.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(outside)
    link = root / "train" / "a" / "z.png"
    link.symlink_to(outside)
    with pytest.raises(ConfigError, match="outside"):
        load_dataset(f"folder:{root}")
    link.unlink()
    link.symlink_to(root / "train" / "b" / "0.png")  # inside: allowed
    assert load_dataset(f"folder:{root}").n_train == 19
    link.unlink()
    (tmp_path / "elsewhere").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "elsewhere" / "q.png")
    (root / "train" / "c").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "test" / "c").mkdir()
    Image.new("RGB", (8, 8)).save(root / "test" / "c" / "q.png")
    with pytest.raises(ConfigError, match="outside"):
        load_dataset(f"folder:{root}")


# ---------------------------------------------------------------------------------------------- 7. checkpoints, killed runs
def test_pickled_checkpoint_error_is_in_forgetset_words(tmp_path):
    """A pickled whole model (not a state dict): one 'error:' line in forgetset's words, no library warning on
    stderr, never the advice to load it with weights_only=False."""
    ck = tmp_path / "raw.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(64, 10)), ck)
    p = subprocess.run([sys.executable, "-m", "unlearn_core", "train", "--checkpoint", str(ck), "--confirm-dataset",
                        "digits", "--cache-dir", str(tmp_path / "c"), "--quiet"], capture_output=True, text=True,
                       env=ENV, cwd=str(ROOT), timeout=120)
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    low = p.stderr.lower()
    for word in ("weights_only", "weights only", "trust", "site-packages", "warning", "\x1b"):
        assert word not in low, word
    assert "state dict" in low


@pytest.mark.parametrize("stage", ["learning_events", "predictions"])
def test_row_left_running_by_sigterm_is_reclaimed(tmp_path, stage):
    """SIGTERM just after θ_o is stored (while its learning events / predictions are written) leaves a row
    'running'; the next run that opens the cache reclaims it, and the result is recomputed when needed."""
    cache = tmp_path / "cache"
    script = textwrap.dedent(f"""
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
    p = subprocess.run([sys.executable, "-c", script], env=ENV, cwd=str(ROOT), timeout=120)
    assert p.returncode == -signal.SIGTERM
    with sqlite3.connect(cache / Store.DB_NAME) as con:
        assert con.execute("SELECT kind FROM runs WHERE status='running'").fetchall() == [(stage,)]
    pipe = Pipeline(Store(cache), **SETUP)
    pipe.run("ft", "random", 0.1, 0, {"epochs": 1})  # θ_o is cached: nothing here writes the killed row again
    assert pipe.store.list_runs(status="running") == []
    if stage == "learning_events":
        values = pipe.score("le_confidence", 0).values
        assert np.isfinite(values).all()
    else:
        assert pipe.predictions(0)["pred"].shape == (pipe.ds.n_train,)
    assert [r["kind"] for r in pipe.store.list_runs(status="running")] == []
