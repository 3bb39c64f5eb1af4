"""Layers point one way (docs/architecture.md): the library never imports the dashboard, Streamlit or Plotly, and no
new import cycle appears. Imports are read from the code with an AST walk that includes function-local imports, so
an import moved into a function to dodge a cycle is still counted."""
from __future__ import annotations

import ast
from pathlib import Path

from unlearn_core.reproduce import FAILS, HOLDS, Finding

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("unlearn_core", "dashboard", "app_pages")
UI = ("streamlit", "plotly", "dashboard", "app_pages")

# The layers, bottom to top (docs/architecture.md). A module may import only modules of its own rank or below; the
# longest matching prefix gives a module its rank, so a new method or score file gets its package's rank, and a new
# top-level module must be added here (an unranked module fails the test). Modules of the same rank may import each
# other as long as no cycle forms (test_no_import_cycle).
LAYERS: dict[str, int] = {
    # 0: the bottom: the package's __init__, errors, atomic writes and digests, parameter rules, devices, threads, budgets, plain math
    "unlearn_core": 0, "unlearn_core.errors": 0, "unlearn_core.io": 0, "unlearn_core.validation": 0,
    "unlearn_core.budget": 0, "unlearn_core.passes": 0, "unlearn_core.discovery": 0, "unlearn_core.limits": 0, "unlearn_core.threads": 0, "unlearn_core.worker_start": 0, "unlearn_core.device": 0,
    "unlearn_core.context": 0, "unlearn_core.forget_quality": 0, "unlearn_core.stats": 0,
    # 1: data sets, model architectures, compute kernels
    "unlearn_core.data": 1, "unlearn_core.models": 1, "unlearn_core.kernels": 1,
    # 2: training and evaluation
    "unlearn_core.training": 2, "unlearn_core.ensemble": 2, "unlearn_core.metrics": 2, "unlearn_core.privacy_metrics": 2,
    # 3: the store (persistence only; expensive scores keep their resumable parts in it: LiRA shadows, early models)
    "unlearn_core.store": 3,
    # 4: scores and methods, each owning its parameter rules
    "unlearn_core.scores": 4, "unlearn_core.methods": 4,
    # 5: the typed setup (resolves data set, model, recipe and BLO parameters through the registries) and selectors
    "unlearn_core.config": 5, "unlearn_core.selectors": 5,
    # 6: model banks, result tables, the cost model; and the two plugins that build on them:
    "unlearn_core.banks": 6, "unlearn_core.results": 6, "unlearn_core.cost": 6,
    "unlearn_core.spec": 6,  # the typed experiment, parsed once at the edge (checks bank sizes: banks.py)
    "unlearn_core.scores.eps_hardness": 6,  # a score computed from model banks (ε per sample: banks.py)
    # 7: the pipeline (one setup: original models, scores, forget sets, unlearning runs, evaluation)
    "unlearn_core.pipeline": 7,
    # 8: grids and their executors, analyses, tuning, reproduction of the papers' claims
    "unlearn_core.grid": 8, "unlearn_core.grid_stages": 8, "unlearn_core.grid_executors": 8, "unlearn_core.grid_estimate": 8, "unlearn_core.cluster": 8, "unlearn_core.tuning": 8,
    "unlearn_core.analysis": 8, "unlearn_core.reproduce": 8,
    # 9: background jobs
    "unlearn_core.jobs": 9,
    # 10: the command line and the report writer
    "unlearn_core.cli": 10, "unlearn_core.__main__": 10, "unlearn_core.report": 10,
    # 11: the dashboard (views only)
    "dashboard": 11, "app_pages": 11,
}


def rank_of(module: str, layers: dict[str, int] = LAYERS) -> int | None:
    """The rank of the longest prefix of ``module`` in ``layers`` (None = unranked). The bare package name
    ``unlearn_core`` ranks only its ``__init__``, so a new top-level module is unranked until it is placed."""
    name = module
    while name:
        if name in layers and (name != "unlearn_core" or module == name):
            return layers[name]
        name = name.rpartition(".")[0]
    return None


