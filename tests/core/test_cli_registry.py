"""The registry of subcommands (``inspector.commands``) is the one list of them.

Every entry has its module in ``inspector.cli`` (with ``add_arguments`` and ``run``) and every
module there is an entry or one of the shared ones; the parser is built from it, in its order; and
reading it imports nothing heavy, so the window and the launcher can use it for free.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import inspector.cli
from inspector.cli import build_parser, main
from inspector.commands import NAMES, SUBCOMMANDS

CLI = Path(inspector.cli.__file__).resolve().parent
SHARED = {"__init__", "common"}  # not subcommands: the parser and main(), and what they share


def test_every_entry_has_a_module_and_every_module_an_entry():
    modules = {p.stem for p in CLI.glob("*.py")} - SHARED
    assert modules == {c.module for c in SUBCOMMANDS}
    assert len(set(NAMES)) == len(NAMES) == len(SUBCOMMANDS)
    for entry in SUBCOMMANDS:
        module = importlib.import_module(f"inspector.cli.{entry.module}")
        assert callable(module.add_arguments), entry.name
        assert callable(module.run), entry.name


def test_summaries_are_single_lines():
    for entry in SUBCOMMANDS:
        assert entry.summary.endswith(".") and "\n" not in entry.summary, entry.name
        assert len(entry.summary) < 100, entry.name


def test_parser_is_built_from_the_registry_in_its_order():
    parser, commands = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(NAMES)
    assert list(commands) == list(NAMES)
    assert [a.help for a in sub._choices_actions] == [c.summary for c in SUBCOMMANDS]
    for entry in SUBCOMMANDS:
        module = importlib.import_module(f"inspector.cli.{entry.module}")
        assert commands[entry.name] is module.run
        assert sub.choices[entry.name].description.startswith(entry.summary)


@pytest.mark.parametrize("name", NAMES)
def test_each_subcommand_help_opens_with_its_summary(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    summary = next(c.summary for c in SUBCOMMANDS if c.name == name)
    assert f"onnx-inspector {name}" in text
    assert summary in text
    assert "--json" in text


def test_reading_the_registry_imports_neither_the_cli_nor_the_window():
    code = (
        "import sys\n"
        "import inspector.commands\n"
        "print(sorted(m for m in sys.modules if m.startswith(('inspector', 'onnx', 'numpy', "
        "'PySide6', 'torch'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=CLI.parents[1]
    ).stdout
    assert out.strip() == "['inspector', 'inspector.commands']"


def test_the_frozen_app_carries_every_subcommand_module():
    """PyInstaller cannot follow ``import_module``: its options must name each module."""
    root = CLI.parents[1]
    spec = importlib.util.spec_from_file_location(
        "pyinstaller_common", root / "packaging" / "pyinstaller_common.py"
    )
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    hidden = common.analysis_options()["hiddenimports"]
    assert {f"inspector.cli.{c.module}" for c in SUBCOMMANDS} <= set(hidden)
