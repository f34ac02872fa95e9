"""The base of every layer of a :class:`~inspector.scene.scene.GraphScene` (the edges, boxes,
overview and overlay in :mod:`.items`, a comparison's tints): one item spanning the drawing."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsItem

if TYPE_CHECKING:
    from inspector.scene.scene import GraphScene


class SceneLayer(QGraphicsItem):
    """An item spanning the whole drawing that paints from the scene's arrays."""

    def __init__(self, scene: GraphScene, rect: QRectF) -> None:
        super().__init__()
        # Not a plain reference: the scene holds its layers, and that cycle would keep a closed
        # tab's scene, and through its diagram the whole graph model, until a full collection.
        self._scene = weakref.ref(scene)
        self._rect = rect
        # Without this flag option.exposedRect is the whole item, and every scroll step would
        # paint the full graph instead of the newly exposed strip.
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)

    @property
    def graph(self) -> GraphScene:
        scene = self._scene()
        assert scene is not None, "a layer outlived its scene"
        return scene

    def boundingRect(self) -> QRectF:
        return self._rect
