"""Drawing a graph: the scene (array-backed layers), the view (zoom, pan, clicks), the minimap,
the palettes and file export."""

from __future__ import annotations

from inspector.ui.graph_view.minimap import Minimap
from inspector.ui.graph_view.palette import Palette, palette_for
from inspector.ui.graph_view.render import render_to_file
from inspector.ui.graph_view.scene import GraphScene
from inspector.ui.graph_view.view import GraphView

__all__ = ["GraphScene", "GraphView", "Minimap", "Palette", "palette_for", "render_to_file"]
