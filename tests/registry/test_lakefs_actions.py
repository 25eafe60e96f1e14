"""lakeFS actions for real: the shipped pre-merge action calls ``curate hook serve``, and lakeFS
itself lets a passing build's merge through and refuses a failing one (HTTP 412).

The action file is ``docs/_lakefs_actions/pre-merge-validate.yaml`` with its URL pointed at the
hook, which runs as the command a user runs (``curate hook serve --registry lakefs://``,
configured by the lakectl environment) on loopback, next to the real lakeFS server.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from curate.validation.hook import HOOK_PATH
from registry.api import Registry
from registry.errors import HookFailedError
from registry.store import paginate
from tests.registry.real_lakefs import LakeFSProcess
from tests.validation.build_fixture import FixtureSpec, write_build

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "docs" / "_lakefs_actions" / "pre-merge-validate.yaml"


@contextlib.contextmanager
def _hook(real_lakefs: LakeFSProcess, tmp_path: Path, *, secret: str) -> Iterator[str]:
    """``curate hook serve`` requiring ``secret`` (the real lakeFS sends its own,
    ``real_lakefs.hook_secret``, as the shipped action says)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKECTL_")}
    env.update(real_lakefs.env(), CURATE_HOOK_SECRET=secret)
    log = open(tmp_path / "hook.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "curate.cli", "hook", "serve", "--port", "0",
         "--registry", "lakefs://"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if "listening on http://127.0.0.1:" not in line:
            proc.wait(30)
            pytest.fail(f"curate hook serve did not start: {(tmp_path / 'hook.log').read_text()}")
        url = line.split("listening on ")[1].split()[0]
        assert url.endswith(HOOK_PATH)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stdout:
            proc.stdout.close()
        log.close()


@pytest.fixture
def hook_url(real_lakefs: LakeFSProcess, tmp_path: Path) -> Iterator[str]:
    with _hook(real_lakefs, tmp_path, secret=real_lakefs.hook_secret) as url:
        yield url


def _install_action(store, repo: str, url: str, tmp_path: Path) -> None:
    """Commit the shipped action to main, its URL pointed at ``url``. The text is edited, not
    loaded and dumped: YAML 1.1 loaders read the key ``on`` as ``True``, and lakeFS then finds
    no ``on`` (HTTP 500 on every commit: "'on' is required: invalid action")."""
    text = ACTION.read_text()
    (shipped,) = re.findall(r'^\s*url: "([^"]+)"', text, flags=re.M)
    local = tmp_path / "pre-merge-validate.yaml"
    local.write_text(text.replace(shipped, url))
    sha = hashlib.sha256(local.read_bytes()).hexdigest()
    store.upload_object(repo, "main", "_lakefs_actions/pre-merge-validate.yaml",
                        local_path=str(local), sha256=sha)
    store.commit(repo, "main", message="Install the curate pre-merge validation", metadata={})


def test_lakefs_runs_the_hook_and_refuses_a_failing_merge_with_412(
    real_lakefs: LakeFSProcess, hook_url: str, repo_name: str, tmp_path: Path
) -> None:
    store = real_lakefs.store()
    store.create_repository(repo_name)
    _install_action(store, repo_name, hook_url, tmp_path)
    reg = Registry(store, cache_dir=tmp_path / "cache")

    good = tmp_path / "good"
    write_build(str(good), FixtureSpec())
    v1 = reg.register(good, dataset=repo_name, allow_unvalidated=True)
    assert v1.tag == "v1"

    def clip(split: str, rows: list[dict]) -> None:
        rows[0]["clipping_ratio"] = 0.3

    bad = tmp_path / "bad"
    write_build(str(bad), FixtureSpec(seed=1), mutate=clip)
    with pytest.raises(HookFailedError) as refused:
        reg.register(bad, dataset=repo_name, allow_unvalidated=True)
    message = str(refused.value)
    assert "(lakeFS HTTP 412)" in message and "pre-merge hook aborted" in message, message
    assert ("failed on action 'curate pre-merge validation' hook 'curate_validate': action "
            "failed: webhook request failed (status code: 412)") in message, message
    assert refused.value.__cause__.status_code == 412  # what lakeFS answered the merge
    assert store.get_commit(repo_name, "main").id == v1.commit_id  # nothing merged
    assert [v.tag for v in reg.versions(repo_name)] == ["v1"]

    # lakeFS's own record of the two action runs: one passed, one failed on our hook.
    runs = real_lakefs.api().actions_api.list_repository_runs(repo_name, amount=10).results
    assert sorted(r.status for r in runs) == ["completed", "failed"]
    failed = next(r for r in runs if r.status == "failed")
    hooks = real_lakefs.api().actions_api.list_run_hooks(repo_name, failed.run_id).results
    assert [(h.hook_id, h.status) for h in hooks] == [("curate_validate", "failed")]
    output = real_lakefs.api().actions_api.get_run_hook_output(
        repo_name, failed.run_id, hooks[0].hook_run_id)
    assert b"412" in output and b"examples.clipping_ratio" in output
    assert not [b for b in paginate(lambda a: store.list_branches(repo_name, after=a))
                if b.startswith("build-")]


def test_a_hook_with_another_secret_refuses_lakefs_and_the_merge_fails(
    real_lakefs: LakeFSProcess, repo_name: str, tmp_path: Path
) -> None:
    """The secret for real: lakeFS sends the action's header from its environment; a hook
    expecting another value answers 403 before reading the body, and lakeFS refuses the merge."""
    with _hook(real_lakefs, tmp_path, secret="not-what-lakefs-sends") as url:
        store = real_lakefs.store()
        store.create_repository(repo_name)
        _install_action(store, repo_name, url, tmp_path)
        good = tmp_path / "good"
        write_build(str(good), FixtureSpec())
        reg = Registry(store, cache_dir=tmp_path / "cache")
        with pytest.raises(HookFailedError, match="status code: 403"):
            reg.register(good, dataset=repo_name, allow_unvalidated=True)
    assert reg.versions(repo_name) == []
    runs = real_lakefs.api().actions_api.list_repository_runs(repo_name, amount=10).results
    (run,) = runs
    (hook,) = real_lakefs.api().actions_api.list_run_hooks(repo_name, run.run_id).results
    output = real_lakefs.api().actions_api.get_run_hook_output(repo_name, run.run_id,
                                                               hook.hook_run_id)
    assert b"wrong secret" in output and real_lakefs.hook_secret.encode() not in output
