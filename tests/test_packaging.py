"""Shipping the code: the sdist and wheel built from ``setup.py`` hold every module, suite and
example config, and the wheel installed into a fresh virtualenv runs a build on its own.

This is what ``--setup_file ./setup.py`` makes Dataflow do on every worker (build an sdist,
``pip install`` it), so a module or data file missing here is a job that dies on its workers.

How the fresh virtualenv gets its dependencies: a new venv has no site packages of its own, and
``pip install``-ing the wheel's requirements would download TensorFlow and Beam (about 1 GB) on
every run, needing the network. Instead the new venv gets a ``.pth`` file listing this
interpreter's site-packages directories, *after* its own: the dependencies are found there, while
``curate``, ``registry``, ``pipelines`` and ``expectations`` come from the installed wheel. Not
``--system-site-packages``: the test interpreter is itself a venv, and that flag would expose the
base interpreter's packages, not this venv's. A plain path in a ``.pth`` file is added to
``sys.path`` without processing the ``.pth`` files inside it, so the development checkout's
editable-install hook (a ``.pth`` file in this venv) is *not* active in the new venv: the test
asserts that the modules are imported from the new venv. Everything runs from a directory outside
the source tree.

Marked ``packaging`` (about a minute): ``pytest -m "not packaging"`` skips it.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
import zipfile

import pytest

pytestmark = pytest.mark.packaging

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("curate", "registry", "pipelines", "expectations")
DATA_FILES = ("expectations/*.json", "pipelines/configs/*.yaml",
              "curate/validation/static/vendor/README.md", "curate/validation/static/vendor/*/*")
STEP_TIMEOUT_S = 300
_JUNK_DIRS = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache",
              "out", "demo"}


def _source_files() -> list[str]:
    """The repository's files as a clone has them (``git ls-files``; a file in progress that is
    not committed yet is not part of what ships), or every file when there is no git checkout
    (e.g. an unpacked sdist). Paths relative to the root, ``/``-separated."""
    if os.path.isdir(os.path.join(REPO_ROOT, ".git")) and shutil.which("git"):
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True,
                             check=True, timeout=60).stdout.decode()
        return sorted(f for f in out.split("\0")
                      if f and os.path.isfile(os.path.join(REPO_ROOT, f)))
    found = []
    for dirpath, dirnames, names in os.walk(REPO_ROOT):
        dirnames[:] = [d for d in dirnames if d not in _JUNK_DIRS and not d.endswith(".egg-info")]
        found += [os.path.relpath(os.path.join(dirpath, n), REPO_ROOT).replace(os.sep, "/")
                  for n in names if not n.endswith(".pyc")]
    return sorted(found)


def _expected_files() -> set[str]:
    """Every module of the four packages and every suite and example config, as archive paths."""
    found = set()
    for f in _source_files():
        top = f.split("/", 1)[0]
        if top in PACKAGES and f.endswith(".py"):
            found.add(f)
        elif any(fnmatch.fnmatch(f, pattern) for pattern in DATA_FILES):
            found.add(f)
    assert any(f.startswith("expectations/") and f.endswith(".json") for f in found)
    assert any(f.startswith("pipelines/configs/") for f in found)
    assert any(f.endswith("/fa-solid-900.woff2") for f in found)  # what Data Docs load offline
    return found


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_TIMEOUT_S, **kwargs)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """``(sdist, wheel)`` built from a copy of the repository's files (building writes
    ``build/`` and ``*.egg-info`` next to ``setup.py``; the shared checkout is left alone)."""
    tmp = tmp_path_factory.mktemp("dist")
    src, out = tmp / "src", tmp / "out"
    for rel in _source_files():  # what a clone holds
        os.makedirs(src / os.path.dirname(rel), exist_ok=True)
        shutil.copy2(os.path.join(REPO_ROOT, rel), src / rel)
    if importlib.util.find_spec("build") is not None:
        # The sdist first, then the wheel from the unpacked sdist: the wheel proves the sdist is
        # complete. No isolation: setuptools and wheel come from this venv, not a download.
        _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)])
    else:
        _run([sys.executable, "setup.py", "-q", "sdist", "-d", str(out)], cwd=src)
        _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
              "-w", str(out), str(src)])
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def test_wheel_holds_every_module_suite_and_config(dists):
    _, wheel = dists
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = _expected_files() - names
    assert not missing, f"not in {wheel.name}: {sorted(missing)}"
    tops = {n.split("/", 1)[0] for n in names}
    extra = {t for t in tops if not t.endswith(".dist-info")} - set(PACKAGES)
    assert not extra, f"unexpected top-level entries in the wheel: {extra}"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "curate = curate.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_sdist_holds_every_module_suite_and_config(dists):
    sdist, _ = dists
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    missing = (_expected_files() | {"setup.py", "README.md"}) - names
    assert not missing, f"not in {sdist.name}: {sorted(missing)}"


@pytest.fixture(scope="module")
def fresh_venv(dists, tmp_path_factory):
    """A new venv with the wheel installed (``--no-deps``) and this venv's packages behind it."""
    _, wheel = dists
    venv = tmp_path_factory.mktemp("venv") / "v"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
          "--no-index", str(wheel)])
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    deps = [p for p in site.getsitepackages() if os.path.isdir(p)]
    with open(os.path.join(purelib.stdout.strip(), "zz_reuse_test_venv_deps.pth"), "w") as f:
        f.write("\n".join(deps) + "\n")
    return venv


