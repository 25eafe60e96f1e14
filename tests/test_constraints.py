"""The committed constraints file pins every dependency, and this environment was built from it
(issue 16: bytes depend on libFLAC, soxr, numpy…, and nothing pinned them)."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "requirements"))

import lock  # noqa: E402  (requirements/lock.py, the script that writes the file)


def test_every_requirement_of_setup_py_is_pinned():
    assert lock.check() == []
    assert {"apache-beam", "soundfile", "soxr", "numpy", "pyarrow"} <= lock.requirement_names()


# The venv's own installer tooling: `make test`'s loaders step (torch needs setuptools >= 77)
# moves it, and no build's bytes depend on it.
_INSTALLER_TOOLS = {"pip", "setuptools", "wheel"}


def test_installed_versions_are_the_pinned_ones():
    """`make` installs with the constraints: a version that differs means it did not."""
    differ = []
    for name, version in lock.pinned().items():
        if name in _INSTALLER_TOOLS:
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # pinned for an extra or a platform this environment does not have
        if installed != version:
            differ.append(f"{name}: pinned {version}, installed {installed}")
    assert differ == []


def test_provenance_doctests():
    import doctest

    import curate.provenance

    assert doctest.testmod(curate.provenance).failed == 0
    deps = curate.provenance.byte_dependencies()
    assert deps["libFLAC"].startswith("reference libFLAC ")
    assert deps["soxr"] == lock.pinned()["soxr"]
