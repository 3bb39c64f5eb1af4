"""The dashboard's screenshots (issue 22, "Must show"), taken at 1400 px in headless Chromium by the browser test's own
walk through the app (tests/test_e2e_browser.py: the quick teaching demo from the click through the tour to its
summary, Compare with every method in the ratio sweep, Runs' estimate vs actual, the Overview's estimate vs actual,
"Why is it hard?", the attack view, the prediction matrix and the inspector's first screen), then made small
(256-colour PNG) and written to docs/screenshots/.

    python benchmarks/screenshots.py [--out docs/screenshots]

Needs Debian's chromium (/usr/bin/chromium) and Playwright; takes as long as the quick demo (minutes).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/test_e2e_browser.py::test_demo_tour_to_summary_sweep_why_hard_attack_and_inspector"
WIDTH = 1400


def shrink(src: Path, dst: Path) -> int:
    """A 256-colour copy of a screenshot (text and flat UI colours survive; size drops 3-5×); its size in bytes."""
    im = Image.open(src).convert("RGB")
    if im.width != WIDTH:
        raise SystemExit(f"{src.name} is {im.width} px wide, not {WIDTH}: the browser test's viewport changed.")
    im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(dst, optimize=True)
    return dst.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="forgetset-shots-") as tmp:
        env = {**os.environ, "DASHBOARD_SHOTS": tmp}
        rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", TEST], cwd=ROOT,
                             env=env)
        shots = sorted(p for p in Path(tmp).glob("*.png") if not p.name.startswith("FAILED"))
        if rc != 0 or not shots:
            raise SystemExit(f"the browser walk failed (exit {rc}); screenshots so far in {tmp} were not kept")
        args.out.mkdir(parents=True, exist_ok=True)
        for old in args.out.glob("*.png"):
            old.unlink()
        for p in shots:
            size = shrink(p, args.out / p.name)
            print(f"{args.out / p.name}: {size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
