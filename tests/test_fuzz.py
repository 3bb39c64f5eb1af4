"""Bad and odd CLI input: a representative subset of ``benchmarks/fuzz_cli.py``'s cases, in process.

Every ``refuse`` case must exit 2 with an ``error:`` line and no traceback, quickly (it is refused before any
compute); ``recover`` / ``accept`` cases must exit 0. The top-level handler turns unexpected exceptions into one
line with a saved traceback file.
"""
from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _bad_inputs import Case, all_cases, judge, make_fixtures, readonly_supported
from unlearn_core import cli

MAX_CASE_SECONDS = 30.0  # a refused case never trains; an accepted control trains one epoch of digits


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    fx = make_fixtures(work / "fixtures")
    cases = all_cases(fx, str(work / "cache"), work, readonly_supported(work))
    yield {"work": work, "fx": fx, "cases": {c.name: c for c in cases}}
    subprocess.run(["chattr", "-R", "-i", str(work)], capture_output=True)


class _AnyPath(dict):
    """Stands in for the fixtures when only the case names are needed (at collection time)."""

    def __missing__(self, key: str) -> str:
        return f"/nonexistent/{key}"


def _tagged() -> list[str]:
    """Names of the representative cases (those tagged in tests/_bad_inputs.py)."""
    return [c.name for c in all_cases(_AnyPath(), "/nonexistent/cache", Path("/nonexistent"), readonly_ok=True)
            if c.tags]


def run_in_process(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as e:  # argparse usage errors (status 2) and --help (0)
        code = e.code if isinstance(e.code, int) else 2
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("name", _tagged())
def test_bad_input_is_refused_clearly(world, capsys, name):
    case: Case | None = world["cases"].get(name)
    if case is None:
        pytest.skip("read-only files cannot be made on this machine")
    if case.prepare is not None:
        case.prepare()
    t0 = time.time()
    try:
        code, _, err = run_in_process(case.argv, capsys)
    finally:
        if case.cleanup is not None:
            case.cleanup()
    wall = time.time() - t0
    assert judge(case, code, err, False) == "ok", f"{name}: exit {code}\n{err[-2000:]}"
    assert "Traceback" not in err and "allow_pickle" not in err
    assert wall < MAX_CASE_SECONDS, f"{name} took {wall:.1f}s"


def test_the_case_list_covers_every_subcommand_and_is_large(world):
    cases = list(world["cases"].values())
    assert len(cases) >= 300
    assert {c.argv[0] for c in cases if c.argv} >= {"train", "score", "select", "unlearn", "compare", "runs", "list"}


# ---------------------------------------------------------------------------------------------- the top level
@pytest.mark.parametrize("exc, message, code", [
    (ValueError("unexpected"), "internal error (ValueError: unexpected)", 2),
    (MemoryError(), "out of memory", 2),
    (OSError(errno.ENOSPC, "No space left on device", "/x/y"), "disk is full", 2),
    (PermissionError(errno.EACCES, "Permission denied", "/x/y"), "no permission", 2),
    (sqlite3.OperationalError("database is locked"), "locked by another process", 2),
    (sqlite3.DatabaseError("database disk image is malformed"), "cache database failed", 2),
    (KeyboardInterrupt(), "interrupted", 130),
])
def test_every_failure_becomes_one_line(monkeypatch, capsys, tmp_path, exc, message, code):
    def boom(args):
        raise exc

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(cli.parser, "cmd_list", boom)  # build_parser binds the parser module's cmd_list when main() builds it
    got, _, err = run_in_process(["list"], capsys)
    assert got == code and message in err and "Traceback" not in err
    if isinstance(exc, ValueError):  # a bug: the traceback is saved, and the message says where
        crash = Path(err.split("Details: ")[1].strip())
        assert crash.parent == tmp_path and "Traceback" in crash.read_text() and "boom" in crash.read_text()


def test_subprocess_bad_npz_never_suggests_unpickling(world):
    """End to end through ``python -m``: a text file and a pickled npz give one clear line each."""
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    for key in ("npz_text", "npz_pickled"):
        p = subprocess.run([sys.executable, "-m", "unlearn_core", "train", "--quiet", "--cache-dir",
                            str(world["work"] / "cache"), "--dataset", f"npz:{world['fx'][key]}"],
                           capture_output=True, text=True, timeout=120, env=env, cwd=str(repo))
        assert p.returncode == 2, p.stderr
        assert p.stderr.startswith("error: ") and "Traceback" not in p.stderr and "allow_pickle" not in p.stderr
