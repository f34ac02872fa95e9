"""The Qt-free core: loading, the graph model, analyses and layout.

Nothing below this package imports PySide6 (import-linter enforces it, see pyproject.toml).
"""
