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
    # Only the confidence MIA comes with a run; the other variants are computed when asked for, from the stored
    # models (no unlearning again, the same run keys), and kept as metric records.
    assert not [c for c in df.columns if c.startswith("MIA_") and c != "MIA_confidence"]
    code, _, err = run_cli(capsys, *args, "--mia-variants", "entropy,prob")
    assert code == 0, err
    asked = pd.read_csv(csv)
    assert asked["key"].tolist() == df["key"].tolist() and asked["MIA"].tolist() == df["MIA"].tolist()
    assert asked[["MIA_entropy", "MIA_prob"]].apply(lambda c: c.between(0, 100)).all().all()
    store = Store(cache)
    assert len(store.list_runs("unlearn")) == len([r for r in store.list_runs() if r["kind"] == "unlearn"]) == 8
    assert sorted({r["config"]["metric"] for r in store.list_runs("metric", "done")}) == ["MIA_entropy", "MIA_prob"]
    assert len(store.list_runs()) == n_rows_before + 2 * 8


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
    (["--seeds", "0"], "--seeds 1 runs seed 0"),
    (["--params", '{"ft": {"nosuch": 1}}', "--methods", "ft"], "no hyperparameter 'nosuch'"),
    (["--mia-variants", "entropy,bogus"], "Unknown MIA feature variant 'bogus'"),
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


def test_list_shows_the_method_wrappers(capsys):
    """Issue 22, item 9: the error messages name rum: / rsu_oneshot: wrappers, so `list` shows them too."""
    from unlearn_core.methods.base import WRAPPERS

    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and "method wrappers" in out
    for prefix in WRAPPERS:
        assert f"{prefix}:METHOD" in out
    assert {"rum", "rsu_oneshot"} <= set(WRAPPERS)


def test_large_model_on_tiny_images_warns(tmp_path, capsys):
    """resnet18 on 8×8 digits is accepted but warned about, naming the data set's default model."""
    from unlearn_core.models import model_mismatch_warning

    msg = model_mismatch_warning("resnet18", (1, 8, 8), 1437, "mlp")
    assert msg and "32×32" in msg and "--model mlp" in msg and "M parameters" in msg
    assert model_mismatch_warning("mlp", (1, 8, 8), 1437, "mlp") is None
    assert model_mismatch_warning("resnet18", (3, 32, 32), 50_000, "resnet18") is None
    code, _, err = run_cli(capsys, "compare", "--model", "resnet18", "--seeds", "0,", "--cache-dir", str(tmp_path),
                           "--ratios", "0.1", "--methods", "nosuch")  # stops at the bad method: nothing trains
    assert code == 2


def test_progress_to_a_file_has_no_carriage_returns(tmp_path, capsys):
    """Progress written to a file (not a terminal) is whole lines, not tqdm's carriage-return redraws; table3.csv
    starts with its header (pandas reads it without comment='#'), its notes in a JSON sidecar."""
    import json

    table = tmp_path / "table3.csv"
    code, out, err = run_cli(capsys, "compare", "--methods", "retrain,ga", "--selectors", "random", "--ratios", "0.1",
                             "--seeds", "1", "--epochs", "2", "--cache-dir", str(tmp_path / "c"),
                             "--table-out", str(table))
    assert code == 0, err
    assert "\r" not in err and "compare:" in err and err.count("\n") < 200
    t = pd.read_csv(table)
    assert list(t.columns)[:3] == ["selector", "ratio", "method"] and len(t) == 2
    meta = json.loads((tmp_path / "table3.csv.json").read_text())
    assert "sample std" in meta["notes"]["std"] and meta["seeds"] == [0]


def test_unlearn_prints_the_mia_variants_asked_for(tmp_path, capsys):
    args = ["unlearn", "--method", "ft", "--epochs", "2", "--cache-dir", str(tmp_path), "--quiet"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "MIA_entropy" not in out
    code, out2, err = run_cli(capsys, *args, "--mia-variants", "entropy")
    assert code == 0, err
    assert out2.splitlines()[0] == out.splitlines()[0]  # the run itself is the cached one, the same numbers
    assert out2.splitlines()[1].startswith("MIA feature variants: MIA_entropy ")
