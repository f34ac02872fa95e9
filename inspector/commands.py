"""The `onnx-inspector` subcommands, in the order `onnx-inspector --help` lists them.

This is the one list of them. The CLI builds one subparser per entry from the module of
``inspector.cli`` the entry names; the launcher (``inspector.__main__``) reads the names to tell a
subcommand from a file to open; the window lists them in its own ``--help``. It lives outside both
``inspector.cli`` and ``inspector.ui`` so that each can read it without importing the other, and
outside ``inspector.core`` because it describes the program's surface, not an analysis. It imports
nothing, so reading it costs nothing at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subcommand:
    """One subcommand: its name on the command line and the one line that sums it up."""

    name: str  # e.g. "install-desktop"
    summary: str  # its line in `onnx-inspector --help`, and the first sentence of its own --help

    @property
    def module(self) -> str:
        """The module of ``inspector.cli`` that implements it: ``install-desktop`` → ``install_desktop``."""
        return self.name.replace("-", "_")


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "info",
        "Print the model's properties: IR version, opsets, producer, inputs/outputs, op counts.",
    ),
    Subcommand(
        "check",
        "Check what the chosen runtime cannot run, and every other static check, without "
        "running it.",
    ),
    Subcommand(
        "run",
        "Run the model through ONNX Runtime (in a child process) on random or loaded inputs.",
    ),
    Subcommand(
        "diff",
        "Compare two models: the nodes added, removed or changed, and model-level changes.",
    ),
    Subcommand("render", "Draw the graph (the same scene the window draws) to a PNG or SVG file."),
    Subcommand(
        "export", "Export a PyTorch model to ONNX in a child process, then validate the file."
    ),
    Subcommand("fix", "Write a fixed copy (float16, opset, ...), kept once checked and compared."),
    Subcommand("install-desktop", "Make ONNX Inspector open .onnx files on this Linux desktop."),
    Subcommand(
        "uninstall-desktop",
        "Remove what install-desktop wrote, and restore the previous default application.",
    ),
)

#: The names alone, in the same order.
NAMES: tuple[str, ...] = tuple(c.name for c in SUBCOMMANDS)
