"""The reproduction command: verdicts are computed from the numbers, and the report is written."""
from __future__ import annotations

import json


from unlearn_core.cli import main
from unlearn_core.reproduce import FAILS, HOLDS, INCONCLUSIVE, separated


def test_verdict_rule_is_non_overlapping_spreads():
    assert separated(10.0, 1.0, 5.0, 1.0, n=3) == 1  # 9 > 6
    assert separated(5.0, 1.0, 10.0, 1.0, n=3) == -1
    assert separated(7.0, 1.5, 5.0, 1.0, n=3) == 0  # 5.5 < 6: the intervals overlap
    assert separated(10.0, float("nan"), 5.0, float("nan"), n=1) == 0  # one seed: no spread to judge by
    assert separated(float("nan"), 1.0, 5.0, 1.0, n=3) == 0


def test_reproduce_writes_a_report_with_computed_verdicts(tmp_path, capsys):
    code = main(["reproduce", "--cache-dir", str(tmp_path / "c"), "--seeds", "2", "--epochs", "4",
                 "--findings", "1,6", "--blo", '{"upper_iters": 3}', "--out", str(tmp_path / "report"), "--quiet"])
    assert code == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert [f["number"] for f in summary["findings"]] == [1, 6]
    for f in summary["findings"]:
        assert f["verdict"] in (HOLDS, FAILS, INCONCLUSIVE) and "n = 2" in f["why"]
    html = (tmp_path / "report" / "report.html").read_text()
    assert "plotly" in html and "Challenging Forgets" in html and "seed 000" not in html
    assert "Retrain" in (tmp_path / "report" / "report.md").read_text()


def test_reproduce_refuses_bad_input_before_computing(tmp_path, capsys):
    assert main(["reproduce", "--cache-dir", str(tmp_path), "--findings", "7"]) == 2
    assert "1-6" in capsys.readouterr().err
