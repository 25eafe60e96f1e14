"""No module and no package of the project imports one that imports it back
(``python -m tools.import_graph`` prints the graph)."""

from __future__ import annotations

from pathlib import Path

from tools.import_graph import find_cycles, main, read_graph, report


def test_the_project_has_no_import_cycle(capsys):
    assert main([]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "module cycles: none" in out and "package cycles: none" in out


def test_the_library_imports_neither_the_command_line_nor_the_launchers():
    graph = read_graph()
    below = {m: t for m, t in graph.modules.items() if m.startswith(("curate", "registry"))}
    for module, imported in below.items():
        if module.startswith("curate.cli"):
            continue
        assert not {t for t in imported if t.startswith(("curate.cli", "pipelines", "bench",
                                                         "tests"))}, module
    validation = {t for m, ts in below.items() if m.startswith("curate.validation") for t in ts}
    assert not {t for t in validation if t.startswith("registry")}


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_through_a_lazy_import_is_found(tmp_path):
    _tree(tmp_path, {
        "curate/__init__.py": "",
        "curate/a.py": "from curate import b\n",
        "curate/b.py": "def f():\n    from curate.a import x\n",
        "registry/__init__.py": "",
        "registry/r.py": "import curate.a\n",
    })
    lines, ok = report(read_graph(str(tmp_path), ("curate", "registry")))
    assert not ok
    assert "module cycle: curate.a <-> curate.b" in lines
    assert "package cycles: none" in lines


def test_packages_that_import_each_other_are_a_cycle(tmp_path):
    _tree(tmp_path, {
        "curate/__init__.py": "",
        "curate/validation/__init__.py": "",
        "curate/validation/v.py": "import importlib\nimportlib.import_module('registry.api')\n",
        "curate/sources/__init__.py": "from curate.sources import s\n",
        "curate/sources/s.py": "from curate import base\n",  # a subpackage using its parent
        "curate/base.py": "from curate.sources import s\n",
        "registry/__init__.py": "",
        "registry/api.py": "from curate.validation.v import thing\n",
    })
    graph = read_graph(str(tmp_path), ("curate", "registry"))
    assert graph.modules["curate.validation.v"] == {"registry.api"}  # a string naming a module
    lines, ok = report(graph)
    assert not ok
    assert "package cycle: curate.validation <-> registry" in lines
    assert "module cycle: curate.base <-> curate.sources.s" in lines


def test_find_cycles_reports_each_strongly_connected_part_once():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert find_cycles(edges) == [["a", "b", "c"]]