def _venv_env(venv) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


_IMPORT_ALL = """
import importlib, importlib.resources, json, sys
modules = json.loads(sys.argv[1])
where = {}
for name in modules:
    where[name] = importlib.import_module(name).__file__
suites = sorted(p.name for p in importlib.resources.files("expectations").iterdir()
                if p.name.endswith(".json"))
configs = sorted(p.name for p in (importlib.resources.files("pipelines") / "configs").iterdir())
print(json.dumps({"where": where, "suites": suites, "configs": configs}))
"""


def test_every_module_imports_from_the_installed_wheel(fresh_venv, tmp_path):
    files = _expected_files()
    modules = sorted(
        f[:-3].replace("/", ".").removesuffix(".__init__") for f in files if f.endswith(".py")
    )
    proc = _run([str(fresh_venv / "bin" / "python"), "-c", _IMPORT_ALL, json.dumps(modules)],
                cwd=tmp_path, env=_venv_env(fresh_venv))
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    outside = {m: f for m, f in report["where"].items() if not f.startswith(str(fresh_venv))}
    assert not outside, f"imported from outside the fresh venv: {outside}"
    assert report["suites"] == sorted(
        os.path.basename(f) for f in files if f.startswith("expectations/") and f.endswith(".json")
    )
    assert report["configs"] == sorted(
        os.path.basename(f) for f in files if f.startswith("pipelines/configs/")
    )


def test_installed_console_script_builds_a_sample_corpus(fresh_venv, tmp_path):
    from curate.samples import make_corpus  # the corpus is data: any copy of the code writes it

    curate, env = str(fresh_venv / "bin" / "curate"), _venv_env(fresh_venv)
    make_corpus(str(tmp_path / "corpus"), utterances=6, seed=2)
    proc = _run([curate, "build", "corpus/configs/jsonl.yaml", "--output", "build"],
                cwd=tmp_path, env=env)
    info = json.load(open(tmp_path / "build" / "dataset_info.json"))
    assert info["fingerprint"] in proc.stdout
    assert info["counts"]["accepted"] == 6 and info["counts"]["rejected"] == 0
    assert info["code_version"] == "curate-speech 0.1.0"

    from curate.launch import run_build  # the same build from the checkout: the same bytes

    here = run_build(str(tmp_path / "corpus" / "configs" / "jsonl.yaml"), str(tmp_path / "here"),
               say=lambda _: None)
    assert here["fingerprint"] == info["fingerprint"]
