"""Validating a build that lives in a bucket: ``curate validate s3://…`` / ``curate gate s3://…``.

A local S3-compatible server (moto, on loopback, fake credentials) stands in for S3. Fixture builds
are written locally (``build_fixture.write_build``) and uploaded under a prefix of their own per
test; the CLI reaches the server the way a user's shell would, through ``AWS_ENDPOINT_URL_S3``.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apache_beam.io.filesystems import FileSystems

from curate.cli import main
from curate.validation import storage
from curate.validation.result import NotValidatedError, read_result, require_passed
from curate.validation.validate import validate_build
from tests.s3_server import LocalS3, local_s3, upload_tree
from tests.validation.build_fixture import FixtureSpec, write_build

BUCKET = "curate-builds"
_serial = itertools.count()  # a prefix of its own for each build (test ids hold glob characters)
_DOCS = "validation/docs/"


@pytest.fixture(scope="module")
def s3() -> Iterator[LocalS3]:
    with local_s3() as server:
        server.client.create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(autouse=True)
def _isolated(s3: LocalS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The endpoint in the environment, as a user would set it; Beam's process-wide filesystem
    options (which the code under test gives Beam when it has none) restored afterwards."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
    monkeypatch.setenv("CURATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CURATE_REGISTRY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    saved = FileSystems._pipeline_options
    FileSystems.set_options(None)  # as in a fresh process: not options naming another server
    yield
    FileSystems.set_options(saved)


@pytest.fixture
def put_build(s3: LocalS3, make_build, request) -> Callable[..., str]:
    """``put_build(name, spec=None)``: a fixture build uploaded to
    ``s3://BUCKET/<test>-<n>/<name>``; returns its URI."""

    def put(name: str = "build", spec: FixtureSpec | None = None) -> str:
        prefix = f"{request.node.originalname}-{next(_serial)}/{name}"
        upload_tree(s3, make_build(name, spec=spec), BUCKET, prefix)
        return f"s3://{BUCKET}/{prefix}"

    return put


def _key(uri: str, rel: str = "") -> str:
    return uri[len(f"s3://{BUCKET}/"):] + (f"/{rel}" if rel else "")


