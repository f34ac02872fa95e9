"""Execution providers beyond the installed build: which nodes each one runs, per ONNX Runtime
release, from tables generated from the providers' own published documents (:mod:`.tables`,
:mod:`.releases`)."""
