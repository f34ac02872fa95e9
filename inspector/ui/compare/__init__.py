"""Comparing two models in the window: the comparisons' owner, the compare tab and its panel."""

from __future__ import annotations

from inspector.ui.compare.actions import CompareActions
from inspector.ui.compare.comparison import Comparison, Comparisons
from inspector.ui.compare.view import CompareView

__all__ = ["CompareActions", "CompareView", "Comparison", "Comparisons"]
