"""curate.fsio: the same answers for a local directory and a bucket, and "missing" only when the
store says so."""

from __future__ import annotations

import pytest
from apache_beam.io.aws.clients.s3.messages import S3ClientError
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

from curate import fsio
from curate.fsio import write_bytes
from tests.s3_server import local_s3

BUCKET = "fsio"


@pytest.fixture(scope="module")
def s3():
    with local_s3() as server:
        server.client.create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path, monkeypatch):
    """A directory or a bucket prefix whose name holds glob characters."""
    if request.param == "local":
        yield str(tmp_path / "a[1]*?")
        return
    s3 = request.getfixturevalue("s3")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
    saved = FileSystems._pipeline_options
    FileSystems.set_options(None)  # as outside a pipeline: fsio gives Beam empty options
    yield f"s3://{BUCKET}/{request.node.name.replace('[', '(').replace(']', ')')}/a[1]*?"
    FileSystems.set_options(saved)


def test_files_read_list_stat_and_delete_alike(root):
    sep = "/"
    for rel, data in (("x.bin", b"abc"), ("sub/y.bin", b"defg")):
        write_bytes(f"{root}{sep}{rel}", data)
    write_bytes(f"{root}-neighbour{sep}z.bin", b"not below root")
    files = fsio.list_files(root)
    assert [f[len(root) + 1:].replace("\\", "/") for f in files] == ["sub/y.bin", "x.bin"]
    assert fsio.file_stat(f"{root}/sub/y.bin")[0] == 4
    assert fsio.file_stat(f"{root}/missing.bin") is None
    assert not fsio.is_file(f"{root}/sub")  # a directory (or prefix) is not a file
    with fsio.open_read(f"{root}/x.bin") as f:
        assert f.read() == b"abc"
    assert fsio.sha256_of(f"{root}/x.bin") == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    fsio.delete_file(f"{root}/x.bin")
    fsio.delete_file(f"{root}/x.bin")  # already gone: not an error
    assert fsio.list_files(root) == [files[0]]
    assert fsio.list_files(f"{root}/nothing-here") == []


def test_a_refused_request_is_not_a_missing_file(monkeypatch):
    """Only a 404 means "no such file": a 403 (or any other failure) must surface, or a build
    the caller may not read would look like a build that is not there."""

    class Refusing:
        def __init__(self, code):
            self.code = code

        def metadata(self, path):
            raise BeamIOError("Metadata operation failed", {path: S3ClientError("no", self.code)})

    monkeypatch.setattr(FileSystems, "get_filesystem", lambda path: Refusing(404))
    assert fsio.file_stat("s3://b/k") is None
    monkeypatch.setattr(FileSystems, "get_filesystem", lambda path: Refusing(403))
    with pytest.raises(BeamIOError):
        fsio.file_stat("s3://b/k")


def test_file_uris_are_local_paths(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    uri = f"file://{tmp_path / 'f'}"
    assert fsio.file_stat(uri)[0] == 1
    with fsio.open_read(uri) as f:
        assert f.read() == b"x"
