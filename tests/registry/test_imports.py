"""What a fresh interpreter imports: the registry API and the commands that only read the registry
load neither Apache Beam nor TensorFlow nor Great Expectations (seconds each); and where an
optional library is missing, the call that needs it says in one line which extra to install.

Each check runs in a fresh interpreter (``sys.modules`` of this one holds everything the other
tests imported). A missing library is simulated as Python sees one: ``sys.modules[name] = None``
makes ``import name`` raise ImportError. Timings are benchmark 6's (``bench/imports.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from registry.api import Registry
from tests.registry.conftest import Builds

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAVY = ("apache_beam", "tensorflow", "great_expectations")

_PROBE = """
import json, sys
for name in {missing!r}:
    sys.modules[name] = None
code = 0
try:
{body}
except SystemExit as e:
    code = e.code or 0
except Exception as e:
    print(f"@@raised {{type(e).__module__}}.{{type(e).__name__}}: {{e}}", file=sys.stderr)
    code = 99
print("@@loaded " + json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
sys.exit(code)
"""


def _fresh(body: str, *, missing: tuple[str, ...] = (), env: dict[str, str] | None = None):
    """Run ``body`` in a fresh interpreter; (exit code, stdout, stderr lines without the
    probe's, heavy modules loaded at the end, the exception raised if any)."""
    code = _PROBE.format(missing=missing, heavy=HEAVY,
                         body="\n".join("    " + line for line in body.strip().splitlines()))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})
    loaded, raised, err = None, None, []
    for line in proc.stderr.splitlines():
        if line.startswith("@@loaded "):
            loaded = json.loads(line[len("@@loaded "):])
        elif line.startswith("@@raised "):
            raised = line[len("@@raised "):]
        else:
            err.append(line)
    assert loaded is not None, proc.stderr[-3000:]
    return proc.returncode, proc.stdout, err, loaded, raised


def _cli(*args: str) -> str:
    return f"from curate.cli import main\nsys.exit(main({list(args)!r}))"


@pytest.fixture(scope="module")
def registry_uri(tmp_path_factory, builds: Builds) -> str:
    """A local registry holding one version, registered by this process."""
    root = tmp_path_factory.mktemp("imports") / "registry"
    Registry(f"file://{root}").register(builds.v1, dataset="asr-demo")
    return f"file://{root}"


def test_the_registry_api_imports_no_heavy_library():
    code, _, err, loaded, raised = _fresh("from registry.api import Registry")
    assert (code, raised, loaded) == (0, None, []), err


def test_curate_help_imports_no_heavy_library():
    code, out, err, loaded, raised = _fresh(_cli("--help"))
    assert (code, raised, loaded) == (0, None, []), err
    assert "versions" in out and "build" in out


def test_curate_versions_and_show_import_no_heavy_library(registry_uri):
    for args in (("versions", "asr-demo"), ("show", "asr-demo@v1"), ("versions", "no-such")):
        code, out, err, loaded, raised = _fresh(_cli(*args, "--registry", registry_uri))
        assert raised is None and loaded == [], (args, err)
        if args[-1] == "no-such":
            assert code == 2 and len(err) == 1 and "no-such" in err[0]
        else:
            assert code == 0 and "v1" in out, (args, err)


def test_opening_a_version_and_reading_it_without_an_extra_imports_no_heavy_library(
        registry_uri, tmp_path):
    body = f"""
from registry.api import Registry
ds = Registry({registry_uri!r}, cache_dir={str(tmp_path / 'cache')!r}).open("asr-demo@v1")
n = sum(1 for _ in ds.examples("train"))
assert n == ds.info["splits"]["train"]["num_examples"], n
print(ds.commit_id)
"""
    code, out, err, loaded, raised = _fresh(body)
    assert (code, raised, loaded) == (0, None, []), err
    assert len(out.strip()) == 64


def test_tf_dataset_without_tensorflow_names_the_tf_extra(registry_uri, tmp_path):
    body = f"""
from registry.api import Registry
Registry({registry_uri!r}, cache_dir={str(tmp_path / 'cache')!r}).open("asr-demo@v1").tf_dataset("train")
"""
    code, _, _, _, raised = _fresh(body, missing=("tensorflow",))
    assert code == 99
    assert raised == ("registry.errors.MissingDependencyError: tf_dataset needs TensorFlow, which "
                      "is not installed: pip install 'curate-speech[tf]'")


@pytest.mark.parametrize("module, uri, extra", [
    ("boto3", "s3://bucket/builds/b1", "aws"),
    ("google.cloud.storage", "gs://bucket/builds/b1", "gcp"),
])
def test_a_bucket_without_its_client_library_is_one_line_naming_the_extra(module, uri, extra):
    code, _, err, _, raised = _fresh(_cli("validate", uri), missing=(module,))
    assert raised is None and code == 2, err
    assert len(err) == 1 and err[0].startswith(f"curate: error: {uri} needs "), err
    assert err[0].endswith(f", which is not installed: pip install 'curate-speech[{extra}]'")


@pytest.mark.parametrize("module, scheme, extra", [("boto3", "s3", "aws"),
                                                   ("google.cloud.storage", "gs", "gcp")])
def test_a_cache_in_a_bucket_without_its_client_library_names_the_extra(
        registry_uri, module, scheme, extra):
    body = f"""
from registry.api import Registry
Registry({registry_uri!r}, cache_dir="{scheme}://bucket/cache").open("asr-demo@v1").info
"""
    code, _, _, _, raised = _fresh(body, missing=(module,))
    assert code == 99
    assert raised == (f"curate.errors.MissingDependencyError: {scheme}://bucket/cache needs "
                      f"{'boto3' if extra == 'aws' else 'google-cloud-storage'} "
                      f"(Beam's {'S3' if extra == 'aws' else 'GCS'} filesystem), which is not "
                      f"installed: pip install 'curate-speech[{extra}]'")
