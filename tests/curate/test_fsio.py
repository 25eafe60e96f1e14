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


def test_one_reader_reads_hashes_and_checksums_alike(root, s3):
    """``FileReader`` (one S3 client for many files) answers as ``open_read`` and
    ``sha256_and_size`` do; in a bucket its checksum is the object's ETag, unquoted."""
    write_bytes(f"{root}/x.bin", b"abc")
    reader = fsio.FileReader()
    with reader.open(f"{root}/x.bin") as f:
        assert f.read() == b"abc"
    assert reader.sha256_and_size(f"{root}/x.bin") == fsio.sha256_and_size(f"{root}/x.bin")
    with pytest.raises(FileNotFoundError):
        reader.sha256_and_size(f"{root}/missing.bin")
    if root.startswith("s3://"):
        key = root[len(f"s3://{BUCKET}/"):] + "/x.bin"
        etag = s3.client.head_object(Bucket=BUCKET, Key=key)["ETag"]
        assert reader.checksums([f"{root}/x.bin"]) == [etag.strip('"')]
        with pytest.raises(FileNotFoundError, match="missing.bin"):
            reader.checksums([f"{root}/x.bin", f"{root}/missing.bin"])


def test_one_reader_in_many_threads_reads_each_file_once_and_right(root, caplog):
    """Regression: one Beam S3 client shared by threads made downloads fail and be retried
    (``'NoneType' object has no attribute 'close'``), reading bytes twice."""
    import hashlib
    import logging
    from concurrent.futures import ThreadPoolExecutor

    blobs = {f"{root}/p{i}.bin": bytes([i]) * (300_000 + i) for i in range(16)}
    for path, data in blobs.items():
        write_bytes(path, data)
    reader = fsio.FileReader()
    with caplog.at_level(logging.WARNING), ThreadPoolExecutor(max_workers=8) as pool:
        got = dict(zip(blobs, pool.map(reader.sha256_and_size, blobs)))
    assert got == {p: (hashlib.sha256(d).hexdigest(), len(d)) for p, d in blobs.items()}
    assert not [r for r in caplog.records if "Retry" in r.getMessage()]


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