def upward_imports(edges: dict[str, set[str]], layers: dict[str, int] = LAYERS) -> list[str]:
    """Every import from a module to one of a higher rank, as 'a (rank) -> b (rank)'."""
    out = []
    for m, targets in sorted(edges.items()):
        for t in sorted(targets):
            rm, rt = rank_of(m, layers), rank_of(t, layers)
            if rm is not None and rt is not None and rt > rm:
                out.append(f"{m} ({rm}) -> {t} ({rt})")
    return out


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = f
    return mods


def _imported_names(name: str, path: Path) -> set[str]:
    """Absolute names of everything ``name`` imports anywhere in its file (relative imports resolved)."""
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # ``from . import sibling`` names the sibling and also runs the package's ``__init__`` (an edge to the
            # package): a module of a package whose ``__init__`` imports it back is a cycle, as the workplace's
            # import-cycle tool counts it (``from .registry import x`` avoids it).
            out |= {prefix} | {f"{prefix}.{a.name}" for a in node.names}
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()

    def resolve(n: str) -> str | None:
        while n and n not in mods:
            n = n.rpartition(".")[0]
        return n or None

    return {m: {r for n in _imported_names(m, f) if (r := resolve(n)) and r != m} for m, f in mods.items()}


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_the_library_never_imports_the_dashboard_streamlit_or_plotly():
    mods = _modules()
    offenders = {m: sorted(n for n in _imported_names(m, f) if n.split(".")[0] in UI)
                 for m, f in mods.items() if m.startswith("unlearn_core")}
    assert not {m: n for m, n in offenders.items() if n}


def test_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, [sorted(c) for c in cycles]


def test_every_module_has_a_layer():
    assert [m for m in _modules() if rank_of(m) is None] == []


def test_every_import_points_down():
    assert upward_imports(_graph()) == []


def test_the_layer_check_finds_a_planted_upward_import():
    """The rival: a rank lookup that matched no prefix (or compared the wrong way) would pass the test above for the
    wrong reason. A store importing the pipeline, and a method file (ranked by its package) importing the grid, are
    found; the same modules importing downward are not."""
    edges = {"unlearn_core.store": {"unlearn_core.pipeline", "unlearn_core.io"},
             "unlearn_core.methods.new_method": {"unlearn_core.grid", "unlearn_core.training"}}
    assert upward_imports(edges) == ["unlearn_core.methods.new_method (4) -> unlearn_core.grid (8)",
                                     "unlearn_core.store (3) -> unlearn_core.pipeline (7)"]
    assert rank_of("unlearn_core.scores.eps_hardness") == 6 and rank_of("unlearn_core.scores.loss") == 4
    assert rank_of("unlearn_core.nothing_like_this") is None and rank_of("elsewhere") is None


def test_the_cycle_finder_finds_a_planted_cycle(tmp_path):
    """The rival: a walker that missed function-local imports would pass the test above for the wrong reason."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [{"a", "b", "c"}]
    src = ROOT / "unlearn_core" / "grid.py"
    assert "unlearn_core.pipeline" in _imported_names("unlearn_core.grid", src)  # a function-local import, seen
    # ``from . import registry`` in a module of a package whose __init__ imports that module: an edge to the package
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("from . import registry\n")
    assert "pkg" in _imported_names("pkg.a", pkg / "a.py")


def test_core_report_without_figures(tmp_path):
    """A core-only install (no Plotly) writes the same report with its tables and says where the figures are."""
    from unlearn_core.report import read_summary, write_report

    out = write_report([Finding(98, "A", "c", "s", HOLDS, "why a", {}), Finding(99, "B", "c", "s", FAILS, "w", {})],
                       tmp_path / "r", "T", {"wall_s": 6.0})
    page = out.read_text()
    assert "dashboard extra" in page and "plotly" not in page.lower()
    assert [f["verdict"] for f in read_summary(tmp_path / "r")["findings"]] == [HOLDS, FAILS]
