"""Running a model through ONNX Runtime in a child process, and reading the results back.

* :mod:`~inspector.core.inference.inputs`: random feeds that respect what each input feeds, feeds
  loaded from files, and the checks of feeds against the declared inputs.
* :mod:`~inspector.core.inference.runner`: :func:`run_model`, the parent side (launch, poll,
  cancel, kill, map results back onto the graph).
* :mod:`~inspector.core.inference.child`: the child entry point that owns the InferenceSession.
* :mod:`~inspector.core.inference.protocol`: the JSON + ``.npy`` files between the two.

Only the child imports onnxruntime.
"""
