"""The project's import graph, read from the source with :mod:`ast` (nothing is imported).

``python -m tools.import_graph`` prints which package imports which (and through which
modules), then any cycle, and exits 1 if there is one; ``tests/test_import_graph.py`` runs it.

What counts as an import: every ``import`` and ``from … import`` statement anywhere in a module
(inside functions and ``if TYPE_CHECKING:`` blocks too: a lazy import is still a dependency, and
hiding a cycle is what it is most often used for), plus string constants that name a project
module (``importlib.import_module("registry.cli")``, ``python -m curate.cli``). ``from a import
b`` is an import of module ``a.b`` when that module exists, else of ``a``.

Two graphs are checked:

* **modules**: module -> module; a cycle is a set of modules that import each other;
* **packages**: a module belongs to the package of its directory (``curate/fsio.py`` to
  ``curate``, ``curate/validation/tables.py`` to ``curate.validation``); package P depends on Q
  when a module of P imports one of Q. An import between a package and one that contains it
  (``curate.sources`` using ``curate.errors``, ``curate.build`` wiring ``curate.sources``) is
  the package's inside, not a dependency between two packages, and is checked by the module
  graph only.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ImportGraph", "find_cycles", "main", "read_graph"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("curate", "registry", "pipelines", "expectations", "bench", "tests", "tools")


@dataclass(frozen=True, slots=True)
class ImportGraph:
    modules: Mapping[str, frozenset[str]]  # module -> the project modules it imports
    packages: Mapping[str, str]  # module -> its package

    def package_edges(self) -> dict[tuple[str, str], set[str]]:
        """(package, package it depends on) -> the importing modules."""
        edges: dict[tuple[str, str], set[str]] = defaultdict(set)
        for module, imported in self.modules.items():
            src = self.packages[module]
            for target in imported:
                dst = self.packages[target]
                if not (_contains(src, dst) or _contains(dst, src)):
                    edges[(src, dst)].add(module)
        return edges


def _contains(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer + ".")


def _module_names(root: str, tops: Sequence[str]) -> dict[str, tuple[str, bool]]:
    """Module name -> (file, is a package ``__init__``)."""
    found: dict[str, tuple[str, bool]] = {}
    for top in tops:
        base = os.path.join(root, top)
        for dirpath, dirnames, names in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            rel = os.path.relpath(dirpath, root).split(os.sep)
            for name in sorted(names):
                if not name.endswith(".py"):
                    continue
                if name == "__init__.py":
                    found[".".join(rel)] = (os.path.join(dirpath, name), True)
                else:
                    found[".".join([*rel, name[:-3]])] = (os.path.join(dirpath, name), False)
    return found


def _imports(tree: ast.AST, module: str, is_package: bool, known: Iterable[str]) -> set[str]:
    known = set(known)
    here = module if is_package else module.rpartition(".")[0]

    def resolve(name: str) -> str | None:
        """The project module ``name`` is, or the closest enclosing one that exists."""
        while name:
            if name in known:
                return name
            name = name.rpartition(".")[0]
        return None

    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(filter(None, (resolve(a.name) for a in node.names)))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                target = f"{prefix}.{alias.name}"
                out.add(target if target in known else resolve(prefix) or "")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "." in node.value and node.value in known:
                out.add(node.value)
    out.discard("")
    out.discard(module)
    return out


def read_graph(root: str = ROOT, tops: Sequence[str] = PACKAGES) -> ImportGraph:
    names = _module_names(root, [t for t in tops if os.path.isdir(os.path.join(root, t))])
    modules: dict[str, frozenset[str]] = {}
    packages: dict[str, str] = {}
    for module, (path, is_package) in names.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
        modules[module] = frozenset(_imports(tree, module, is_package, names))
        packages[module] = module if is_package else module.rpartition(".")[0]
    return ImportGraph(modules=modules, packages=packages)


def find_cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    nodes = sorted(set(edges) | {t for ts in edges.values() for t in ts})

    def visit(v: str) -> None:  # recursive: the graph is a few hundred modules deep at most
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in nodes:
        if v not in index:
            visit(v)
    return sorted(cycles)


def _order(edges: Mapping[str, Iterable[str]]) -> list[str]:
    """Packages, each after every package it depends on (Kahn, ties by name)."""
    nodes = set(edges) | {t for ts in edges.values() for t in ts}
    needs = {n: set(edges.get(n, ())) for n in nodes}
    order: list[str] = []
    while needs:
        ready = sorted(n for n, deps in needs.items() if not deps - set(order))
        if not ready:  # a cycle: reported separately
            order += sorted(needs)
            break
        order.append(ready[0])
        del needs[ready[0]]
    return order


def report(graph: ImportGraph) -> tuple[list[str], bool]:
    """The printed lines, and whether the graph has no cycle."""
    package_edges = graph.package_edges()
    by_package: dict[str, set[str]] = defaultdict(set)
    for src, dst in package_edges:
        by_package[src].add(dst)
    for package in set(graph.packages.values()):
        by_package.setdefault(package, set())
    module_cycles = find_cycles(graph.modules)
    package_cycles = find_cycles(by_package)
    edges = sum(len(v) for v in graph.modules.values())
    lines = [f"{len(graph.modules)} modules, {edges} imports between them, "
             f"{len(by_package)} packages", "",
             "packages, each after those it depends on (-> dependency: importing modules):"]
    for package in _order(by_package):
        lines.append(f"  {package}")
        for dst in sorted(by_package[package]):
            users = sorted(m.removeprefix(package + ".") for m in package_edges[(package, dst)])
            lines.append(f"      -> {dst}: {', '.join(users)}")
    lines.append("")
    for kind, cycles in (("module", module_cycles), ("package", package_cycles)):
        if not cycles:
            lines.append(f"{kind} cycles: none")
        for cycle in cycles:
            lines.append(f"{kind} cycle: {' <-> '.join(cycle)}")
    return lines, not (module_cycles or package_cycles)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=ROOT, help="the repository (default: this one)")
    args = parser.parse_args(argv)
    lines, ok = report(read_graph(args.root))
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
