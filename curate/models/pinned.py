"""Model files that ship inside a wheel, pinned by the wheel's version and each file's sha256.

A pinned model is trusted only after every one of its files hashes to the value recorded here,
checked when the model loads (the launcher loads every enabled model before it reads any data),
so a corrupted, truncated or swapped file fails the build at start-up, naming the file.

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "w.bin"), "wb").write(b"weights")
>>> pin = PinnedFiles(field="signals.x", dist="none", version="0", directory=d,
...                   sha256={"w.bin": "0" * 64}, check_version=False)
>>> pin.verify()
Traceback (most recent call last):
...
curate.models.errors.ModelLoadError: signals.x: .../w.bin: sha256 9a129038d9a0... does not match the pinned 0000000000... of none==0 (reinstall it: pip install --force-reinstall 'none==0')
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass

from curate.models.errors import ModelLoadError
from curate.models.identity import distribution_version

__all__ = ["PinnedFiles", "file_sha256", "package_dir"]


def file_sha256(path: str) -> str:
    """sha256 of one file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_dir(module: str, *, field: str, install: str) -> str:
    """Directory of the installed package ``module``, found without importing it (some model
    wheels import heavy libraries from their ``__init__``)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"{field}: the {module} package is not installed ({install})")
    return list(spec.submodule_search_locations)[0]


@dataclass(frozen=True, kw_only=True, slots=True)
class PinnedFiles:
    """Files of distribution ``dist`` at ``version`` under ``directory``, each with its sha256."""

    field: str  # the config field errors name, e.g. "signals.asr"
    dist: str
    version: str
    directory: str
    sha256: dict[str, str]  # file name relative to directory -> hex digest
    check_version: bool = True

    @property
    def paths(self) -> list[str]:
        return [os.path.join(self.directory, name) for name in sorted(self.sha256)]

    def verify(self) -> list[str]:
        """The files' paths, once the installed version and every file's hash match; else a
        :class:`ModelLoadError` naming the first file (or the version) that does not."""
        reinstall = f"reinstall it: pip install --force-reinstall '{self.dist}=={self.version}'"
        if self.check_version:
            found = distribution_version(self.dist)
            if found != self.version:
                raise ModelLoadError(
                    f"{self.field}: {self.dist} {found} is installed, but its model files are "
                    f"pinned to {self.version} ({reinstall})"
                )
        for name in sorted(self.sha256):
            path = os.path.join(self.directory, name)
            if not os.path.isfile(path):
                raise ModelLoadError(f"{self.field}: {path}: no such model file ({reinstall})")
            got = file_sha256(path)
            if got != self.sha256[name]:
                raise ModelLoadError(f"{self.field}: {path}: sha256 {got[:12]}... does not match "
                                     f"the pinned {self.sha256[name][:10]}... of "
                                     f"{self.dist}=={self.version} ({reinstall})")
        return self.paths
