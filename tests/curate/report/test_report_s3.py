"""The report of a build that lives in a bucket is read from it and written into it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from apache_beam.io.filesystems import FileSystems

from curate.cli import main
from tests.s3_server import LocalS3, local_s3, upload_tree

pytest.importorskip("moto.server")

BUCKET = "reports"


@pytest.fixture(scope="module")
def s3() -> Iterator[LocalS3]:
    with local_s3() as server:
        server.client.create_bucket(Bucket=BUCKET)
        yield server


def test_a_build_in_a_bucket_gets_its_report_beside_it(s3, fixture_build, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
    saved = FileSystems._pipeline_options
    FileSystems.set_options(None)  # as in a fresh process
    try:
        upload_tree(s3, fixture_build.root, BUCKET, "builds/b1")
        assert main(["report", f"s3://{BUCKET}/builds/b1"]) == 0
    finally:
        FileSystems.set_options(saved)
    assert capsys.readouterr().out.startswith(f"report    s3://{BUCKET}/builds/b1/report.html (")
    page = s3.get(BUCKET, "builds/b1/report.html").decode()
    keys = re.findall(r'<audio [^>]*data-key="([^"]+)"', page)
    assert len([k for k in keys if not k.startswith("bad-")]) == 6  # read from the bucket's shards
    assert 'href="CARD.md"' in page
