"""The drawn graph: a Qt graphics scene (array-backed layers of boxes and edges), its palettes and
its off-screen rendering to a file. Qt, but no window: the window's view shows this scene and the
CLI's ``render`` writes it, so both draw the same picture."""

from __future__ import annotations

from inspector.scene.palette import Palette, palette_for
from inspector.scene.render import render_to_file
from inspector.scene.scene import GraphScene

__all__ = ["GraphScene", "Palette", "palette_for", "render_to_file"]
