"""Hostile and broken files: every one ends in exit 0, 1 or 2 with a clear message, never a
traceback, a hang, a crash or a read outside the model's folder (issue 11, acceptance 1).

The corpus (:mod:`tests.hostile`) is built in a temporary folder; each file goes through
``info``, ``info --json``, ``check --json`` and ``render`` in sandboxed children
(:mod:`tests.sandbox`: a timeout per command, a memory cap, an audit hook tracing opens). The
default suite runs a spread of every category; ``-m slow`` runs the whole corpus, with every
byte of truncation and a 1M-node chain.

Oracles: where ``onnx.checker.check_model(full_check=True)`` or an ONNX Runtime session refuses
a file, ``check`` must exit 1 with an error finding (or 2, refusing a file it cannot read).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from inspector.cli import main as cli_main
from tests.hostile import CATEGORIES, Case, build_corpus, iter_sample
from tests.hostile.verdicts import (
    COMMANDS,
    cli_jobs,
    error_findings,
    fingerprint,
    oracle_jobs,
    problems,
)
from tests.sandbox import REPO, run_jobs

SAMPLE_PER_CATEGORY = 6
MEMORY_CAP = 3 << 30  # bytes of address space per child


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Case]]:
    root = tmp_path_factory.mktemp("hostile")
    return root, build_corpus(root / "cases")


def _run_corpus(root: Path, cases: list[Case], timeout: float = 120.0) -> dict[str, list[str]]:
    """Problems per case name (only cases that have some)."""
    before = {c.name: fingerprint(c.path) for c in cases}
    outcomes = run_jobs(cli_jobs(cases, root, timeout), memory_bytes=MEMORY_CAP, workdir=root)
    n = len(COMMANDS)
    found = {}
    for i, case in enumerate(cases):
        p = problems(case, outcomes[i * n : (i + 1) * n], before[case.name], root)
        if p:
            found[case.name] = p
    return found


def _unflagged_rejections(root: Path, cases: list[Case]) -> dict[str, str]:
    """Cases onnx's checker or ONNX Runtime refuses but ``check`` passes: name → why refused."""
    regular = [c for c in cases if c.regular]
    verdicts = run_jobs(oracle_jobs(regular), memory_bytes=MEMORY_CAP, workdir=root)
    checks = run_jobs(
        [j for j in cli_jobs(regular, root) if j.argv[0] == "check"],
        memory_bytes=MEMORY_CAP,
        workdir=root,
    )
    missed = {}
    for i, case in enumerate(regular):
        checker, ort = verdicts[2 * i], verdicts[2 * i + 1]
        refusals = [o.stderr.strip()[:200] for o in (checker, ort) if o.exit_code == 1]
        refusals += [f"ONNX Runtime {o.status}" for o in (ort,) if o.status == "crash"]
        check = checks[i]
        if refusals and check.exit_code != 2 and not error_findings(check):
            missed[case.name] = " | ".join(refusals)
    return missed


def test_corpus_covers_every_category(corpus):
    _, cases = corpus
    counts = Counter(c.category for c in cases)
    assert set(counts) == set(CATEGORIES)
    assert len(cases) >= 150
    assert all(counts[c] >= 2 for c in CATEGORIES), counts
    assert len({c.name for c in cases}) == len(cases)


def test_a_spread_of_the_corpus_gets_clear_outcomes(corpus):
    root, cases = corpus
    sample = list(iter_sample(cases, SAMPLE_PER_CATEGORY))
    assert len(sample) >= 50
    found = _run_corpus(root, sample)
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())


@pytest.mark.slow
def test_the_whole_corpus_gets_clear_outcomes(tmp_path):
    cases = build_corpus(tmp_path / "cases", slow=True)
    found = _run_corpus(tmp_path, cases, timeout=900.0)
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_files_onnx_or_onnxruntime_refuse_get_an_error(corpus):
    pytest.importorskip("inspector.core.checks.structure", reason="the structure check family")
    root, cases = corpus
    missed = _unflagged_rejections(root, list(iter_sample(cases, SAMPLE_PER_CATEGORY)))
    assert not missed, "\n".join(f"{k}: {v}" for k, v in missed.items())


@pytest.mark.slow
def test_every_file_onnx_or_onnxruntime_refuses_gets_an_error(corpus):
    pytest.importorskip("inspector.core.checks.structure", reason="the structure check family")
    root, cases = corpus
    missed = _unflagged_rejections(root, cases)
    assert not missed, "\n".join(f"{k}: {v}" for k, v in missed.items())


def test_python_m_inspector_refuses_pipes_and_devices_at_once(tmp_path):
    """The exact commands a user types, each in its own process (a FIFO used to hang them until
    killed); run side by side, since each pays the imports."""
    fifo, zero = tmp_path / "fifo.onnx", tmp_path / "zero.onnx"
    os.mkfifo(fifo)
    zero.symlink_to("/dev/zero")
    runs = [("check", fifo, "named pipe (FIFO)"), ("run", zero, "character device")]

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "inspector", command, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=cap,
            cwd=REPO,
        )
        for command, path, _ in runs
    ]
    for proc, (command, _path, kind) in zip(procs, runs, strict=True):
        try:
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode == 2, (command, err)
        assert out == ""
        (line,) = err.strip().splitlines()
        assert f"this is a {kind}, not a model file" in line


def test_our_own_bug_is_one_line_exit_2_and_debuggable(tmp_path, capsys, monkeypatch):
    """The last net in the CLI: an exception from our code is named as ours, with the way to see
    its traceback; ONNX_INSPECTOR_DEBUG=1 lets it through."""
    import onnx

    import inspector.core.summary as summary
    from tests.bad_models import small_model

    path = tmp_path / "m.onnx"
    onnx.save(small_model(), path)

    def broken(model: object) -> dict:
        raise KeyError("a bug")

    monkeypatch.setattr(summary, "model_summary", broken)
    monkeypatch.delenv("ONNX_INSPECTOR_DEBUG", raising=False)
    assert cli_main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "bug in ONNX Inspector" in err and "ONNX_INSPECTOR_DEBUG=1" in err
    monkeypatch.setenv("ONNX_INSPECTOR_DEBUG", "1")
    with pytest.raises(KeyError):
        cli_main(["info", str(path)])