def _result(s3: LocalS3, uri: str) -> dict:
    return json.loads(s3.get(BUCKET, _key(uri, "validation/result.json")))


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("curate: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def validated(s3: LocalS3, tmp_path_factory) -> tuple[str, int, str]:
    """A passing build in the bucket after ``curate validate`` (URI, exit code, output): each
    validation that writes costs seconds (a new boto3 client for each of Beam's operations on
    each of the ~30 files of the Data Docs site), so the tests that read one share it."""
    local = str(tmp_path_factory.mktemp("validated") / "build")
    write_build(local, FixtureSpec())
    upload_tree(s3, local, BUCKET, "validated/build")
    uri = f"s3://{BUCKET}/validated/build"
    out = io.StringIO()
    saved = FileSystems._pipeline_options
    FileSystems.set_options(None)  # as in a fresh process: not options naming another server
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
        code = main(["validate", uri])
    FileSystems.set_options(saved)
    return uri, code, out.getvalue()


def test_validate_writes_result_and_data_docs_into_the_bucket(s3, validated):
    uri, code, out = validated
    assert code == 0
    assert "asr_default: 14 of 14 expectations passed" in out
    assert f"docs      {uri}/validation/docs/index.html" in out
    result = _result(s3, uri)
    assert result["success"] is True and result["docs"] == "validation/docs/index.html"
    keys = s3.keys(BUCKET, _key(uri, _DOCS))
    index = s3.get(BUCKET, _key(uri, _DOCS + "index.html")).decode()
    assert "curate-failed-expectations" in index and "PASSED" in index
    pages = [s3.get(BUCKET, k) for k in keys if k.endswith(".html")]
    assert not [p for p in pages if b"curate-docs-" in p]  # no link into the local render dir
    assert len([k for k in keys if "/validations/" in k]) == 4  # a page per table
    assert any(k.endswith(".css") for k in keys)  # the site's static files came along
    assert not [k for k in s3.keys(BUCKET, _key(uri)) if ".tmp-" in k]


def test_require_passed_reads_the_result_from_the_bucket(validated, put_build):
    uri, _, _ = validated
    result = require_passed(uri)
    assert result == read_result(uri) and result.success
    with pytest.raises(NotValidatedError, match="validate it again"):
        require_passed(uri, info={"fingerprint": "0" * 64})
    with pytest.raises(NotValidatedError, match="is not the one that was validated"):
        require_passed(uri, info={"fingerprint": result.fingerprint, "counts": {}})
    never = put_build()
    assert read_result(never) is None
    with pytest.raises(NotValidatedError, match="never validated"):
        require_passed(never)


def test_register_takes_the_validated_bucket_build_and_refuses_an_unvalidated_one(
    validated, put_build, tmp_path
):
    """The gate in front of the registry holds for builds in a bucket too."""
    from registry.api import Registry
    from registry.local import LocalStore

    uri, _, _ = validated
    reg = Registry(LocalStore(tmp_path / "store"), cache_dir=tmp_path / "cache")
    with pytest.raises(NotValidatedError, match="never validated"):
        reg.register(put_build(), dataset="bucket-set")
    version = reg.register(uri, dataset="bucket-set")
    assert version.tag == "v1"
    shown = reg.store.get_commit("bucket-set", version.commit_id).metadata
    assert shown["curate.validation.success"] == "true"
    assert "curate.validation.unvalidated" not in shown


def test_a_failing_build_exits_1_with_the_failure_in_the_buckets_result(
    s3, put_build, registry_uri, capsys
):
    uri = put_build(spec=FixtureSpec(leak_speakers=1))
    assert main(["gate", uri, "--dataset", "asr-fixture", "--registry", registry_uri]) == 1
    assert "FAIL  speakers.num_splits" in capsys.readouterr().out
    result = _result(s3, uri)
    assert result["success"] is False and result["failed"] == 1
    (failure,) = result["failed_expectations"]
    assert (failure["table"], failure["column"]) == ("speakers", "num_splits")
    index = s3.get(BUCKET, _key(uri, _DOCS + "index.html")).decode()
    assert "FAILED: 1 of 14 expectations failed" in index
    with pytest.raises(NotValidatedError, match="1 of 14 expectations failed"):
        require_passed(uri)


def test_a_validation_that_errors_leaves_no_old_verdict_in_the_bucket(s3, put_build, tmp_path):
    uri = put_build()
    s3.client.put_object(Bucket=BUCKET, Key=_key(uri, "validation/result.json"), Body=b"{}")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"name": "broken", "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "snr_db"}}]}))
    with pytest.raises(Exception, match="not a valid GX expectation"):
        validate_build(uri, suite=str(broken))
    assert read_result(uri) is None


def test_uploading_the_docs_again_replaces_the_earlier_site(s3, tmp_path):
    """GX names result pages by their run time: the pages of an earlier validation must go, as a
    local site directory is replaced as a whole."""
    dest = f"s3://{BUCKET}/replace/docs"
    for name, files in [("first", {"index.html": b"1", "validations/t1/a.html": b"a"}),
                        ("second", {"index.html": b"2", "static/s.css": b"s"})]:
        for rel, data in files.items():
            (tmp_path / name / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name / rel).write_bytes(data)
        storage.upload_dir(str(tmp_path / name), dest)
    assert s3.keys(BUCKET, "replace/") == ["replace/docs/index.html", "replace/docs/static/s.css"]
    assert s3.get(BUCKET, "replace/docs/index.html") == b"2"


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("s3://{bucket}/nowhere", "s3://{bucket}/nowhere: build directory not found"),
        ("s3://no-such-bucket/b1", "s3://no-such-bucket/b1: build directory not found"),
        ("{build}/manifest", "{build}/manifest: not a build directory (no dataset_info.json)"),
    ],
)
@pytest.mark.parametrize("command", [["validate"], ["gate", "--dataset", "asr-fixture"]])
def test_a_missing_remote_build_is_one_line_and_exit_2(where, message, command, put_build,
                                                       capsys):
    fill = {"bucket": BUCKET, "build": put_build()}
    target = where.format(**fill)
    assert main([command[0], target, *command[1:]]) == 2
    assert _error_line(capsys.readouterr().err) == f"curate: error: {message.format(**fill)}"


