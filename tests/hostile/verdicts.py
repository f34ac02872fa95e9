"""What the CLI must do with each hostile file, as jobs for :mod:`tests.sandbox` and the checks
on their outcomes.

Every case goes through ``info``, ``info --json``, ``check --json`` and ``render -o OUT.svg``;
the contract (``shared/cli-contract.md``) is checked on each outcome by :func:`problems`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.hostile.base import Case
from tests.sandbox import Job, Outcome

COMMANDS = ("info", "info --json", "check --json", "render")
# Control characters a model's names could send to a terminal (newline and tab are layout).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def out_folder(root: Path, case: Case) -> Path:
    return root / "out" / case.name


def cli_jobs(cases: list[Case], root: Path, timeout: float = 120.0) -> list[Job]:
    """One job per case and command (in :data:`COMMANDS` order); each may read only the case's
    folder, the file it was given (where that is a regular file) and its output folder."""
    jobs = []
    for case in cases:
        out = out_folder(root, case)
        out.mkdir(parents=True, exist_ok=True)
        allowed = [str(case.folder), str(out)]
        if _is_regular(case.path):  # a link to a model elsewhere: the user asked for that file
            allowed.append(os.path.realpath(case.path))
        for command in COMMANDS:
            argv = [*command.split(" ", 1)[:1], str(case.path)]
            if command.endswith("--json"):
                argv.append("--json")
            if command == "render":
                argv += ["-o", str(out / "graph.svg")]
            jobs.append(Job("cli", argv, allowed, timeout, f"{case.name} {command}"))
    return jobs


def oracle_jobs(cases: list[Case], timeout: float = 120.0) -> list[Job]:
    """onnx's full check and an ONNX Runtime session on each case that is a regular file (a
    pipe or a device would hang them: that is the loader's part)."""
    return [
        Job(kind, [str(c.path)], [str(c.folder)], timeout, f"{c.name} {kind}")
        for c in cases
        if c.regular
        for kind in ("checker", "ort")
    ]


def fingerprint(path: Path) -> str | None:
    """Hash of a regular file's bytes (None for anything else): the model must never change."""
    if not _is_regular(path):
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def problems(case: Case, outcomes: list[Outcome], before: str | None, root: Path) -> list[str]:
    """Every way the outcomes of one case's commands break the contract (empty: all good)."""
    found: list[str] = []
    for command, o in zip(COMMANDS, outcomes, strict=True):
        found += [f"{command}: {p}" for p in _outcome_problems(command, o)]
    codes = [o.exit_code for o in outcomes]
    if len({c == 2 for c in codes}) > 1:
        found.append(f"the commands disagree on whether the file can be read: exit codes {codes}")
    if case.refused is True and any(c != 2 for c in codes):
        found.append(f"the file must be refused (exit 2), got {codes}")
    if case.refused is False and 2 in codes:
        found.append(f"the file must open, got {codes}: {outcomes[0].stderr.strip()[:300]}")
    if fingerprint(case.path) != before:
        found.append("the model file was changed")
    render = outcomes[COMMANDS.index("render")]
    if render.exit_code == 0:
        svg = out_folder(root, case) / "graph.svg"
        try:
            ET.parse(svg)
        except (OSError, ET.ParseError) as e:
            found.append(f"render wrote no well-formed SVG: {e}")
    return found


def _outcome_problems(command: str, o: Outcome) -> list[str]:
    if o.status != "done":
        return [
            f"{o.status} after {o.seconds:.0f} s (exit status {o.exit_code}): {o.child_log[-800:]}"
        ]
    found = []
    text = o.stdout + o.stderr
    if o.raised:
        found.append(f"an exception escaped: {o.raised[-1500:]}")
    if "Traceback" in text:
        found.append(f"a traceback was printed: {text[-1500:]}")
    if o.exit_code not in (0, 1, 2):
        found.append(f"exit code {o.exit_code}")
    if "internal error" in o.stderr:
        found.append(f"an Inspector bug: {o.stderr.strip()}")
    if o.opens_outside:
        found.append(f"opened files outside the model's folder: {o.opens_outside}")
    if _CONTROL.search(text):
        found.append(f"a control character reached the output: {_CONTROL.findall(text)[:5]}")
    if o.exit_code == 2:
        lines = o.stderr.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("onnx-inspector: ") or o.stdout:
            found.append(f"exit 2 must say one line on stderr and nothing else: {text[-600:]}")
    elif o.exit_code in (0, 1) and command.endswith("--json"):
        try:
            data = json.loads(o.stdout)
        except ValueError as e:
            return [*found, f"--json printed no JSON ({e}): {o.stdout[:300]}"]
        if command.startswith("check"):
            errors = [f for f in data["findings"] if f["severity"] == "error"]
            if (o.exit_code == 1) != bool(errors):
                found.append(f"exit {o.exit_code} with {len(errors)} error findings")
    elif command.startswith("info") and o.exit_code != 0:
        found.append(f"info exits 0 or 2, not {o.exit_code}")
    return found


def error_findings(o: Outcome) -> list[dict]:
    """The error findings of a ``check --json`` outcome."""
    if o.exit_code not in (0, 1):
        return []
    return [f for f in json.loads(o.stdout)["findings"] if f["severity"] == "error"]


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False
