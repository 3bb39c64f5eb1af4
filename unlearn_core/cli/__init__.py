"""Command line: ``python -m unlearn_core <command> ...`` (the ``forgetset`` script).

Commands: ``train``, ``score``, ``select``, ``unlearn``, ``compare`` (the grid; with no arguments the default
demo: digits, Retrain/FT/GA/RL/ℓ1-sparse, random vs worst-case, 10%, 3 seeds), ``reproduce`` (the papers'
headline findings as a report), ``tune`` (tune a method on random sets, apply it to others), ``runs`` and ``list``.
Progress bars go to stderr; tables to stdout. Everything that can be checked is checked before any compute starts
(arguments, output folders, the cache, the data, the model's fit to the image size, every hyperparameter). Any
failure prints one ``error: ...`` line saying what to do and exits with status 2 (130 for Ctrl-C); an unexpected
exception prints a short message with the path of a saved traceback, never a traceback itself
(``FORGETSET_TRACEBACK=1`` prints it too, for debugging).

Modules: inputs.py (argument text → typed values), parser.py (argparse), commands.py and grids.py (the commands),
progress.py (progress on stderr), errors.py (failures → one line and an exit status).
"""
from __future__ import annotations

import contextlib
import os
import sys

from .errors import explain
from .parser import build_parser

__all__ = ["main", "build_parser", "explain"]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)  # usage errors: argparse prints "error: ..." and exits with status 2
    from ..threads import apply_thread_policy

    apply_thread_policy()  # one torch thread per worker: measured faster on shared cores (threads.py)
    try:
        return int(args.fn(args) or 0)
    except BrokenPipeError:  # stdout closed early (| head): nothing left to say
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return 141
    except (Exception, KeyboardInterrupt) as err:  # noqa: BLE001 - the one place that turns failures into messages
        if os.environ.get("FORGETSET_TRACEBACK"):
            import traceback

            traceback.print_exc()
        message, code = explain(err, argv)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        print(message, file=sys.stderr)
        return code
