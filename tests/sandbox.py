"""Run many jobs (CLI commands, or onnx/ONNX Runtime as oracles) in sandboxed child processes.

Starting ``python -m inspector`` once per file and command costs seconds of imports each, so a
child here runs job after job: ``inspector.__main__.main(argv)``, exactly what ``python -m
inspector ARGV`` runs, with its stdout and stderr captured per job. What keeps one job from
hiding another's fault:

- every job has a timeout: past it the child (and anything it started) is killed, the job is
  recorded as a hang, and a fresh child takes the next job;
- a child that dies (a crash signal, or the memory cap) is recorded against its job and replaced;
- the memory cap is ``RLIMIT_AS``, set in ``preexec_fn`` (the parent runs no threads);
- an audit hook (``sys.addaudithook``) records every file the job opens from Python (``open``,
  ``io.open``, ``os.open``) that lies outside the folders the job may read: the model's folder,
  the output folder, and Python's own installation and this checkout.

Known limitation: opens made by C++ code (onnx's checker given a path, ONNX Runtime, Qt) are not
seen by the audit hook; the Inspector hands them in-memory models, never a path from the model.

Run as ``python -m tests.sandbox RESULT_FD``: reads one JSON job per line on stdin, writes one
JSON result per line to RESULT_FD (stdout and stderr stay free for whatever C code prints).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import select
import site
import subprocess
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 180.0
OUTPUT_LIMIT = 64 << 20  # characters of a job's stdout/stderr kept (its end)


@dataclass
class Job:
    """One command: ``("cli", ["info", PATH])``, ``("checker", [PATH])`` or ``("ort", [PATH])``.

    ``allowed``: folders (besides Python's own) the job may open files in.
    """

    kind: str
    argv: list[str]
    allowed: list[str]
    timeout: float = 120.0
    key: str = ""  # the caller's label, e.g. "names/html info"


@dataclass
class Outcome:
    job: Job
    status: str  # "done", "timeout" or "crash"
    exit_code: int | None = None  # the command's (cli), or 0/1 rejected (oracles)
    stdout: str = ""
    stderr: str = ""
    raised: str = ""  # a traceback that escaped main(): always a failure
    opens_outside: list[str] = field(default_factory=list)
    seconds: float = 0.0
    child_log: str = ""  # what the child printed outside the jobs (crash output)


def run_jobs(
    jobs: list[Job], workers: int = 2, memory_bytes: int = 3 << 30, workdir: Path | None = None
) -> list[Outcome]:
    """Run ``jobs`` on ``workers`` sandboxed children; outcomes in the order of ``jobs``."""
    workdir = workdir or Path.cwd()
    todo = deque(enumerate(jobs))
    results: dict[int, Outcome] = {}
    pool = [_Child(workdir / f"child{i}", memory_bytes) for i in range(min(workers, len(jobs)))]
    try:
        while todo or any(c.busy for c in pool):
            for c in pool:
                if not c.busy and todo:
                    c.start(*todo.popleft())
            busy = [c for c in pool if c.busy]
            deadline = min(c.deadline for c in busy)
            ready, _, _ = select.select(
                [c.fd for c in busy], [], [], max(0.0, deadline - time.monotonic())
            )
            for c in busy:
                if c.fd in ready:
                    c.read(results)
                elif time.monotonic() > c.deadline:
                    c.give_up(results, "timeout")
    finally:
        for c in pool:
            c.stop()
    return [results[i] for i in range(len(jobs))]


class _Child:
    """One sandboxed child process, restarted after a crash or a timeout."""

    def __init__(self, folder: Path, memory_bytes: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.memory_bytes = folder, memory_bytes
        self.proc: subprocess.Popen[bytes] | None = None
        self.job: tuple[int, Job] | None = None
        self.buffer = b""
        self.ready = False
        self.started = self.deadline = 0.0
        self.restarts = 0

    @property
    def busy(self) -> bool:
        return self.job is not None

    def _spawn(self) -> None:
        r, w = os.pipe()
        limit = self.memory_bytes
        env = {k: v for k, v in os.environ.items() if k != "ONNX_INSPECTOR_DEBUG"}
        env.update(PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen", PYTHONFAULTHANDLER="1")
        self.log = open(self.folder / f"log{self.restarts}.txt", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.sandbox", str(w)],
            stdin=subprocess.PIPE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            pass_fds=(w,),
            cwd=self.folder,  # empty: a read relative to the working folder is seen as outside
            env=env,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
            start_new_session=True,  # one process group: a timeout kills what the job started
        )
        os.close(w)
        self.fd, self.buffer, self.ready = r, b"", False
        self.restarts += 1

    def start(self, index: int, job: Job) -> None:
        if self.proc is not None and self.proc.poll() is not None:  # died after its last job
            self.stop()
        if self.proc is None:
            self._spawn()
        self.job = (index, job)
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(job.__dict__).encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:  # it died just now: the read that follows sees EOF, a crash
            pass
        self.started = time.monotonic()
        # until the child says it is ready, its imports run: they do not count against the job
        self.deadline = self.started + (
            job.timeout if self.ready else STARTUP_TIMEOUT_S + job.timeout
        )

    def read(self, results: dict[int, Outcome]) -> None:
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            self.give_up(results, "crash")
            return
        self.buffer += chunk
        while b"\n" in self.buffer and self.job is not None:
            line, self.buffer = self.buffer.split(b"\n", 1)
            msg = json.loads(line)
            if msg.get("ready"):
                self.ready = True
                self.deadline = time.monotonic() + self.job[1].timeout
                continue
            index, job = self.job
            results[index] = Outcome(job, "done", **msg)
            self.job = None

    def give_up(self, results: dict[int, Outcome], status: str) -> None:
        assert self.job is not None
        index, job = self.job
        code = self.stop()
        log = (self.folder / f"log{self.restarts - 1}.txt").read_text("utf-8", "replace")
        results[index] = Outcome(
            job,
            status,
            exit_code=code,
            seconds=time.monotonic() - self.started,
            child_log=log[-4000:],
        )
        self.job = None

    def stop(self) -> int | None:
        """Kill the child and what it started; its exit status (negative: a signal)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
        code = proc.wait()
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.log.close()
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        return code


# ------------------------------------------------------------------------------- the child side


def _python_roots() -> list[str]:
    """Where this Python reads its own files: its installation, site-packages, this checkout."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(REPO)}
    roots.update(site.getsitepackages())
    roots.add(site.getusersitepackages())
    return [os.path.realpath(r) for r in roots]


def _inside(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


class _Opens:
    """An audit hook that records files opened outside the allowed roots (while armed)."""

    def __init__(self) -> None:
        self.base = [*_python_roots(), "/proc", "/dev/null"]
        self.allowed: list[str] | None = None  # None: not in a job
        self.outside: list[str] = []
        sys.addaudithook(self)

    def __call__(self, event: str, args: tuple) -> None:
        if event != "open" or self.allowed is None or isinstance(args[0], int):
            return
        raw = os.fsdecode(args[0]) if isinstance(args[0], bytes) else str(args[0])
        path = os.path.realpath(raw)  # where a link really leads
        if not _inside(path, self.allowed) and not _inside(path, self.base):
            self.outside.append(raw if raw == path else f"{raw} -> {path}")


def _run(job: dict, opens: _Opens) -> dict:
    out, err = io.StringIO(), io.StringIO()
    opens.allowed = [os.path.realpath(a) for a in job["allowed"]]
    opens.outside = []
    raised, code = "", None
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if job["kind"] == "cli":
                from inspector.__main__ import main

                code = main(job["argv"])
            else:
                code = _oracle(job["kind"], job["argv"][0], err)
    except SystemExit as e:  # argparse or a library calling sys.exit
        code = e.code if isinstance(e.code, int) else 2
    except BaseException:
        raised = traceback.format_exc()
    finally:
        opens.allowed = None
    return {
        "exit_code": code,
        "stdout": out.getvalue()[-OUTPUT_LIMIT:],
        "stderr": err.getvalue()[-OUTPUT_LIMIT:],
        "raised": raised,
        "opens_outside": opens.outside[:20],
        "seconds": time.perf_counter() - started,
    }


def _oracle(kind: str, path: str, err: io.StringIO) -> int:
    """0 if onnx's full check (``checker``) or ONNX Runtime's session (``ort``) accepts the
    model at ``path``, 1 if it refuses it (its message on stderr), 3 if it ran out of memory."""
    model: str | bytes = path
    if path != path.encode("utf-8", "replace").decode("utf-8"):  # undecodable file name bytes
        with open(path, "rb") as f:  # their bindings take only valid str paths
            model = f.read()
    try:
        if kind == "checker":
            import onnx

            onnx.checker.check_model(model, full_check=True)
        else:
            import onnxruntime as ort

            ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    except Exception as e:
        err.write(f"{type(e).__name__}: {e}"[:2000])
        # Running out of memory under the sandbox's cap (the 1M-node chain) is no verdict on
        # the model: 3, which no test counts as a refusal.
        return 3 if isinstance(e, MemoryError) or "bad_alloc" in str(e) else 1
    return 0


def _serve(result_fd: int) -> int:
    import onnx  # noqa: F401  (imports paid once, before the first job's timeout starts)
    import onnxruntime  # noqa: F401
    from PySide6.QtWidgets import QApplication

    import inspector.cli
    import inspector.core.checks
    import inspector.core.diagram  # noqa: F401

    app = QApplication([])  # render needs one; made once, as `python -m inspector render` does
    out = os.fdopen(result_fd, "w", buffering=1)
    opens = _Opens()
    out.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        out.write(json.dumps(_run(json.loads(line), opens)) + "\n")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1])))
