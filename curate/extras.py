"""The optional libraries (``pip install 'curate-speech[extra]'``) and the one-line error a call
gives when the library it needs is not installed.

The core install runs builds, validation and the registry. What only some users need is an
extra, imported by the call that needs it and never at import time:

>>> EXTRAS["tensorflow"]
Extra(name='tf', library='TensorFlow')
>>> require("json", "this example")  # installed: nothing happens
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from curate.errors import MissingDependencyError

__all__ = ["EXTRAS", "Extra", "installed", "require"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Extra:
    name: str  # as in setup.py's extras_require
    library: str  # what a person calls it


# module that must import -> the extra that brings it
EXTRAS: dict[str, Extra] = {
    "tensorflow": Extra(name="tf", library="TensorFlow"),
    "boto3": Extra(name="aws", library="boto3 (Beam's S3 filesystem)"),
    "google.cloud.storage": Extra(name="gcp", library="google-cloud-storage (Beam's GCS filesystem)"),
    "torch": Extra(name="torch", library="PyTorch"),
    "grain": Extra(name="grain", library="Grain"),
    "datasets": Extra(name="hf", library="Hugging Face datasets"),
    "ray": Extra(name="ray", library="Ray Data"),
    "pyspark": Extra(name="spark", library="PySpark"),
}


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (found, not imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module set to None
        return False


def require(module: str, what: str, *, error: type[Exception] = MissingDependencyError) -> None:
    """Raise ``error`` in one line, naming the extra to install, unless ``module`` (one of
    :data:`EXTRAS`) is installed. ``what`` says what needs it: ``"tf_dataset"``,
    ``"s3://bucket/out"``."""
    if installed(module):
        return
    extra = EXTRAS.get(module)
    if extra is None:
        raise error(f"{what} needs {module}, which is not installed")
    raise error(
        f"{what} needs {extra.library}, which is not installed: "
        f"pip install 'curate-speech[{extra.name}]'"
    )
