"""The test server's fidelity to lakeFS's OpenAPI spec (api/swagger.yml) and server behaviour.

Raw HTTP, no SDK in the way; response bodies are parsed with lakefs_sdk's models, which are
generated from the spec, so a missing required field or a wrong type fails here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import lakefs_sdk
import pytest
import urllib3

from tests.registry.lakefs_server import LakeFSTestServer, lakefs_test_server


class Client:
    def __init__(self, server: LakeFSTestServer, secret: str | None = None) -> None:
        token = f"{server.access_key_id}:{secret or server.secret_access_key}".encode()
        self.auth = {"Authorization": "Basic " + base64.b64encode(token).decode()}
        self.base = server.endpoint_url + "/api/v1"
        self.http = urllib3.PoolManager()

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> urllib3.BaseHTTPResponse:
        all_headers = {**self.auth, **(headers or {})}
        data = raw
        if body is not None:
            data, all_headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        url = self.base + path
        if fields:
            url += "?" + urlencode(fields)
        return self.http.request(method, url, body=data, headers=all_headers, retries=False)


@pytest.fixture(scope="module")
def server() -> Iterator[LakeFSTestServer]:
    with lakefs_test_server() as srv:
        yield srv


@pytest.fixture(scope="module")
def api(server: LakeFSTestServer) -> Client:
    return Client(server)


@pytest.fixture
def repo(api: Client) -> str:
    name = f"spec-{uuid.uuid4().hex[:12]}"
    response = api(
        "POST", "/repositories", {"name": name, "storage_namespace": f"local://spec/{name}"}
    )
    assert response.status == 201
    return name


def _error(response: urllib3.BaseHTTPResponse) -> str:
    return lakefs_sdk.Error.from_json(response.data.decode()).message


def _upload(api: Client, repo: str, branch: str, path: str, data: bytes, **meta: str):
    headers = {
        "Content-Type": "application/octet-stream",
        **{f"X-Lakefs-Meta-{k}": v for k, v in meta.items()},
    }
    return api(
        "POST",
        f"/repositories/{repo}/branches/{branch}/objects",
        fields={"path": path},
        headers=headers,
        raw=data,
    )


def _commit(
    api: Client, repo: str, branch: str, message: str = "m", **metadata: str
) -> lakefs_sdk.Commit:
    response = api(
        "POST",
        f"/repositories/{repo}/branches/{branch}/commits",
        {"message": message, "metadata": metadata},
    )
    assert response.status == 201, response.data
    return lakefs_sdk.Commit.from_json(response.data.decode())


def _branch(api: Client, repo: str, name: str, source: str = "main") -> str:
    response = api("POST", f"/repositories/{repo}/branches", {"name": name, "source": source})
    assert response.status == 201, response.data
    return response.data.decode()


# Authentication and routing.


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic !!!"}, {"Authorization": "Bearer x"}]
)
def test_requests_without_valid_basic_auth_get_401(server: LakeFSTestServer, headers: dict) -> None:
    response = urllib3.request("GET", server.endpoint_url + "/api/v1/repositories", headers=headers)
    assert response.status == 401 and _error(response) == "error authenticating request"


def test_wrong_secret_gets_401(server: LakeFSTestServer) -> None:
    assert Client(server, secret="wrong")("GET", "/repositories").status == 401


def test_endpoints_outside_the_implemented_set_say_so(api: Client, repo: str) -> None:
    response = api("GET", f"/repositories/{repo}/actions/runs")
    assert response.status == 501 and "not implemented by the lakeFS test server" in _error(
        response
    )
    for ref in ("main~1", "main@", "main^1"):  # ref expressions
        assert api("GET", f"/repositories/{repo}/commits/{ref}").status == 501
    merge = api("POST", f"/repositories/{repo}/refs/main/merge/main", {"strategy": "dest-wins"})
    assert merge.status == 501


# Repositories.


def test_repository_create_get_list_shapes_and_codes(api: Client, repo: str) -> None:
    got = lakefs_sdk.Repository.from_json(api("GET", f"/repositories/{repo}").data.decode())
    assert (got.id, got.default_branch, got.storage_namespace) == (
        repo,
        "main",
        f"local://spec/{repo}",
    )
    listing = lakefs_sdk.RepositoryList.from_json(
        api("GET", "/repositories", fields={"prefix": repo}).data.decode()
    )
    assert [r.id for r in listing.results] == [repo]
    duplicate = api(
        "POST", "/repositories", {"name": repo, "storage_namespace": "local://spec/other"}
    )
    assert duplicate.status == 409 and "not unique" in _error(duplicate)
    reused = api(
        "POST", "/repositories", {"name": repo + "-2", "storage_namespace": f"local://spec/{repo}"}
    )
    assert reused.status == 400 and "storage namespace already in use" in _error(reused)
    assert api("GET", "/repositories/no-such-repo").status == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Upper_Case", "storage_namespace": "local://x"},
        {"name": "ab", "storage_namespace": "local://x"},
        {"name": "fine-name", "storage_namespace": "ftp://x"},
        {"name": "fine-name"},
    ],
)
def test_invalid_repository_creation_is_400(api: Client, body: dict) -> None:
    response = api("POST", "/repositories", body)
    assert response.status == 400 and _error(response)


# Pagination (Pagination schema; paginationAmount in lakeFS's controller).


def test_pagination_after_amount_has_more_next_offset(api: Client, repo: str) -> None:
    for i in range(5):
        _branch(api, repo, f"b{i}")
    page = lakefs_sdk.RefList.from_json(
        api("GET", f"/repositories/{repo}/branches", fields={"amount": 2}).data.decode()
    )
    assert [r.id for r in page.results] == ["b0", "b1"]
    assert page.pagination.to_dict() == {
        "has_more": True,
        "next_offset": "b1",
        "results": 2,
        "max_per_page": 1000,
    }
    last = lakefs_sdk.RefList.from_json(
        api(
            "GET", f"/repositories/{repo}/branches", fields={"after": "b3", "amount": 2}
        ).data.decode()
    )
    assert [r.id for r in last.results] == ["b4", "main"]
    assert (last.pagination.has_more, last.pagination.next_offset) == (False, "")


def test_amount_defaults_to_100_and_above_1000_is_refused(
    api: Client, repo: str, server: LakeFSTestServer
) -> None:
    """Regression: amounts above 1000 were capped; lakeFS 1.86 refuses them (400, the spec's
    ``PaginationAmount`` is -1 to 1000)."""
    for i in range(1001):
        server.model.put_object(
            repo, "main", f"o{i:04d}", b"", content_type="x", metadata={}, if_none_match=None
        )
    for amount, expected in ((None, 100), (0, 100), (-1, 100), (1000, 1000)):
        fields = {} if amount is None else {"amount": amount}
        listing = lakefs_sdk.ObjectStatsList.from_json(
            api("GET", f"/repositories/{repo}/refs/main/objects/ls", fields=fields).data.decode()
        )
        assert len(listing.results) == expected and listing.pagination.has_more
    for amount, bound in ((1001, "at most 1000"), (-2, "at least -1")):
        response = api("GET", f"/repositories/{repo}/refs/main/objects/ls", fields={"amount": amount})
        assert response.status == 400 and bound in json.loads(response.data)["message"]


# Objects: upload as the SDK sends it, staging, ranged reads.


def test_upload_octet_stream_with_user_metadata_headers(api: Client, repo: str) -> None:
    response = _upload(api, repo, "main", "a/b.bin", b"hello", Sha256="abc", Other="x")
    assert response.status == 201
    stats = lakefs_sdk.ObjectStats.from_json(response.data.decode())
    assert (stats.path, stats.path_type, stats.size_bytes) == ("a/b.bin", "object", 5)
    assert stats.checksum == hashlib.md5(b"hello").hexdigest()
    assert stats.metadata == {"sha256": "abc", "other": "x"}  # lakeFS lower-cases the names
    assert stats.content_type == "application/octet-stream"
    stat = lakefs_sdk.ObjectStats.from_json(
        api(
            "GET", f"/repositories/{repo}/refs/main/objects/stat", fields={"path": "a/b.bin"}
        ).data.decode()
    )
    assert stat == stats


def test_chunked_upload_body_is_decoded(api: Client, repo: str) -> None:
    response = api(
        "POST",
        f"/repositories/{repo}/branches/main/objects",
        fields={"path": "c"},
        headers={"Content-Type": "application/octet-stream"},
        raw=iter([b"abc", b"", b"defg"]),
    )  # an iterable body goes out chunked
    assert response.status == 201
    assert (
        api("GET", f"/repositories/{repo}/refs/main/objects", fields={"path": "c"}).data
        == b"abcdefg"
    )


def test_if_none_match_star_refuses_an_existing_path_with_412(api: Client, repo: str) -> None:
    assert _upload(api, repo, "main", "once", b"1").status == 201
    response = api(
        "POST",
        f"/repositories/{repo}/branches/main/objects",
        fields={"path": "once"},
        headers={"If-None-Match": "*", "Content-Type": "application/octet-stream"},
        raw=b"2",
    )
    assert response.status == 412 and _error(response) == "path already exists"


def test_upload_to_missing_branch_is_404_and_multipart_is_not_implemented(
    api: Client, repo: str
) -> None:
    assert _upload(api, repo, "nope", "x", b"x").status == 404
    multipart = api(
        "POST",
        f"/repositories/{repo}/branches/main/objects",
        fields={"path": "x"},
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        raw=b"--b--",
    )
    assert multipart.status == 501


def test_ranged_reads(api: Client, repo: str) -> None:
    _upload(api, repo, "main", "r", b"0123456789")
    _upload(api, repo, "main", "empty", b"")

    def get(path: str, rng: str | None = None) -> urllib3.BaseHTTPResponse:
        return api(
            "GET",
            f"/repositories/{repo}/refs/main/objects",
            fields={"path": path},
            headers={"Range": rng} if rng else None,
        )

    full = get("r")
    assert (full.status, full.data, full.headers["Content-Length"]) == (200, b"0123456789", "10")
    assert full.headers["ETag"] == f'"{hashlib.md5(b"0123456789").hexdigest()}"'
    part = get("r", "bytes=2-4")
    assert (part.status, part.data, part.headers["Content-Range"]) == (206, b"234", "bytes 2-4/10")
    clamped = get("r", "bytes=8-100")
    assert (clamped.status, clamped.data, clamped.headers["Content-Range"]) == (
        206,
        b"89",
        "bytes 8-9/10",
    )
    assert get("r", "bytes=-3").data == b"789"
    for path, rng, size in (("r", "bytes=10-", 10), ("empty", "bytes=0-99", 0)):
        beyond = get(path, rng)
        assert (beyond.status, beyond.headers["Content-Range"]) == (416, f"bytes */{size}")
    assert get("missing").status == 404


def test_staging_is_visible_on_the_branch_only_and_deletes_are_tombstones(
    api: Client, repo: str
) -> None:
    _upload(api, repo, "main", "committed", b"c")
    first = _commit(api, repo, "main")
    _upload(api, repo, "main", "staged", b"s")
    assert (
        api(
            "DELETE", f"/repositories/{repo}/branches/main/objects", fields={"path": "committed"}
        ).status
        == 204
    )
    assert (
        api(
            "DELETE", f"/repositories/{repo}/branches/main/objects", fields={"path": "never"}
        ).status
        == 204
    )

    def paths(ref: str) -> list[str]:
        listing = api("GET", f"/repositories/{repo}/refs/{ref}/objects/ls").data.decode()
        return [o.path for o in lakefs_sdk.ObjectStatsList.from_json(listing).results]

    assert paths("main") == ["staged"]
    assert paths(first.id) == ["committed"]
    diff = lakefs_sdk.DiffList.from_json(
        api(
            "GET", f"/repositories/{repo}/refs/{first.id}/diff/main", fields={"type": "two_dot"}
        ).data.decode()
    )
    assert diff.results == []  # refs diff compares commits: a branch's staging is not in it


# Commits and the log.


def test_commit_shape_and_no_changes(api: Client, repo: str) -> None:
    nothing = api("POST", f"/repositories/{repo}/branches/main/commits", {"message": "empty"})
    assert nothing.status == 400 and "no changes" in _error(nothing)
    head = lakefs_sdk.Commit.from_json(
        api("GET", f"/repositories/{repo}/commits/main").data.decode()
    )
    assert (head.message, head.parents, head.committer) == ("Repository created", [], "")
    _upload(api, repo, "main", "a", b"a", Sha256="1")
    commit = _commit(api, repo, "main", "add a", fingerprint="f1")
    assert commit.parents == [head.id] and commit.metadata == {"fingerprint": "f1"}
    assert commit.generation == 2 and len(commit.id) == 64 and commit.committer
    _upload(api, repo, "main", "a", b"a", Sha256="1")  # identical content: nothing changes
    same = api("POST", f"/repositories/{repo}/branches/main/commits", {"message": "same"})
    assert same.status == 400 and "no changes" in _error(same)


def test_refs_resolve_commit_then_branch_then_tag_then_prefix(api: Client, repo: str) -> None:
    _upload(api, repo, "main", "a", b"a")
    commit = _commit(api, repo, "main")
    tag = api("POST", f"/repositories/{repo}/tags", {"id": "shared", "ref": commit.parents[0]})
    assert (
        tag.status == 201
        and lakefs_sdk.Ref.from_json(tag.data.decode()).commit_id == commit.parents[0]
    )
    # Regression: a branch could take a tag's name (and a tag a branch's); lakeFS 1.86 refuses.
    clash = api("POST", f"/repositories/{repo}/branches", {"name": "shared", "source": "main"})
    assert clash.status == 409 and _error(clash) == "tag ID shared: conflict found"
    clash = api("POST", f"/repositories/{repo}/tags", {"id": "main", "ref": "main"})
    assert clash.status == 409 and _error(clash) == "branch name main: conflict found"
    for ref, expected in (("shared", commit.parents[0]), (commit.id[:7], commit.id),
                          ("main", commit.id)):
        assert json.loads(api("GET", f"/repositories/{repo}/commits/{ref}").data)["id"] == expected
    missing = api("GET", f"/repositories/{repo}/commits/v9")
    assert missing.status == 404 and _error(missing) == "commit not found"
    assert api("POST", f"/repositories/{repo}/tags", {"id": "shared", "ref": "main"}).status == 409
    assert (
        api("POST", f"/repositories/{repo}/tags", {"id": "bad..tag", "ref": "main"}).status == 400
    )


def test_log_order_pagination_and_first_parent(api: Client, repo: str) -> None:
    _branch(api, repo, "side")
    _upload(api, repo, "side", "s", b"s")
    side = _commit(api, repo, "side", "side")
    _upload(api, repo, "main", "m", b"m")
    main = _commit(api, repo, "main", "main")
    merged = json.loads(
        api("POST", f"/repositories/{repo}/refs/side/merge/main", {"message": "merge"}).data
    )
    log = lambda **f: lakefs_sdk.CommitList.from_json(  # noqa: E731
        api("GET", f"/repositories/{repo}/refs/main/commits", fields=f).data.decode()
    )
    assert [c.message for c in log(first_parent="true").results] == [
        "merge",
        "main",
        "Repository created",
    ]
    everything = log()
    assert everything.results[0].id == merged["reference"] and len(everything.results) == 4
    assert {c.id for c in everything.results} >= {side.id, main.id}
    page = log(amount=2)
    assert page.pagination.has_more and page.pagination.next_offset == page.results[1].id
    rest = log(amount=2, after=page.pagination.next_offset)
    assert [c.id for c in page.results + rest.results] == [c.id for c in everything.results]


# Merges.


def test_merge_always_creates_a_two_parent_commit(api: Client, repo: str) -> None:
    _branch(api, repo, "build")
    _upload(api, repo, "build", "a", b"a")
    source = _commit(api, repo, "build")
    base = json.loads(api("GET", f"/repositories/{repo}/commits/main").data)["id"]
    response = api(
        "POST",
        f"/repositories/{repo}/refs/build/merge/main",
        {"message": "m", "metadata": {"k": "v"}},
    )
    assert response.status == 200
    merged = lakefs_sdk.MergeResult.from_json(response.data.decode()).reference
    commit = lakefs_sdk.Commit.from_json(
        api("GET", f"/repositories/{repo}/commits/{merged}").data.decode()
    )
    assert commit.parents == [base, source.id]  # lakeFS does not fast-forward
    assert commit.metadata == {"k": "v", ".lakefs.merge.strategy": "default"}
    again = api("POST", f"/repositories/{repo}/refs/build/merge/main", {})
    assert again.status == 400 and "no changes" in _error(again)


def test_three_way_merge_and_conflicts(api: Client, repo: str) -> None:
    _upload(api, repo, "main", "f", b"base")
    _commit(api, repo, "main")
    for name, content in (("a", b"from a"), ("b", b"from b")):
        _branch(api, repo, name)
        _upload(api, repo, name, "f", content)
        _upload(api, repo, name, f"only-{name}", content)
        _commit(api, repo, name)
    assert api("POST", f"/repositories/{repo}/refs/a/merge/main", {}).status == 200
    conflict = api("POST", f"/repositories/{repo}/refs/b/merge/main", {})
    assert conflict.status == 409 and json.loads(conflict.data) == {
        "reference": ""
    }  # a MergeResult
    _upload(api, repo, "b", "f", b"from a")  # both sides now agree on f: no conflict
    _commit(api, repo, "b")
    assert api("POST", f"/repositories/{repo}/refs/b/merge/main", {}).status == 200

    def read(path: str) -> bytes:
        return api("GET", f"/repositories/{repo}/refs/main/objects", fields={"path": path}).data

    assert (read("f"), read("only-a"), read("only-b")) == (b"from a", b"from a", b"from b")


def test_merge_into_a_dirty_branch_is_400(api: Client, repo: str) -> None:
    _branch(api, repo, "build")
    _upload(api, repo, "build", "a", b"a")
    _commit(api, repo, "build")
    _upload(api, repo, "main", "uncommitted", b"u")
    response = api("POST", f"/repositories/{repo}/refs/build/merge/main", {})
    assert response.status == 400 and "dirty branch" in _error(response)


def test_failing_pre_merge_hook_is_412_and_leaves_the_branch(
    api: Client, repo: str, server: LakeFSTestServer
) -> None:
    _branch(api, repo, "build")
    _upload(api, repo, "build", "a", b"a")
    _commit(api, repo, "build")
    server.fail_pre_merge(repo, "drift too large", branch="main")
    try:
        before = json.loads(api("GET", f"/repositories/{repo}/commits/main").data)["id"]
        response = api("POST", f"/repositories/{repo}/refs/build/merge/main", {})
        assert response.status == 412
        assert "pre-merge hook aborted" in _error(response) and "drift too large" in _error(
            response
        )
        assert json.loads(api("GET", f"/repositories/{repo}/commits/main").data)["id"] == before
        _branch(api, repo, "other")  # the hook is on main only
        assert api("POST", f"/repositories/{repo}/refs/build/merge/other", {}).status == 200
    finally:
        server.clear_hooks()


# Branches and diffs.


def test_branch_create_delete_codes(api: Client, repo: str) -> None:
    created = api("POST", f"/repositories/{repo}/branches", {"name": "x", "source": "main"})
    head = json.loads(api("GET", f"/repositories/{repo}/commits/main").data)["id"]
    assert (
        created.status == 201 and created.data.decode() == head
    )  # the body is the commit id, as text
    assert (
        api("POST", f"/repositories/{repo}/branches", {"name": "x", "source": "main"}).status == 409
    )
    assert (
        api("POST", f"/repositories/{repo}/branches", {"name": "y", "source": "nope"}).status == 404
    )
    assert (
        api("POST", f"/repositories/{repo}/branches", {"name": "no/slash", "source": "main"}).status
        == 400
    )
    deleted = api("DELETE", f"/repositories/{repo}/branches/x")
    assert deleted.status == 204 and deleted.data == b""
    assert api("DELETE", f"/repositories/{repo}/branches/x").status == 404
    assert api("DELETE", f"/repositories/{repo}/branches/main").status == 403


def test_diff_two_dot_and_three_dot(api: Client, repo: str) -> None:
    _upload(api, repo, "main", "same", b"1")
    _upload(api, repo, "main", "changes", b"1")
    base = _commit(api, repo, "main")
    _branch(api, repo, "feature")
    _upload(api, repo, "feature", "changes", b"2")
    _upload(api, repo, "feature", "added", b"3")
    _commit(api, repo, "feature")
    _upload(api, repo, "main", "main-only", b"4")
    _commit(api, repo, "main")

    def diff(left: str, right: str, **fields: Any) -> list[tuple[str, str]]:
        listing = lakefs_sdk.DiffList.from_json(
            api(
                "GET", f"/repositories/{repo}/refs/{left}/diff/{right}", fields=fields
            ).data.decode()
        )
        return [(d.path, d.type) for d in listing.results]

    # three_dot (the default): what right changed since the merge base.
    assert diff("main", "feature") == [("added", "added"), ("changes", "changed")]
    assert diff("main", "feature", type="two_dot") == [
        ("added", "added"),
        ("changes", "changed"),
        ("main-only", "removed"),
    ]
    assert diff(base.id, "feature", type="two_dot", amount=1, after="added") == [
        ("changes", "changed")
    ]
