"""The in-process lakeFS test server and the real lakeFS answer the same REST calls alike.

One script of raw API calls (the ones ``registry.lakefs_store`` makes, and their edge cases:
bad names, missing refs, empty commits, merges that fast-forward, conflict or find a dirty
branch, pagination bounds, tags and branches of one name) runs against each server; status
codes and bodies must be equal once what cannot be (ids, times, storage addresses, hook run
ids) is masked. Where they differed, the test server was changed: real lakeFS is right.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.registry.lakefs_server import LakeFSTestServer
from tests.registry.real_lakefs import LakeFSProcess

REPO = "agree"
_ID = re.compile(r"^[0-9a-f]{64}$")
_RUN_ID = re.compile(r"run id '[^']*'")


class _Api:
    def __init__(self, endpoint: str, key: str, secret: str, namespace: str) -> None:
        self.base = f"{endpoint}/api/v1"
        self.auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.namespace = namespace  # storage namespace root, masked in answers
        self.answers: list[tuple[str, int, Any]] = []

    def __call__(self, label: str, method: str, path: str, body: Any = None, *,
                 data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(f"{self.base}{path}", method=method)
        request.add_header("Authorization", self.auth)
        if body is not None:
            data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        elif data is not None:
            request.add_header("Content-Type", "application/octet-stream")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, data=data, timeout=60) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = raw.decode(errors="replace").strip()
        self.answers.append((label, status, self._mask(answer)))
        return answer

    def _mask(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: "<address>" if k == "physical_address" else self._mask(v)
                    for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [self._mask(v) for v in value]
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value > 1_600_000_000:
            return "<time>"
        if isinstance(value, str):
            if _ID.match(value):
                return "<id>"
            value = _RUN_ID.sub("run id '<run>'", value.replace(self.namespace, "<ns>"))
            return value.split("\nSchema:")[0]  # lakeFS appends the spec's schema
        return value


def _script(api: _Api) -> None:
    ns = f"{api.namespace}/{REPO}"
    api("create repository", "POST", "/repositories",
        {"name": REPO, "storage_namespace": ns, "default_branch": "main"})
    api("create it again", "POST", "/repositories",
        {"name": REPO, "storage_namespace": f"{ns}-2", "default_branch": "main"})
    api("a name lakeFS refuses", "POST", "/repositories",
        {"name": "Bad_Name", "storage_namespace": f"{ns}-3", "default_branch": "main"})
    api("unknown repository", "GET", "/repositories/no-such-repo")
    api("invalid repository name", "GET", "/repositories/Bad_Name")
    api("branches of an unknown repository", "GET", "/repositories/no-such-repo/branches")
    api("first commit", "GET", f"/repositories/{REPO}/commits/main")
    api("create branch", "POST", f"/repositories/{REPO}/branches", {"name": "b1", "source": "main"})
    api("create it again", "POST", f"/repositories/{REPO}/branches",
        {"name": "b1", "source": "main"})
    api("from an unknown ref", "POST", f"/repositories/{REPO}/branches",
        {"name": "b2", "source": "nope"})
    api("an invalid branch name", "POST", f"/repositories/{REPO}/branches",
        {"name": "bad name", "source": "main"})
    for i in range(3):
        api(f"upload f{i}", "POST", f"/repositories/{REPO}/branches/b1/objects?path=f{i}",
            data=bytes([i]) * (i + 1), headers={"X-Lakefs-Meta-Sha256": f"s{i}"} if i else None)
    api("upload to an unknown branch", "POST", f"/repositories/{REPO}/branches/nob/objects?path=a",
        data=b"a")
    api("upload with an empty path", "POST", f"/repositories/{REPO}/branches/b1/objects?path=",
        data=b"a")
    api("upload if none match", "POST", f"/repositories/{REPO}/branches/b1/objects?path=f1",
        data=b"x", headers={"If-None-Match": "*"})
    api("stat", "GET", f"/repositories/{REPO}/refs/b1/objects/stat?path=f1")
    api("stat without user metadata", "GET",
        f"/repositories/{REPO}/refs/b1/objects/stat?path=f1&user_metadata=false")
    api("stat an object without metadata", "GET", f"/repositories/{REPO}/refs/b1/objects/stat?path=f0")
    api("stat a missing object", "GET", f"/repositories/{REPO}/refs/b1/objects/stat?path=zz")
    api("list a page", "GET", f"/repositories/{REPO}/refs/b1/objects/ls?amount=2")
    api("list after", "GET", f"/repositories/{REPO}/refs/b1/objects/ls?amount=2&after=f1")
    api("list a prefix", "GET", f"/repositories/{REPO}/refs/b1/objects/ls?prefix=f2")
    for amount in ("0", "-1", "1000", "1001", "-2"):
        api(f"list amount {amount}", "GET",
            f"/repositories/{REPO}/refs/b1/objects/ls?amount={amount}")
    api("ranged read", "GET", f"/repositories/{REPO}/refs/b1/objects?path=f2",
        headers={"Range": "bytes=1-1"})
    api("unsatisfiable range", "GET", f"/repositories/{REPO}/refs/b1/objects?path=f2",
        headers={"Range": "bytes=10-20"})
    api("commit", "POST", f"/repositories/{REPO}/branches/b1/commits",
        {"message": "c1", "metadata": {"k": "v"}})
    api("commit nothing", "POST", f"/repositories/{REPO}/branches/b1/commits", {"message": "c2"})
    api("commit without a message", "POST", f"/repositories/{REPO}/branches/b1/commits", {})
    api("commit to an unknown branch", "POST", f"/repositories/{REPO}/branches/nob/commits",
        {"message": "m"})
    api("merge, main did not move", "POST", f"/repositories/{REPO}/refs/b1/merge/main",
        {"message": "merge b1", "metadata": {"m": "1"}})
    api("the merge commit", "GET", f"/repositories/{REPO}/commits/main")
    api("merge again: nothing to do", "POST", f"/repositories/{REPO}/refs/b1/merge/main",
        {"message": "again"})
    api("merge from an unknown ref", "POST", f"/repositories/{REPO}/refs/nob/merge/main",
        {"message": "m"})
    for side in ("x", "y"):
        api(f"branch {side}", "POST", f"/repositories/{REPO}/branches", {"name": side, "source": "main"})
        api(f"change f0 on {side}", "POST", f"/repositories/{REPO}/branches/{side}/objects?path=f0",
            data=side.encode())
        api(f"commit {side}", "POST", f"/repositories/{REPO}/branches/{side}/commits", {"message": side})
    api("merge x", "POST", f"/repositories/{REPO}/refs/x/merge/main", {"message": "merge x"})
    api("merge y: a conflict", "POST", f"/repositories/{REPO}/refs/y/merge/main", {"message": "y"})
    api("stage on x", "POST", f"/repositories/{REPO}/branches/x/objects?path=dirty", data=b"d")
    api("merge into a dirty branch", "POST", f"/repositories/{REPO}/refs/main/merge/x",
        {"message": "m"})
    log = api("log, a page", "GET", f"/repositories/{REPO}/refs/main/commits?amount=2")
    after = log["pagination"]["next_offset"] if isinstance(log, dict) else ""
    api("log, the next page", "GET", f"/repositories/{REPO}/refs/main/commits?amount=2&after={after}")
    api("log, first parents", "GET", f"/repositories/{REPO}/refs/main/commits?first_parent=true")
    api("log after no commit", "GET", f"/repositories/{REPO}/refs/main/commits?after=zzz")
    api("log amount 1001", "GET", f"/repositories/{REPO}/refs/main/commits?amount=1001")
    api("diff, two dot", "GET", f"/repositories/{REPO}/refs/b1/diff/main?type=two_dot&amount=1")
    api("diff to an unknown ref", "GET", f"/repositories/{REPO}/refs/main/diff/nob?type=two_dot")
    api("tag", "POST", f"/repositories/{REPO}/tags", {"id": "v1", "ref": "main"})
    api("tag it again", "POST", f"/repositories/{REPO}/tags", {"id": "v1", "ref": "b1"})
    api("tag an unknown ref", "POST", f"/repositories/{REPO}/tags", {"id": "v2", "ref": "nope"})
    api("an invalid tag", "POST", f"/repositories/{REPO}/tags", {"id": "v..1", "ref": "main"})
    api("a tag with a branch's name", "POST", f"/repositories/{REPO}/tags", {"id": "b1", "ref": "main"})
    api("a branch with a tag's name", "POST", f"/repositories/{REPO}/branches",
        {"name": "v1", "source": "main"})
    api("list tags", "GET", f"/repositories/{REPO}/tags")
    api("list branches", "GET", f"/repositories/{REPO}/branches?amount=2")
    api("delete a missing object", "DELETE", f"/repositories/{REPO}/branches/b1/objects?path=zz")
    api("delete an object", "DELETE", f"/repositories/{REPO}/branches/b1/objects?path=f0")
    api("delete the default branch", "DELETE", f"/repositories/{REPO}/branches/main")
    api("delete a branch", "DELETE", f"/repositories/{REPO}/branches/b1")
    api("delete it again", "DELETE", f"/repositories/{REPO}/branches/b1")
    api("an unknown commit", "GET", f"/repositories/{REPO}/commits/{'0' * 64}")


@pytest.fixture(scope="module")
def answers(real_lakefs: LakeFSProcess, lakefs_server: LakeFSTestServer) -> dict[str, list]:
    out = {}
    for name, server in (("test server", lakefs_server), ("real lakeFS", real_lakefs)):
        api = _Api(server.endpoint_url, server.access_key_id, server.secret_access_key,
                   server.storage_namespace_root)
        _script(api)
        out[name] = api.answers
    return out


def test_both_servers_answer_every_call_alike(answers: dict[str, list]) -> None:
    fake, real = answers["test server"], answers["real lakeFS"]
    assert len(fake) == len(real)
    differ = [f"{label}: test server {s1} {b1!r}\n    real lakeFS {s2} {b2!r}"
              for (label, s1, b1), (_, s2, b2) in zip(fake, real) if (s1, b1) != (s2, b2)]
    assert not differ, "\n".join(differ)
