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

# The one cycle left (config ↔ data / training / scores / methods registries ↔ validation ↔ store): its modules
# import each other through function-local imports. It may shrink, never grow; no other cycle may appear.
KNOWN_CYCLE = {"unlearn_core.config", "unlearn_core.data", "unlearn_core.kernels", "unlearn_core.methods",
               "unlearn_core.methods.base", "unlearn_core.scores", "unlearn_core.scores.base", "unlearn_core.store",
               "unlearn_core.training", "unlearn_core.validation"}


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


def test_no_new_import_cycle():
    cycles = _cycles(_graph())
    assert all(c <= KNOWN_CYCLE for c in cycles), [sorted(c) for c in cycles if not c <= KNOWN_CYCLE]


def test_the_cycle_finder_finds_a_planted_cycle():
    """The rival: a walker that missed function-local imports would pass the test above for the wrong reason."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [{"a", "b", "c"}]
    src = ROOT / "unlearn_core" / "grid.py"
    assert "unlearn_core.pipeline" in _imported_names("unlearn_core.grid", src)  # a function-local import, seen


def test_core_report_without_figures(tmp_path):
    """A core-only install (no Plotly) writes the same report with its tables and says where the figures are."""
    from unlearn_core.report import read_summary, write_report

    out = write_report([Finding(98, "A", "c", "s", HOLDS, "why a", {}), Finding(99, "B", "c", "s", FAILS, "w", {})],
                       tmp_path / "r", "T", {"wall_s": 6.0})
    page = out.read_text()
    assert "dashboard extra" in page and "plotly" not in page.lower()
    assert [f["verdict"] for f in read_summary(tmp_path / "r")["findings"]] == [HOLDS, FAILS]
