"""The CLI: the compare grid, its CSV, caching, and a clear error (exit 2, no traceback) for bad input."""
from __future__ import annotations

import pandas as pd
import pytest

from unlearn_core.cli import main


def run_cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_compare_writes_csv_and_is_served_from_cache(tmp_path, capsys):
    cache, csv = tmp_path / "cache", tmp_path / "runs.csv"
    args = ["compare", "--methods", "retrain,ft", "--selectors", "random,worst", "--ratios", "0.1", "--seeds", "2",
            "--epochs", "6", "--blo", '{"upper_iters": 3, "K": 2}', "--cache-dir", str(cache), "--out", str(csv),
            "--quiet"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "retrain" in out and "worst" in out and "±" in out
    df = pd.read_csv(csv)
    for col in ["dataset", "model", "selector", "method", "ratio", "seed", "UA", "RA", "TA", "MIA", "runtime_s"]:
        assert col in df.columns
    assert len(df) == 2 * 2 * 2  # selectors × methods × seeds
    assert df[["UA", "RA", "TA", "MIA"]].apply(lambda c: c.between(0, 100)).all().all()
    # Second run: everything comes from the store (the run keys are identical and nothing is recomputed).
    from unlearn_core.store import Store

    n_rows_before = len(Store(cache).list_runs())
    code, out2, _ = run_cli(capsys, *args)
    assert code == 0
    assert len(Store(cache).list_runs()) == n_rows_before
    assert pd.read_csv(csv)["UA"].tolist() == df["UA"].tolist()


@pytest.mark.parametrize("args, message", [
    (["--ratios", "0"], "strictly between 0 and 1"),
    (["--ratios", "-0.2"], "strictly between 0 and 1"),
    (["--ratios", "1"], "strictly between 0 and 1"),
    (["--ratios", "1.5"], "strictly between 0 and 1"),
    (["--ratios", "abc"], "comma-separated numbers"),
    (["--ratios", "0.00001"], "empty forget set"),
    (["--methods", "nosuch"], "Unknown unlearning method 'nosuch'"),
    (["--methods", ""], "at least one unlearning method"),
    (["--selectors", "worse"], "Unknown selector"),
    (["--dataset", "imagenet1k"], "Unknown data set"),
    (["--model", "resnet9000"], "Unknown model"),
    (["--dataset", "cifar10", "--data-root", "/nonexistent/forgetset-data"], "--download"),
    (["--dataset", "npz:/nonexistent/x.npz"], "does not exist"),
    (["--device", "tpu"], "Unknown device"),
    (["--seeds", "0"], "at least 1"),
    (["--params", '{"ft": {"nosuch": 1}}', "--methods", "ft"], "no hyperparameter 'nosuch'"),
])
def test_bad_input_gives_clear_error(tmp_path, capsys, args, message):
    code, out, err = run_cli(capsys, "compare", "--cache-dir", str(tmp_path), "--quiet", "--epochs", "2", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x00garbage")
    code, _, err = run_cli(capsys, "train", "--checkpoint", str(bad), "--cache-dir", str(tmp_path), "--quiet")
    assert code == 2 and "corrupt" in err


def test_diverging_run_is_a_clear_error_and_stores_no_result(tmp_path, capsys):
    code, _, err = run_cli(capsys, "unlearn", "--method", "ga", "--params", '{"lr": 1e5, "epochs": 3}',
                           "--epochs", "3", "--cache-dir", str(tmp_path), "--quiet")
    assert code == 2 and "diverged" in err
    from unlearn_core.store import Store

    runs = Store(tmp_path).list_runs("unlearn")
    assert [r["status"] for r in runs] == ["failed"]


def test_list_and_help(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and "retrain" in out and "blo" in out and "digits" in out
    with pytest.raises(SystemExit) as e:
        main(["compare", "--help"])
    assert e.value.code == 0
    assert "--selectors" in capsys.readouterr().out
