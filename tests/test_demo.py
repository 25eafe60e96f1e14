"""The quickstart's main job, as a user runs it: build -> validate -> register -> open."""

from __future__ import annotations

import os
import re

from curate.cli import main


def test_demo_builds_registers_and_opens(demo_run, capsys):
    # what `make demo` runs, without TensorFlow: once for the session (tests/conftest.py)
    root, proc = demo_run.root, demo_run.proc
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    read = re.search(r"read (\d+), accepted (\d+), rejected (\d+)", out)
    assert read and int(read[2]) + int(read[3]) == int(read[1])
    assert re.search(r"suite +asr_default: (\d+) of \1 expectations passed", out)
    assert re.search(r"verdict +PASSED", out)
    assert os.path.exists(os.path.join(root, "build", "validation", "docs", "index.html"))
    assert re.search(r"registered sample-librispeech@v1 -> commit [0-9a-f]{12}", out)
    assert "registering the same build again gives sample-librispeech@v1" in out
    assert re.search(r"a batch of \w+ has audio \(4, \d+\)", out)
    assert os.path.exists(os.path.join(root, "build", "dataset_info.json"))
    assert "building on sample-librispeech@v1" in out
    v2 = re.search(r"registered sample-librispeech@v2 -> commit [0-9a-f]{12} \(\d+ examples\): "
                   r"([\d.]+) MB new, ([\d.]+) MB reused from sample-librispeech@v1", out)
    assert v2 and float(v2[1]) < float(v2[2]) / 4, out[-2000:]  # v2 stores about its new data
    assert "Traceback" not in proc.stderr
    report = os.path.join(root, "build", "report.html")  # named at the end, with the verdict
    assert out.rstrip().splitlines()[-1] == f"the build's report, to look at and listen to: {report}"
    with open(report, encoding="utf-8") as f:
        assert "<b class=ok>passed</b>" in f.read()

    # The rest in this process (the command itself ran above, as a user runs it).
    assert main(["demo", "--dir", root]) == 2
    err = capsys.readouterr().err
    assert "use --overwrite" in err and len(err.strip().splitlines()) == 1
    assert main(["versions", "sample-librispeech", "--registry", f"file://{root}/registry"]) == 0
    assert "v1" in capsys.readouterr().out
