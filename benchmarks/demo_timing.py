"""Time the dashboard's teaching demo job headlessly (same code path as the button), stage by stage.

    python benchmarks/demo_timing.py --cache-dir /tmp/demo_cache
"""
from __future__ import annotations

import argparse
import time


from unlearn_core.context import RunContext
from unlearn_core.jobs import execute_job
from unlearn_core.store import Store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", required=True)
    args = ap.parse_args()
    t0 = time.time()
    last = [""]

    def on_progress(fraction: float, message: str) -> None:
        head = message.split(":")[0].split("·")[0].strip()
        if head != last[0]:
            last[0] = head
            print(f"{time.time() - t0:7.1f}s  {100 * fraction:5.1f}%  {message}", flush=True)

    execute_job("teaching_demo", {}, Store(args.cache_dir), RunContext(on_progress=on_progress), device="auto")
    print(f"teaching demo finished in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
