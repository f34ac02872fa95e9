"""The window side of ONNX Inspector: PySide6 only here; it reads the core's graph model."""
