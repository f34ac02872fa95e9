"""The graph's widgets: the view (zoom, pan, clicks) and the minimap, over :mod:`inspector.scene`."""

from __future__ import annotations

from inspector.ui.graph_view.minimap import Minimap
from inspector.ui.graph_view.view import GraphView

__all__ = ["GraphView", "Minimap"]
