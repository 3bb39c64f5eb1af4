"""The argument parser: one sub-command per command, the options every setup shares, and the defaults. Commands are
looked up on their modules when the parser is built (``cmd_list``, ...)."""
from __future__ import annotations

import argparse

from .commands import cmd_list, cmd_runs, cmd_score, cmd_select, cmd_train, cmd_unlearn
from .grids import cmd_compare, cmd_reproduce, cmd_tune
from .inputs import _arg_type, _epochs, _ratio, _seed

DESCRIPTION = "forgetset compute core: which training samples are hard to unlearn?"


RUN_KINDS = ("original", "score", "forget_set", "unlearn", "predictions")


def _budget_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", default="paper", choices=("paper", "fixed10"),
                   help="unlearning budget: paper (default: the papers' 10 of 182 epochs, GA 5, as a fraction of this "
                        "recipe) or fixed10 (the presets' fixed 10 epochs, GA 5)")


def _mia_variants_arg(p: argparse.ArgumentParser, where: str) -> None:
    p.add_argument("--mia-variants", default="", help="MIA-efficacy feature variants to compute besides the "
                   "confidence one every run computes (MIA = MIA_confidence): all, or a comma list of confidence, "
                   "correctness, entropy, m_entropy, prob. Computed from the stored model of each run (new or cached) "
                   f"and kept for next time; {where}")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="digits (default), biased_digits, cifar10, cifar100, mnist, "
                   "fashion_mnist, svhn, celeba, npz:PATH or folder:PATH")
    p.add_argument("--model", default=None, help="mlp, cnn, resnet18, resnet50, vgg16_bn (default: per data set)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--cache-dir", default=None, help="artifact cache and database folder "
                   "(default $FORGETSET_CACHE_DIR or ./cache)")
    p.add_argument("--data-root", default=None, help="folder holding torchvision data sets (default ./data)")
    p.add_argument("--download", action="store_true", help="download torchvision data sets into --data-root")
    p.add_argument("--preset", default="auto", help="training preset: auto, small, image, quick")
    p.add_argument("--epochs", type=_arg_type(_epochs, "epochs"), default=None,
                   help="override the training preset's epochs (0..1000)")
    p.add_argument("--blo", default=None, help='BLO parameters as JSON, e.g. \'{"lower": "ft", "upper_iters": 20}\'')
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m unlearn_core", description=DESCRIPTION)
    sub = ap.add_subparsers(dest="command", required=True)
    seed = _arg_type(_seed, "seed")
    ratio = _arg_type(_ratio, "ratio")

    p = sub.add_parser("train", help="train (or import) the original model")
    _common(p)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--checkpoint", default=None, help="import weights (.safetensors or .pt state dict) as θ_o")
    p.add_argument("--confirm-dataset", default=None, metavar="NAME",
                   help="a checkpoint without forgetset metadata is only used when this names the data set")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("score", help="compute a per-sample score (loss, entropy, blo, ...)")
    _common(p)
    p.add_argument("--score", default="blo")
    p.add_argument("--ratio", type=ratio, default=None, help="forget ratio (scores that depend on it: blo; default 0.1)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--params", default=None, help="score parameters as JSON")
    p.add_argument("--out", default=None, help="write index,score CSV")
    p.set_defaults(fn=cmd_score)

    p = sub.add_parser("select", help="build a forget set")
    _common(p)
    p.add_argument("--selector", default="worst")
    p.add_argument("--ratio", type=ratio, default=None, help="forget ratio (default 0.1; not for class-wise selectors)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--out", default=None, help="write the forget indices, one per line")
    p.set_defaults(fn=cmd_select)

    p = sub.add_parser("unlearn", help="run one unlearning method on one forget set and evaluate it")
    _common(p)
    p.add_argument("--method", default="ft")
    p.add_argument("--selector", default="random")
    p.add_argument("--ratio", type=ratio, default=None, help="forget ratio (default 0.1; not for class-wise selectors)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--params", default=None, help='method hyperparameters as JSON, e.g. \'{"epochs": 5}\'')
    _budget_arg(p)
    _mia_variants_arg(p, "printed after the run's metrics")
    p.set_defaults(fn=cmd_unlearn)

    p = sub.add_parser("compare", help="grid of selectors × methods × ratios × seeds (default: the demo)")
    _common(p)
    p.add_argument("--selectors", default="random,worst,bottom:loss",
                   help="comma list; bottom:loss (θ_o's lowest-loss set) is the worst case's cheap rival")
    p.add_argument("--methods", default="retrain,ft,ga,rl,l1_sparse", help="comma list, or 'all'")
    p.add_argument("--ratios", default="0.1")
    p.add_argument("--seeds", default="3", help="count (3 = seeds 0,1,2) or list (0,4,7)")
    p.add_argument("--params", default=None, help='per-method hyperparameters as JSON: \'{"ga": {"lr": 0.01}}\'')
    p.add_argument("--out", default=None, help="write one CSV row per run")
    p.add_argument("--table-out", default=None, help="write the Table-3 statistics (mean, std, n, gaps) as CSV")
    p.add_argument("--eval-models", default="0", help="models per bank for the per-example distribution tests "
                   "(N retrained, N unlearned per method and forget set; adds forget_quality, score, KLoM P95 and "
                   "n_models columns, and rows for the baselines original and original_seeds); 0 = off (default)")
    _budget_arg(p)
    _mia_variants_arg(p, "added as MIA_<variant> columns to --out (a run without one reads 'not computed')")
    p.add_argument("--executor", default="local", help="where the grid's units run: local (default) or ray")
    p.add_argument("--workers", default="auto",
                   help="local worker processes: a number, or auto (all cores when the grid is long enough to gain)")
    p.add_argument("--ray-address", default=None,
                   help="with --executor ray: auto (a running cluster), ray://host:port, or local (start one here)")
    p.set_defaults(fn=cmd_compare)

    p = sub.add_parser("reproduce", help="run the papers' headline findings (seven) and write a report with verdicts")
    _common(p)
    p.add_argument("--seeds", default="3", help="count (3 = seeds 0,1,2) or list")
    p.add_argument("--ratio", default="0.1", help="forget ratio of the findings' sets")
    p.add_argument("--findings", default=None, help="comma list of findings to run (1-7; default all)")
    p.add_argument("--force", action="store_true",
                   help="compute the findings even when θ_o does not fit its training set (RA < 95%%; the verdicts "
                        "stay 'not applicable')")
    p.add_argument("--no-table6", action="store_true",
                   help="finding 6: skip the random-set (Chen et al. Table-6) analogue for GA, RL and Bad-T")
    p.add_argument("--workers", default="1", help="worker processes for the grids (default 1)")
    p.add_argument("--out", default=None, help="report folder (default CACHE/reports/<time>-<data set>)")
    p.set_defaults(fn=cmd_reproduce)

    p = sub.add_parser("tune", help="tune a method on random forget sets (min Avg. gap to Retrain), apply it elsewhere")
    _common(p)
    p.add_argument("--method", default="ft")
    p.add_argument("--grid", default=None,
                   help='JSON {hyperparameter: [values]}, e.g. \'{"lr": [0.01, 0.02], "epochs": [5, 10]}\' '
                        "(default: the preset's lr x 0.25/0.5/1/2 and epochs E/2, E)")
    p.add_argument("--selector", default="random", help="forget sets the grid is searched on (default random)")
    p.add_argument("--ratio", default="0.1")
    p.add_argument("--seeds", default="3", help="count (3 = seeds 0,1,2) or list")
    p.add_argument("--apply-to", default="worst", help="comma list of selectors to run the chosen values on "
                   "(with the preset for comparison); empty = none")
    p.add_argument("--params", default=None, help="fixed hyperparameters every candidate shares (JSON)")
    _budget_arg(p)
    p.add_argument("--workers", default="1", help="local worker processes (default 1)")
    p.set_defaults(fn=cmd_tune)

    p = sub.add_parser("runs", help="list runs in the store")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--kind", default=None, choices=RUN_KINDS, help="original, score, forget_set, unlearn, ...")
    p.add_argument("--status", default=None, choices=("done", "running", "failed", "cancelled", "interrupted",
                                                      "legacy", "corrupt"))
    p.add_argument("--mark-interrupted", action="store_true", help="mark runs left 'running' as interrupted")
    p.set_defaults(fn=cmd_runs)

    p = sub.add_parser("list", help="list data sets, models, selectors, scores and methods")
    p.set_defaults(fn=cmd_list)
    return ap
