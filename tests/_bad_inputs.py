"""Bad and odd CLI inputs, shared by ``tests/test_fuzz.py`` (a representative subset, in process) and
``benchmarks/fuzz_cli.py`` (all of them, each in a subprocess).

:func:`make_fixtures` writes the bad files (npz, image folders, checkpoints, caches, databases) under one folder;
:func:`all_cases` lists the invocations. Each :class:`Case` says what must happen:

- ``refuse``: exit status 2 with an ``error:`` line on stderr and no traceback. Exit 0 is *silently accepted*: the
  command finished although its input should have been refused.
- ``recover``: exit 0 with a ``note:`` line (a damaged or old cache that is repaired, moved aside or migrated).
- ``accept``: odd but valid input (``--ratios 10%``, duplicate seeds): exit 0, no traceback.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

# Small, fast defaults so that an input that is wrongly accepted finishes (and is counted) within seconds.
FAST_BLO = '{"upper_iters": 1, "K": 1}'
BASE = {
    "train": ["--epochs", "1", "--quiet"],
    "score": ["--score", "loss", "--epochs", "1", "--quiet"],
    "select": ["--selector", "random", "--epochs", "1", "--quiet"],
    "unlearn": ["--method", "ft", "--selector", "random", "--params", '{"epochs": 1}', "--epochs", "1", "--quiet"],
    "compare": ["--methods", "ft", "--selectors", "random", "--seeds", "1", "--params", '{"ft": {"epochs": 1}}',
                "--epochs", "1", "--quiet"],
}
COMPUTING = ("train", "score", "select", "unlearn", "compare")


@dataclass
class Case:
    name: str
    argv: list[str]
    expect: str = "refuse"  # refuse | recover | accept
    tags: tuple[str, ...] = ()
    prepare: Callable[[], None] | None = field(default=None, repr=False)
    cleanup: Callable[[], None] | None = field(default=None, repr=False)


def with_base(cmd: str, *args: str, cache: str | None = None) -> list[str]:
    """``cmd`` with its fast defaults, ``args`` overriding an option of the defaults (last one wins in argparse)."""
    out = [cmd, *BASE.get(cmd, []), *args]
    if cache is not None and "--cache-dir" not in args:
        out += ["--cache-dir", cache]
    return out


# ---------------------------------------------------------------------------------------------- read-only files
def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def make_readonly(path: Path) -> bool:
    """Make ``path`` unwritable even for root where possible (chattr +i), else by its mode. False if impossible."""
    if _is_root():
        r = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
        return r.returncode == 0
    os.chmod(path, 0o500 if path.is_dir() else 0o400)
    return True


def undo_readonly(path: Path) -> None:
    if not path.exists():
        return
    if _is_root():
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    else:
        os.chmod(path, 0o700 if path.is_dir() else 0o600)


def readonly_supported(tmp: Path) -> bool:
    probe = tmp / "probe-readonly"
    probe.write_text("x")
    try:
        if not make_readonly(probe):
            return False
        try:
            probe.write_text("y")
            return False
        except OSError:
            return True
    finally:
        undo_readonly(probe)
        probe.unlink()


# ---------------------------------------------------------------------------------------------- fixtures
def _arrays(rng, n: int, h: int = 8, w: int = 8, c: int | None = None, k: int = 3):
    shape = (n, h, w) if c is None else (n, h, w, c)
    return rng.integers(0, 255, shape).astype(np.uint8), np.arange(n) % k


def _write_npz(path: Path, **arrays) -> None:
    np.savez(path, **arrays)


def make_fixtures(root: Path) -> dict[str, str]:
    """Write every bad file under ``root``; returns name -> path."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    fx: dict[str, str] = {}
    xtr, ytr = _arrays(rng, 60)
    xte, yte = _arrays(rng, 21)

    def npz(name: str, **over) -> None:
        arrays = {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte, **over}
        arrays = {k: v for k, v in arrays.items() if v is not None}
        p = root / f"{name}.npz"
        _write_npz(p, **arrays)
        fx[f"npz_{name}"] = str(p)

    npz("good")
    npz("shapes", x_test=_arrays(rng, 21, 10, 10)[0])
    npz("biglabel", y_train=np.where(np.arange(60) == 0, 100000, ytr))
    npz("float", x_train=xtr.astype(np.float32), x_test=xte.astype(np.float32))
    npz("float01", x_train=xtr.astype(np.float32) / 255, x_test=xte.astype(np.float32) / 255)
    npz("int16", x_train=xtr.astype(np.int16), x_test=xte.astype(np.int16))
    npz("zero", x_train=np.zeros((60, 0, 0), np.uint8), x_test=np.zeros((21, 0, 0), np.uint8))
    npz("empty", x_train=np.zeros((0, 8, 8), np.uint8), y_train=np.zeros(0, np.int64))
    npz("emptytest", x_test=np.zeros((0, 8, 8), np.uint8), y_test=np.zeros(0, np.int64))
    npz("oneclass", y_train=np.zeros(60, np.int64), y_test=np.zeros(21, np.int64))
    npz("neglabel", y_train=ytr - 1)
    npz("floatlabel", y_train=ytr + 0.5)
    npz("nanlabel", y_train=np.full(60, np.nan))
    npz("strlabel", y_train=np.array([str(v) for v in ytr]))
    npz("5d", x_train=xtr[..., None, None], x_test=xte[..., None, None])
    npz("2d", x_train=xtr.reshape(60, -1)[:, 0], x_test=xte.reshape(21, -1)[:, 0])
    npz("chan", x_train=rng.integers(0, 255, (60, 8, 8, 3)).astype(np.uint8))
    npz("nchw", x_train=rng.integers(0, 255, (60, 32, 8, 8)).astype(np.uint8),
        x_test=rng.integers(0, 255, (21, 32, 8, 8)).astype(np.uint8))
    npz("missingclass", y_train=np.where(ytr == 1, 2, ytr))
    npz("testonlyclass", y_test=np.where(yte == 1, 5, yte))
    npz("classes_short", classes=np.array(["a"]))
    npz("classes_dup", classes=np.array(["a", "a", "b"]))
    npz("classes_long", classes=np.array(["a", "b", "c", "d"]))
    npz("classes_2d", classes=np.array([["a", "b", "c"]]))
    npz("y2d", y_train=np.stack([ytr, ytr], 1))
    npz("count", y_train=ytr[:50])
    npz("missingkey", y_test=None)
    npz("tiny_rgb", x_train=rng.integers(0, 255, (60, 8, 8, 3)).astype(np.uint8),
        x_test=rng.integers(0, 255, (21, 8, 8, 3)).astype(np.uint8))
    npz("one_pixel", x_train=rng.integers(0, 255, (60, 1, 1)).astype(np.uint8),
        x_test=rng.integers(0, 255, (21, 1, 1)).astype(np.uint8))
    # object arrays (pickled) in the archive: never loaded
    p = root / "pickled.npz"
    np.savez(p, x_train=np.array([{"a": 1}] * 60, dtype=object), y_train=ytr, x_test=xte, y_test=yte)
    fx["npz_pickled"] = str(p)
    p = root / "classes_obj.npz"
    np.savez(p, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, classes=np.array([1, "a", None], dtype=object))
    fx["npz_classes_obj"] = str(p)
    good = (root / "good.npz").read_bytes()
    for name, data in {"trunc": good[: len(good) // 2], "trunc_head": good[:30], "empty_file": b"",
                       "text": b"hello world\n" * 20, "pickle_proto": b"\x80\x04\x95" + b"\x00" * 40}.items():
        (root / f"{name}.npz").write_bytes(data)
        fx[f"npz_{name}"] = str(root / f"{name}.npz")
    buf = io.BytesIO()
    np.save(buf, xtr)
    (root / "npy.npz").write_bytes(buf.getvalue())
    fx["npz_npy"] = str(root / "npy.npz")
    with zipfile.ZipFile(root / "notnpy.npz", "w") as z:
        z.writestr("x_train.npy", b"this is not an npy file")
        z.writestr("y_train.npy", b"nor this")
    fx["npz_notnpy"] = str(root / "notnpy.npz")
    p = root / "crc.npz"
    np.savez_compressed(p, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    data = bytearray(p.read_bytes())
    for i in range(200, 260):  # inside the first compressed member
        data[i] ^= 0x55
    p.write_bytes(bytes(data))
    fx["npz_crc"] = str(p)
    # a folder given as npz, an npz given as folder
    fx["npz_is_dir"] = str(root)

    # image folders
    def folder(name: str, classes=("a", "b"), n=4, bad: dict | None = None, splits=("train", "test")) -> None:
        base = root / f"folder_{name}"
        for split in splits:
            for c in classes:
                d = base / split / c
                d.mkdir(parents=True, exist_ok=True)
                for i in range(n):
                    Image.fromarray(rng.integers(0, 255, (8, 8, 3)).astype(np.uint8)).save(d / f"{i}.png")
        for rel, content in (bad or {}).items():
            (base / rel).parent.mkdir(parents=True, exist_ok=True)
            (base / rel).write_bytes(content)
        fx[f"folder_{name}"] = str(base)

    folder("good")
    folder("corrupt", bad={"train/a/zz_bad.png": b"\x89PNG\r\n\x1a\n garbage"})
    png = (root / "folder_good" / "train" / "a" / "0.png").read_bytes()
    folder("truncated", bad={"test/b/zz_half.png": png[: len(png) // 2]})
    folder("zerobyte", bad={"train/b/zz_zero.jpg": b""})
    folder("textimg", bad={"train/a/zz_text.png": b"just some text"})
    folder("noimages", n=0)
    folder("nosplit", splits=("train",))
    folder("oneclass", classes=("a",))
    folder("diffclasses", bad={"test/c/0.png": png})
    fx["folder_is_file"] = fx["npz_good"]

    # checkpoints (for digits' default model, mlp on 1x8x8 with 10 classes)
    import torch

    from unlearn_core.models import build_model
    from unlearn_core.store import save_state_dict

    torch.manual_seed(0)
    sd = build_model("mlp", (1, 8, 8), 10).state_dict()

    def ck(name: str, obj, ext: str = "pt") -> None:
        p = root / f"ck_{name}.{ext}"
        if ext == "safetensors":
            save_state_dict(p, obj, {})
        else:
            torch.save(obj, p)
        fx[f"ck_{name}"] = str(p)

    first = next(iter(sd))
    ck("ok", sd)
    ck("ok_st", sd, "safetensors")
    ck("nan", {k: (v.clone().fill_(float("nan")) if k == first else v) for k, v in sd.items()})
    ck("inf", {k: (v.clone().fill_(float("inf")) if k == first else v) for k, v in sd.items()})
    ck("huge", {k: v * 1e9 for k, v in sd.items()})
    ck("int", {k: v.to(torch.int32) for k, v in sd.items()})
    ck("complex", {k: v.to(torch.complex64) for k, v in sd.items()})
    ck("nan_st", {k: (v.clone().fill_(float("nan")) if k == first else v) for k, v in sd.items()}, "safetensors")
    ck("list", [1, 2, 3])
    ck("empty", {})
    ck("cnn", build_model("cnn", (1, 8, 8), 10).state_dict())
    ck("classes", build_model("mlp", (1, 8, 8), 3).state_dict())
    torch.save({"model": object()}, root / "ck_object.pt")
    fx["ck_object"] = str(root / "ck_object.pt")
    okpt = (root / "ck_ok.pt").read_bytes()
    okst = (root / "ck_ok_st.safetensors").read_bytes()
    for name, data in {"trunc.pt": okpt[:1000], "trunc.safetensors": okst[:1000], "text.pt": b"not a checkpoint",
                       "hdr.safetensors": (10**12).to_bytes(8, "little") + b"{}", "zero.pt": b""}.items():
        (root / f"ck_{name}").write_bytes(data)
        fx[f"ck_{name.replace('.', '_')}"] = str(root / f"ck_{name}")
    save_state_dict(root / "ck_other.safetensors", sd, {"model": "mlp", "dataset": "another-fingerprint"})
    fx["ck_other"] = str(root / "ck_other.safetensors")

    # caches
    (root / "cache_is_file").write_text("x")
    fx["cache_is_file"] = str(root / "cache_is_file")
    fx["cache_under_file"] = str(root / "cache_is_file" / "sub")
    (root / "cache_dbdir" / "forgetset.db").mkdir(parents=True)
    fx["cache_dbdir"] = str(root / "cache_dbdir")
    (root / "cache_artfile").mkdir()
    (root / "cache_artfile" / "artifacts").write_text("x")
    fx["cache_artfile"] = str(root / "cache_artfile")
    fx["file"] = str(root / "cache_is_file")
    fx["root"] = str(root)
    return fx


# ---------------------------------------------------------------------------------------------- databases
def make_good_db(path: Path, rows: int = 40) -> None:
    """A real cache with finished runs (score rows with artifacts), its WAL checkpointed into the main file."""
    from unlearn_core.store import Computed, Store

    if path.exists():
        shutil.rmtree(path)
    s = Store(path)
    for i in range(rows):
        s.cached("score", {"x": i, "pad": "y" * 100}, lambda: Computed({"v": np.ones(3, np.float32)}, {"m": 1.5}),
                 fmt="arrays")
    with sqlite3.connect(path / "forgetset.db") as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        p = path / f"forgetset.db{suffix}"
        if p.exists():
            p.unlink()


def damage_db(src: Path, dst: Path, how: str, seed: int = 0) -> None:
    """A copy of cache ``src`` at ``dst`` with its database damaged: garbage | truncate | flips | newer | v1."""
    import random

    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    db = dst / "forgetset.db"
    rng = random.Random(seed)
    data = bytearray(db.read_bytes())
    if how == "garbage":
        db.write_bytes(bytes(rng.getrandbits(8) for _ in range(5000)))
    elif how == "truncate":
        db.write_bytes(bytes(data[: max(100, int(len(data) * rng.uniform(0.1, 0.9)))]))
    elif how == "flips":
        for _ in range(rng.choice([1, 4, 16, 64])):
            i = rng.randrange(100, len(data))  # past the header, into pages
            data[i] ^= 1 << rng.randrange(8)
        db.write_bytes(bytes(data))
    elif how == "newer":
        with sqlite3.connect(db) as con:
            con.execute("UPDATE meta SET v='99' WHERE k='schema_version'")
    elif how == "v1":
        with sqlite3.connect(db) as con:
            con.execute("UPDATE meta SET v='1' WHERE k='schema_version'")
    elif how == "v2":
        with sqlite3.connect(db) as con:
            con.execute("UPDATE meta SET v='2' WHERE k='schema_version'")
    else:
        raise ValueError(how)


# ---------------------------------------------------------------------------------------------- the cases
def all_cases(fx: dict[str, str], cache: str, work: Path, readonly_ok: bool) -> list[Case]:
    """Every bad or odd invocation: generated (each bad value of an option shared by the computing subcommands,
    for each of them) plus hand-written ones per subcommand."""
    cases: list[Case] = []

    def add(name: str, argv: list[str], expect: str = "refuse", tags: tuple[str, ...] = (), **kw) -> None:
        cases.append(Case(name, argv, expect, tags, **kw))

    # ---- generated: bad values of the options every computing subcommand shares
    shared: list[tuple[str, list[str], tuple[str, ...]]] = [
        ("dataset unknown", ["--dataset", "imagenet1k"], ()),
        ("dataset empty", ["--dataset", ""], ()),
        ("dataset npz: without path", ["--dataset", "npz:"], ()),
        ("dataset torchvision without data", ["--dataset", "cifar10", "--data-root", str(work / "nodata")], ()),
        ("dataset npz missing", ["--dataset", f"npz:{work}/missing.npz"], ()),
        ("dataset npz truncated", ["--dataset", f"npz:{fx['npz_trunc']}"], ("data",)),
        ("dataset npz is text", ["--dataset", f"npz:{fx['npz_text']}"], ("data",)),
        ("dataset npz pickled", ["--dataset", f"npz:{fx['npz_pickled']}"], ("data",)),
        ("dataset npz shapes differ", ["--dataset", f"npz:{fx['npz_shapes']}"], ("data",)),
        ("dataset npz label 100000", ["--dataset", f"npz:{fx['npz_biglabel']}"], ("data",)),
        ("dataset npz float images", ["--dataset", f"npz:{fx['npz_float']}"], ()),
        ("dataset npz 0x0 images", ["--dataset", f"npz:{fx['npz_zero']}"], ("data",)),
        ("dataset npz one class", ["--dataset", f"npz:{fx['npz_oneclass']}"], ()),
        ("dataset folder corrupt image", ["--dataset", f"folder:{fx['folder_corrupt']}"], ("data",)),
        ("dataset folder without images", ["--dataset", f"folder:{fx['folder_noimages']}"], ()),
        ("model unknown", ["--model", "resnet9000"], ()),
        ("model empty", ["--model", ""], ()),
        ("model too deep for 8x8", ["--model", "vgg16_bn"], ("model",)),
        ("device unknown", ["--device", "tpu"], ()),
        ("device malformed", ["--device", "cuda:x"], ()),
        ("preset unknown", ["--preset", "huge"], ()),
        ("preset empty", ["--preset", ""], ()),
        ("epochs negative", ["--epochs", "-1"], ()),
        ("epochs huge", ["--epochs", "100000"], ()),
        ("epochs not a number", ["--epochs", "abc"], ()),
        ("epochs float", ["--epochs", "1.5"], ()),
        ("blo not JSON", ["--blo", "{lower: ft}"], ()),
        ("blo a list", ["--blo", "[1, 2]"], ()),
        ("blo unknown key", ["--blo", '{"nosuch": 1}'], ()),
        ("blo K zero", ["--blo", '{"K": 0}'], ("blo",)),
        ("blo K string", ["--blo", '{"K": "ten"}'], ()),
        ("blo negative beta", ["--blo", '{"beta": -1}'], ()),
        ("blo granularity unknown", ["--blo", '{"granularity": "pixel"}'], ("blo",)),
        ("blo lower unknown", ["--blo", '{"lower": "sgd"}'], ()),
        ("blo nested deeply", ["--blo", '{"K": ' + "[" * 50 + "]" * 50 + "}"], ()),
        ("cache dir is a file", ["--cache-dir", fx["cache_is_file"]], ("cache",)),
        ("cache dir under a file", ["--cache-dir", fx["cache_under_file"]], ()),
        ("cache db is a folder", ["--cache-dir", fx["cache_dbdir"]], ("cache",)),
        ("cache artifacts is a file", ["--cache-dir", fx["cache_artfile"]], ()),
        ("cache dir empty string", ["--cache-dir", ""], ()),
        ("cache dir in /proc", ["--cache-dir", "/proc/self/forgetset-cache"], ()),
    ]
    for cmd in COMPUTING:
        for label, args, tags in shared:
            add(f"{cmd}: {label}", with_base(cmd, *args, cache=cache), "refuse", tags if cmd == "unlearn" else ())

    # ---- seeds and ratios of the single-run subcommands
    for cmd in ("train", "score", "select", "unlearn"):
        for v in ("-1", "4294967296", "abc", "1.5", "99999999999999999999", ""):
            add(f"{cmd}: --seed {v!r}", with_base(cmd, "--seed", v, cache=cache), tags=("seed",) if cmd == "train"
                else ())
    for cmd in ("score", "select", "unlearn"):
        for v in ("0", "1", "-0.1", "1.5", "nan", "inf", "abc", "0.00001", "150%", ""):
            add(f"{cmd}: --ratio {v!r}", with_base(cmd, "--ratio", v, cache=cache),
                tags=("ratio",) if cmd == "select" else ())
    add("score: --ratio for a score without one", with_base("score", "--ratio", "0.2", cache=cache), tags=("ratio",))
    add("select: --ratio for a class-wise selector", with_base("select", "--selector", "class:3", "--ratio", "0.2",
                                                               cache=cache), tags=("ratio",))
    add("unlearn: --ratio for a class-wise selector", with_base("unlearn", "--selector", "class:3", "--ratio", "0.2",
                                                                cache=cache))
    add("score: blo --ratio tiny (empty forget set)", with_base("score", "--score", "blo", "--ratio", "0.0001",
                                                                 "--blo", FAST_BLO, cache=cache))

    # ---- train: checkpoints
    ck_cases = [("nan", ["--confirm-dataset", "digits"]), ("inf", ["--confirm-dataset", "digits"]),
                ("huge", ["--confirm-dataset", "digits"]), ("int", ["--confirm-dataset", "digits"]),
                ("complex", ["--confirm-dataset", "digits"]), ("nan_st", ["--confirm-dataset", "digits"]),
                ("list", ["--confirm-dataset", "digits"]), ("empty", ["--confirm-dataset", "digits"]),
                ("cnn", ["--confirm-dataset", "digits"]), ("classes", ["--confirm-dataset", "digits"]),
                ("object", ["--confirm-dataset", "digits"]), ("trunc_pt", ["--confirm-dataset", "digits"]),
                ("trunc_safetensors", ["--confirm-dataset", "digits"]), ("text_pt", ["--confirm-dataset", "digits"]),
                ("hdr_safetensors", ["--confirm-dataset", "digits"]), ("zero_pt", ["--confirm-dataset", "digits"]),
                ("other", []), ("ok", []), ("ok", ["--confirm-dataset", "cifar10"])]
    for name, extra in ck_cases:
        add(f"train: checkpoint {name} {' '.join(extra)}".strip(),
            with_base("train", "--checkpoint", fx[f"ck_{name}"], *extra, cache=cache),
            tags=("checkpoint",) if name in ("nan", "int", "trunc_pt", "other") or extra == [] else ())
    add("train: checkpoint missing", with_base("train", "--checkpoint", str(work / "missing.pt"), "--confirm-dataset",
                                               "digits", cache=cache))
    add("train: checkpoint is a folder", with_base("train", "--checkpoint", str(work), "--confirm-dataset", "digits",
                                                   cache=cache))
    add("train: checkpoint for another model", with_base("train", "--checkpoint", fx["ck_ok"], "--confirm-dataset",
                                                         "digits", "--model", "cnn", cache=cache))
    add("train: --confirm-dataset without --checkpoint", with_base("train", "--confirm-dataset", "digits",
                                                                   cache=cache), tags=("checkpoint",))

    # ---- data sets: every bad npz / folder once (train is the cheapest subcommand that loads data)
    for key in sorted(fx):
        if key.startswith("npz_") and key not in ("npz_good", "npz_tiny_rgb", "npz_one_pixel", "npz_classes_long"):
            if any(f"npz:{fx[key]}" in c.argv for c in cases if c.argv[0] == "train"):
                continue
            add(f"train: {key}", with_base("train", "--dataset", f"npz:{fx[key]}", cache=cache),
                tags=("data",) if key in ("npz_npy", "npz_missingclass", "npz_chan", "npz_floatlabel") else ())
        if key.startswith("folder_") and key != "folder_good":
            if any(f"folder:{fx[key]}" in c.argv for c in cases if c.argv[0] == "train"):
                continue
            add(f"train: {key}", with_base("train", "--dataset", f"folder:{fx[key]}", cache=cache),
                tags=("data",) if key in ("folder_oneclass", "folder_truncated") else ())
    add("train: npz with more class names than classes",
        with_base("train", "--dataset", f"npz:{fx['npz_classes_long']}", cache=cache))
    add("train: cnn on 1x1 images", with_base("train", "--dataset", f"npz:{fx['npz_one_pixel']}", "--model", "cnn",
                                              cache=cache), tags=("model",))
    add("train: vgg16_bn on 8x8 RGB", with_base("train", "--dataset", f"npz:{fx['npz_tiny_rgb']}", "--model",
                                                "vgg16_bn", cache=cache))

    # ---- method hyperparameters (unlearn --params)
    bad_method_params = [
        ("ft", {"epochs": "abc"}), ("ft", {"lr": "abc"}), ("ft", {"epochs": None}), ("ft", {"epochs": -3}),
        ("ft", {"epochs": 1.5}), ("ft", {"epochs": True}), ("ft", {"epochs": 10**9}), ("ft", {"lr": 0}),
        ("ft", {"lr": -0.1}), ("ft", {"lr": 1e7}), ("ft", {"lr": [0.1]}), ("ft", {"lr": {"v": 1}}),
        ("ft", {"nosuch": 1}), ("soft_relabel", {"exclude_same_class": 0.5}),
        ("soft_relabel", {"exclude_same_class": 1.0}), ("soft_relabel", {"exclude_same_class": "maybe"}),
        ("bad_t", {"optimizer": 5}), ("bad_t", {"retain_fraction": 2}), ("scrub", {"alpha": -1}),
        ("scrub", {"kd_t": 0}), ("salun", {"sparsity": 1.5}), ("eu_k", {"k": -1}), ("l1_sparse", {"alpha": "x"}),
        ("retrain", {"epochs": 3}), ("rsu:ga", {"rsu_stages": -1}), ("dau", {"val_fraction": 7}),
    ]
    for method, params in bad_method_params:
        add(f"unlearn: {method} {json.dumps(params)}",
            with_base("unlearn", "--method", method, "--params", json.dumps(params), cache=cache),
            tags=("params",) if params in ({"epochs": "abc"}, {"epochs": None}, {"exclude_same_class": 0.5},
                                           {"epochs": 3}) else ())
    for raw in ('{"lr": NaN}', '{"lr": Infinity}', '{"epochs": 1e400}', "not json", "[1]", '"epochs"', "5",
                '{"epochs": ' + "[" * 100 + "]" * 100 + "}"):
        add(f"unlearn: --params {raw[:30]}", with_base("unlearn", "--params", raw, cache=cache),
            tags=("params",) if raw in ('{"lr": NaN}', "not json") else ())
    for sel in ("worse", "class:99", "class:-1", "class:", "class:a", "worst_class:0", "worst_class:10",
                "worst_class:x", "mixed:2", "mixed:x", "top:nosuch", "top:", "random+strat+strat", "", "random:3",
                "class:0,1,2,3,4,5,6,7,8,9"):
        add(f"unlearn: selector {sel!r}", with_base("unlearn", "--selector", sel, "--blo", FAST_BLO, cache=cache),
            tags=("selector",) if sel in ("class:99", "worst_class:10", "mixed:2") else ())
    for meth in ("nosuch", "", "rsu:rsu:ga", "nope:ga", "ft,ga"):
        add(f"unlearn: method {meth!r}", with_base("unlearn", "--method", meth, "--params", "{}", cache=cache))

    # ---- score parameters
    bad_score = [("blo", {"K": 0}), ("blo", {"upper_iters": -1}), ("blo", {"granularity": "foo"}),
                 ("blo", {"beta": -1}), ("blo", {"beta": 0}), ("blo", {"batch_size": -4}), ("blo", {"lower": "x"}),
                 ("blo", {"step_scale": "x"}), ("blo", {"K": "x"}), ("blo", {"n_classes": 0}),
                 ("blo", {"gamma": -1}), ("blo", {"upper_iters": 10**8}), ("blo", {"K": 2000}),
                 ("blo", {"tol_overlap": 0}), ("blo", {"max_cost": -1}), ("blo", {"init": "x"}), ("blo", {"decay": -1}),
                 ("blo", {"patience": 0}), ("blo", {"class_loss": "median"}), ("blo", {"alpha": -1}),
                 ("lira_asr", {"n_shadow": 0}), ("lira_asr", {"n_shadow": 100000}), ("lira_asr", {"variant": "x"}),
                 ("el2n", {"n_seeds": 0}), ("el2n", {"n_seeds": 1000}), ("grand", {"params": 5}),
                 ("loss", {"anything": 1}), ("entropy", {"x": None})]
    for score, params in bad_score:
        add(f"score: {score} {json.dumps(params)}",
            with_base("score", "--score", score, "--params", json.dumps(params), cache=cache),
            tags=("score",) if params in ({"K": 0}, {"granularity": "foo"}, {"n_shadow": 0}) else ())
    add("score: blo fractional K (valid: lower-level epochs may be fractions)",
        with_base("score", "--score", "blo", "--params", '{"K": 0.5}', cache=cache), "accept")
    add("score: unknown score", with_base("score", "--score", "nosuch", cache=cache))
    add("score: empty score name", with_base("score", "--score", "", cache=cache))

    # ---- outputs (checked before any compute)
    for cmd in ("score", "select", "compare"):
        add(f"{cmd}: --out in a missing folder", with_base(cmd, "--out", str(work / "nodir" / "x.csv"), cache=cache),
            tags=("out",) if cmd == "compare" else ())
        add(f"{cmd}: --out is a folder", with_base(cmd, "--out", str(work), cache=cache))
        add(f"{cmd}: --out under a file", with_base(cmd, "--out", fx["file"] + "/x.csv", cache=cache))
        add(f"{cmd}: --out empty", with_base(cmd, "--out", "", cache=cache))
    add("compare: --table-out in a missing folder", with_base("compare", "--table-out", str(work / "nodir" / "t.csv"),
                                                              cache=cache))
    add("compare: --out and --table-out the same file",
        with_base("compare", "--out", str(work / "same.csv"), "--table-out", str(work / "same.csv"), cache=cache))

    # ---- compare: grid lists
    for seeds in ("0", "-1", "4294967296", "10001", "abc", "a,b", "1,-2", "", "0,4294967296", "1.5"):
        add(f"compare: --seeds {seeds!r}", with_base("compare", "--seeds", seeds, cache=cache),
            tags=("grid",) if seeds in ("0", "4294967296") else ())
    many = ",".join(f"{0.001 * (i + 1):.3f}" for i in range(150))
    for ratios in ("0", "1", "1.5", "-0.2", "abc", "0.1,abc", "", "0.00001", "nan", many):
        add(f"compare: --ratios {ratios[:20]!r}", with_base("compare", "--ratios", ratios, cache=cache),
            tags=("grid",) if ratios in ("abc", "0.00001") else ())
    for methods in ("nosuch", "", "ft,nosuch", ",,"):
        add(f"compare: --methods {methods!r}", with_base("compare", "--methods", methods, "--params", "{}",
                                                          cache=cache))
    for sels in ("worse", "", "random,class:99", "worst_class:10"):
        add(f"compare: --selectors {sels!r}", with_base("compare", "--selectors", sels, "--blo", FAST_BLO,
                                                         cache=cache))
    for params in ('{"ft": 5}', '{"ft": {"epochs": "x"}}', '{"nosuch": {}}', '{"ga": {"lr": 0.1}}',
                   '{"retrain": {"epochs": 3}}', '{"ft": {"epochs": 1, "lr": -1}}', "[]"):
        add(f"compare: --params {params}", with_base("compare", "--params", params, cache=cache),
            tags=("grid",) if params in ('{"ft": 5}', '{"retrain": {"epochs": 3}}') else ())
    add("compare: executor unknown", with_base("compare", "--executor", "slurm", cache=cache))
    add("compare: --ray-address without ray", with_base("compare", "--ray-address", "auto", cache=cache))
    add("compare: grid too large", with_base("compare", "--methods", "all", "--seeds", "9000", "--params", "{}",
                                             cache=cache), tags=("grid",))

    # ---- runs and list
    for label, args in (("kind unknown", ["--kind", "bogus"]), ("status unknown", ["--status", "bogus"]),
                        ("cache is a file", ["--cache-dir", fx["cache_is_file"]]),
                        ("cache under a file", ["--cache-dir", fx["cache_under_file"]]),
                        ("db is a folder", ["--cache-dir", fx["cache_dbdir"]]),
                        ("cache empty string", ["--cache-dir", ""]),
                        ("cache /dev/null", ["--cache-dir", "/dev/null"]),
                        ("unknown option", ["--frobnicate"]), ("--epochs not accepted", ["--epochs", "3"])):
        add(f"runs: {label}", ["runs", *args] + ([] if "--cache-dir" in args else ["--cache-dir", cache]),
            tags=("runs",) if label in ("kind unknown", "cache is a file") else ())
    add("list: extra argument", ["list", "extra"], tags=("list",))
    add("list: unknown option", ["list", "--verbose"])
    add("no subcommand", [])
    add("unknown subcommand", ["frobnicate"], tags=("list",))

    # ---- read-only places (root: chattr +i; others: chmod)
    if readonly_ok:
        ro_dir = work / "ro_cache"
        ro_db = work / "ro_db"
        ro_out = work / "ro_out"

        def prep_ro_dir() -> None:
            ro_dir.mkdir(exist_ok=True)
            make_readonly(ro_dir)

        def prep_ro_db() -> None:
            if not (ro_db / "forgetset.db").exists():
                make_good_db(ro_db, rows=2)
            make_readonly(ro_db / "forgetset.db")

        def prep_ro_out() -> None:
            ro_out.mkdir(exist_ok=True)
            make_readonly(ro_out)

        for cmd in ("train", "runs"):
            argv = with_base(cmd, "--cache-dir", str(ro_dir / "sub")) if cmd != "runs" else \
                ["runs", "--cache-dir", str(ro_dir / "sub")]
            add(f"{cmd}: cache inside a read-only folder", argv, tags=("readonly",), prepare=prep_ro_dir,
                cleanup=lambda: undo_readonly(ro_dir))
            argv = with_base(cmd, "--cache-dir", str(ro_dir)) if cmd != "runs" else ["runs", "--cache-dir",
                                                                                     str(ro_dir)]
            add(f"{cmd}: read-only cache folder", argv, prepare=prep_ro_dir, cleanup=lambda: undo_readonly(ro_dir))
            argv = with_base(cmd, "--cache-dir", str(ro_db)) if cmd != "runs" else ["runs", "--cache-dir", str(ro_db)]
            add(f"{cmd}: read-only database", argv, tags=("readonly",) if cmd == "train" else (), prepare=prep_ro_db,
                cleanup=lambda: undo_readonly(ro_db / "forgetset.db"))
        add("compare: --out in a read-only folder", with_base("compare", "--out", str(ro_out / "x.csv"), cache=cache),
            prepare=prep_ro_out, cleanup=lambda: undo_readonly(ro_out))

    # ---- damaged or old databases: repaired, moved aside or migrated (recover), or refused (newer)
    src = work / "db_source"

    def damaged(how: str, dst: Path, seed: int = 0) -> Callable[[], None]:
        def prep() -> None:
            if not src.exists():
                make_good_db(src)
            damage_db(src, dst, how, seed)
        return prep

    for how, expect in (("garbage", "recover"), ("truncate", "recover"), ("v1", "recover"), ("v2", "recover"),
                        ("newer", "refuse")):
        for cmd in ("runs", "train"):
            dst = work / f"db_{how}_{cmd}"
            argv = ["runs", "--cache-dir", str(dst)] if cmd == "runs" else with_base("train", "--cache-dir", str(dst))
            add(f"{cmd}: database {how}", argv, expect, tags=("db",) if cmd == "runs" else (),
                prepare=damaged(how, dst))
    for seed in range(8):
        dst = work / f"db_flips_{seed}"
        # Bit flips may land in free space (nothing to report: accept) or in a row (recover): both must exit 0.
        add(f"runs: database bit flips #{seed}", ["runs", "--cache-dir", str(dst)], "accept",
            tags=("db",) if seed < 2 else (), prepare=damaged("flips", dst, seed))

    # ---- odd but valid: must be accepted
    add("compare: ratios as percent", with_base("compare", "--ratios", "10%", cache=cache), "accept", ("ok",))
    add("compare: duplicate seeds", with_base("compare", "--seeds", "0,0", cache=cache), "accept")
    add("train: checkpoint with confirmation", with_base("train", "--checkpoint", fx["ck_ok"], "--confirm-dataset",
                                                         "digits", "--seed", "7", cache=cache), "accept", ("ok",))
    add("train: npz good", with_base("train", "--dataset", f"npz:{fx['npz_good']}", cache=cache), "accept")
    add("train: folder good (mixed ok)", with_base("train", "--dataset", f"folder:{fx['folder_good']}", cache=cache),
        "accept")
    add("unlearn: bool from string", with_base("unlearn", "--method", "soft_relabel", "--params",
                                               '{"epochs": 1, "exclude_same_class": "false"}', cache=cache), "accept")
    add("unlearn: int from 2.0", with_base("unlearn", "--params", '{"epochs": 1.0}', cache=cache), "accept")
    add("list", ["list"], "accept")
    return cases


# ---------------------------------------------------------------------------------------------- judging
def judge(case: Case, code: int | None, stderr: str, timed_out: bool) -> str:
    """'ok', or what went wrong: traceback | timeout | silently accepted | no error line | exit N | refused."""
    if timed_out:
        return "timeout"
    if "Traceback (most recent call last)" in stderr:
        return "traceback"
    has_error = any(line.startswith("error:") or ": error:" in line for line in stderr.splitlines())
    if case.expect == "refuse":
        if code == 0:
            return "silently accepted"
        if code != 2:
            return f"exit {code}"
        return "ok" if has_error else "no error line"
    if code != 0:
        return f"refused (exit {code})"
    if case.expect == "recover" and "note:" not in stderr:
        return "recovered without a note"
    return "ok"