def test_a_broken_remote_build_is_one_line_and_exit_2(s3, put_build, capsys):
    uri = put_build()
    s3.client.delete_object(Bucket=BUCKET, Key=_key(uri, "manifest/test/00000.parquet"))
    assert main(["validate", uri]) == 2
    assert "split 'test' has no manifest" in _error_line(capsys.readouterr().err)
    s3.client.put_object(Bucket=BUCKET, Key=_key(uri, "dataset_info.json"), Body=b"{not json")
    assert main(["validate", uri]) == 2
    line = _error_line(capsys.readouterr().err)
    assert f"{uri}/dataset_info.json: cannot be read as JSON" in line


def test_no_credentials_is_one_line_and_exit_3(put_build, monkeypatch, capsys):
    uri = put_build()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to look for
    assert main(["validate", uri]) == 3
    assert "no AWS credentials" in _error_line(capsys.readouterr().err)


@contextlib.contextmanager
def _server_checks_keys(s3: LocalS3) -> Iterator[None]:
    """The server checks every request's key against its IAM users and their policies (HTTP 403
    for a key it does not know or an action not allowed), then trusts everyone again."""

    def set_count(count: str) -> None:
        urllib.request.urlopen(urllib.request.Request(
            f"{s3.endpoint_url}/moto-api/reset-auth", data=count.encode(), method="POST",
            headers={"Content-Type": "text/plain"}))

    set_count("0")
    try:
        yield
    finally:
        set_count("inf")


def test_refused_credentials_are_one_line_and_exit_3(s3, put_build, capsys):
    uri = put_build()
    with _server_checks_keys(s3):  # and knows none
        assert main(["validate", uri]) == 3
    line = _error_line(capsys.readouterr().err)
    assert f"{uri}/dataset_info.json: cannot be accessed" in line and "403" in line


def test_read_only_credentials_are_one_line_and_exit_3(s3, put_build, monkeypatch, capsys, caplog):
    """A job that may read builds but not write to them: the suite runs, its result cannot be
    written. Beam logs the refusal with a traceback on the root logger; the CLI keeps that out."""
    import boto3

    uri = put_build()
    iam = boto3.client("iam", endpoint_url=s3.endpoint_url, region_name=s3.region)
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                       "Resource": "*"}]}))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    with _server_checks_keys(s3):
        assert main(["validate", uri]) == 3
    line = _error_line(capsys.readouterr().err)
    assert f"{uri}/validation/docs: cannot be accessed" in line and "AccessDenied" in line
    assert not [r for r in caplog.records if "Traceback" in r.getMessage()]
    assert s3.keys(BUCKET, _key(uri, "validation/")) == []


@pytest.mark.parametrize("remote", ["build", "baseline"])
def test_drift_between_a_local_and_a_remote_build(remote, put_build, make_build, capsys):
    shifted = FixtureSpec(duration_scale=1.8)
    if remote == "build":
        before, after = make_build("v1"), put_build("v2", spec=shifted)
    else:
        before, after = put_build("v1"), make_build("v2", spec=shifted)
    assert main(["validate", after, "--against", before, "--json", "--no-write"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["failed"] == 0 and summary["drift"]["against"] == before
    assert summary["drift"]["signals"]["duration_s"]["success"] is False
    assert summary["drift"]["signals"]["clipping_ratio"]["distance"] == 0.0
