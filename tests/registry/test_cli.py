"""``curate register | versions | show | diff | pull`` through ``curate.cli.main``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from curate.cli import main
from tests.registry.build_fixture import write_build
from tests.registry.conftest import Builds

DS = "asr-demo"


@pytest.fixture
def registry_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CURATE_CACHE_DIR", str(tmp_path / "cache"))
    return (tmp_path / "registry").as_uri()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_register_versions_show_diff_pull_as_json(
    registry_uri: str, builds: Builds, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "register", str(builds.v1), "--dataset", DS,
                         "--registry", registry_uri, "--json", "--message", "first build")
    assert code == 0, err
    v1 = json.loads(out)
    assert (v1["tag"], v1["new_version"], v1["message"]) == ("v1", True, "first build")
    code, out, _ = run(capsys, "register", str(builds.v1_again), "--dataset", DS,
                       "--registry", registry_uri, "--json")
    assert code == 0 and json.loads(out)["new_version"] is False
    assert json.loads(out)["commit_id"] == v1["commit_id"]
    assert run(capsys, "register", str(builds.v2), "--dataset", DS, "--registry", registry_uri)[0] == 0

    code, out, _ = run(capsys, "versions", DS, "--registry", registry_uri, "--json")
    assert code == 0 and [v["tag"] for v in json.loads(out)] == ["v1", "v2"]

    code, out, _ = run(capsys, "show", f"{DS}@v2", "--registry", registry_uri, "--json")
    shown = json.loads(out)
    assert shown["tag"] == "v2" and shown["metadata"]["curate.split.test.examples"] == "7"

    code, out, _ = run(capsys, "diff", f"{DS}@v1", f"{DS}@v2", "--registry", registry_uri, "--json")
    d = json.loads(out)
    assert code == 0 and d["splits"]["test"]["added"] == ["te-0006"]
    assert d["splits"]["test"]["examples_delta"] == 1 and d["splits"]["train"]["added"] == []

    dest = tmp_path / "pulled"
    code, out, _ = run(capsys, "pull", f"{DS}@v1", str(dest), "--registry", registry_uri, "--json")
    assert code == 0 and json.loads(out)["commit_id"] == v1["commit_id"]
    assert (dest / "dataset_info.json").read_bytes() == (builds.v1 / "dataset_info.json").read_bytes()


def test_human_output_is_short_and_clear(
    registry_uri: str, builds: Builds, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    validated = write_build(tmp_path / "validated", builds.examples["v2"], validation={
        "suite": "asr_default", "success": False, "evaluated": 10, "successful": 9, "failed": 1})
    for build in (builds.v1, validated):
        code, out, _ = run(capsys, "register", str(build), "--dataset", DS, "--registry", registry_uri,
                           "--allow-unvalidated")
        assert code == 0 and out.startswith("registered asr-demo@v")
    code, out, _ = run(capsys, "versions", DS, "--registry", registry_uri)
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["TAG", "COMMIT", "EXAMPLES", "HOURS", "CREATED"]
    assert lines[1].split()[0] == "v1" and lines[1].split()[2] == "26"
    assert lines[2].split()[0] == "v2" and lines[2].split()[2] == "27"
    code, out, _ = run(capsys, "show", f"{DS}@latest", "--registry", registry_uri)
    assert "validation   FAILED: suite asr_default, 9/10 expectations met" in out
    assert "curate.fingerprint = " in out
    code, out, _ = run(capsys, "diff", f"{DS}@v1", f"{DS}@v2", "--registry", registry_uri)
    assert "test: 6 -> 7 examples (+1)" in out
    assert "1 added (te-0006); 0 removed; 0 changed" in out
    assert "train: unchanged (20 examples" in out
    code, out, _ = run(capsys, "register", str(builds.v1_again), "--dataset", DS,
                       "--registry", registry_uri)
    assert out.startswith("registered asr-demo@v3")  # a revert to v1's content is a new version


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["show", "x@"], 2, "not a valid dataset reference: 'x@' (missing version)"),
        (["show", "@v1"], 2, "not a valid dataset reference: '@v1' (missing dataset name)"),
        (["show", "abc@v0"], 2, "(versions start at v1)"),
        (["diff", "abc@v1", "abc@"], 2, "'abc@' (missing version)"),
        (["show", "nope-set@v1"], 2, "unknown dataset 'nope-set'"),
        (["versions", "nope-set"], 2, "unknown dataset 'nope-set'"),
        (["show", f"{DS}@v7"], 2, "dataset 'asr-demo' has no version v7 (latest is v1)"),
        (["pull", f"{DS}@v9", "out"], 2, "has no version v9"),
        (["register", "/nonexistent/build", "--dataset", DS], 2,
         "build directory '/nonexistent/build' not found"),
    ],
)
def test_errors_are_one_line_with_an_exit_code(
    registry_uri: str, builds: Builds, capsys: pytest.CaptureFixture[str],
    argv: list[str], code: int, message: str,
) -> None:
    assert run(capsys, "register", str(builds.v1), "--dataset", DS, "--registry", registry_uri)[0] == 0
    got, out, err = run(capsys, *argv, "--registry", registry_uri)
    assert got == code
    assert out == ""
    assert err.startswith("curate: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_tampered_build_exits_1_and_writes_nothing(
    registry_uri: str, builds: Builds, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build = builds.copy("v1", tmp_path / "build")
    (build / "stats.json").write_text("{}")
    code, out, err = run(capsys, "register", str(build), "--dataset", DS, "--registry", registry_uri)
    assert code == 1 and out == ""
    size = json.loads((builds.v1 / "dataset_info.json").read_text())["files"]["stats.json"]
    assert err == (f"curate: error: build file 'stats.json' has 2 bytes, dataset_info.json says "
                   f"{size['size_bytes']}\n")
    assert not (tmp_path / "registry").exists()


def test_bad_registry_uris_are_named_without_credentials(
    registry_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "versions", DS, "--registry", "s3://bucket/registry")
    assert code == 2 and "unknown registry URI scheme in 's3://bucket/registry'" in err
    code, _, err = run(capsys, "versions", DS, "--registry", "lakefs://admin:s3cr3t@host:8000")
    assert code == 2 and "s3cr3t" not in err and "lakefs://***@host:8000" in err


def test_credentials_never_show_on_lakefs(
    lakefs_server, builds: Builds, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Against the lakeFS test server, configured through the lakectl environment."""
    secret = lakefs_server.secret_access_key
    monkeypatch.setenv("CURATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LAKECTL_SERVER_ENDPOINT_URL", lakefs_server.endpoint_url)
    monkeypatch.setenv("LAKECTL_CREDENTIALS_ACCESS_KEY_ID", lakefs_server.access_key_id)
    monkeypatch.setenv("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("CURATE_LAKEFS_STORAGE_NAMESPACE", lakefs_server.storage_namespace_root)
    monkeypatch.setenv("CURATE_REGISTRY", "lakefs://")
    name = f"cli-{tmp_path.name[-12:].lower().replace('_', '-')}".strip("-")
    outputs = []
    for argv in (["register", str(builds.v1), "--dataset", name, "--json"],
                 ["show", f"{name}@v1", "--json"], ["show", f"{name}@v1"],
                 ["versions", name], ["show", f"{name}@v4"], ["show", "nope-set@v1"]):
        outputs.append(run(capsys, *argv))
    assert [o[0] for o in outputs] == [0, 0, 0, 0, 2, 2]
    assert json.loads(outputs[0][1])["tag"] == "v1"
    for _, out, err in outputs:
        assert secret not in out and secret not in err
    monkeypatch.setenv("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY", "wrong-" + secret)
    code, out, err = run(capsys, "versions", name)
    assert code != 0 and "Traceback" not in err and secret not in out + err


def test_register_refuses_a_build_without_a_passing_validation(
    registry_uri: str, builds: Builds, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    never = write_build(tmp_path / "never", builds.examples["v1"], validation=None)
    failed = write_build(tmp_path / "failed", builds.examples["v2"], validation={
        "suite": "asr_default", "success": False, "evaluated": 10, "successful": 9, "failed": 1})
    stale = write_build(tmp_path / "stale", builds.examples["v3"], validation={
        "suite": "asr_default", "success": True, "evaluated": 3, "successful": 3, "failed": 0,
        "fingerprint": "0" * 64})
    for build, why in ((never, "never validated"), (failed, "1 of 10 expectations failed"),
                       (stale, "validation result is for build 000000000000")):
        code, out, err = run(capsys, "register", str(build), "--dataset", DS, "--registry", registry_uri)
        assert code == 1 and why in err and len(err.strip().splitlines()) == 1, err
    assert run(capsys, "versions", DS, "--registry", registry_uri)[0] == 2  # nothing was written

    code, out, _ = run(capsys, "register", str(failed), "--dataset", DS, "--registry", registry_uri,
                       "--allow-unvalidated", "--json")
    meta = json.loads(out)["metadata"]
    assert code == 0 and "1 of 10 expectations failed" in meta["curate.validation.unvalidated"]
    assert meta["curate.validation.success"] == "false"


def _meters(log: io.StringIO):
    """A MeterFactory writing a line at every step (a log whose interval is 0)."""
    from curate.progress import Mode, Progress, Unit

    return lambda label, total: Progress(label, total=total, unit=Unit.BYTES, stream=log,
                                         mode=Mode.LINES, every_s=0)


def test_register_and_pull_tell_the_bytes_done_out_of_the_total(builds: Builds, tmp_path: Path,
                                                                 monkeypatch) -> None:
    from registry.api import Registry

    monkeypatch.setenv("CURATE_CACHE_DIR", str(tmp_path / "cache"))
    files = json.loads((builds.v1 / "dataset_info.json").read_text())["files"]
    total = sum(f["size_bytes"] for f in files.values())
    registry, log = Registry((tmp_path / "registry").as_uri()), io.StringIO()
    registry.register(str(builds.v1), dataset=DS, allow_unvalidated=True, progress=_meters(log))
    lines = log.getvalue().splitlines()
    verifying = [line for line in lines if line.startswith("verifying: ")]
    amount = re.escape(f"{total / 1e3:.1f} of {total / 1e3:.1f} kB")
    assert re.fullmatch(rf"verifying: {amount} \(100%\) in \d+ s", verifying[-1])
    assert len(verifying) == len(files) + 1  # a step per file hashed, then the last line
    uploading = [line for line in lines if line.startswith("uploading: ")]
    assert re.fullmatch(r"uploading: ([\d.]+) of \1 kB \(100%\) in \d+ s", uploading[-1])
    log = io.StringIO()
    registry.open(f"{DS}@v1").pull(tmp_path / "p", progress=_meters(log))
    ends = [line for line in log.getvalue().splitlines() if re.search(r"\) in \d+ s$", line)]
    assert [e.split(":")[0] for e in ends] == ["fetching", "copying"]
    assert ends[0].split(": ")[1] == ends[1].split(": ")[1]  # the same bytes, all of them


def test_pull_on_a_terminal_shows_a_bar_and_quiet_shows_nothing(
    registry_uri: str, builds: Builds, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "register", str(builds.v1), "--dataset", DS, "--registry", registry_uri,
               "--allow-unvalidated")[0] == 0
    code, out = _on_a_terminal("pull", f"{DS}@v1", str(tmp_path / "p"), "--registry",
                               registry_uri)
    assert code == 0, out
    assert re.search(r"\rfetching \[#{24}\] [\d.]+ of [\d.]+ kB \(100%\)\s+in \d+ s", out)
    assert re.search(r"\rcopying \[#{24}\] [\d.]+ of [\d.]+ kB \(100%\)\s+in \d+ s", out)
    code, out = _on_a_terminal("pull", f"{DS}@v1", str(tmp_path / "q"), "--registry",
                               registry_uri, "--quiet")
    assert code == 0 and "\r" not in out.replace("\r\n", "\n") and "[#" not in out, out
    assert "pulled " in out


def _on_a_terminal(*args: str) -> tuple[int, str]:
    """``curate ARGS`` with its stdout and stderr on a pseudo-terminal: (exit code, output)."""
    import sys

    from tests.terminal import run_on_a_terminal

    return run_on_a_terminal([sys.executable, "-m", "curate.cli", *args])
