"""Running a model through ONNX Runtime in a child process, and reading the results back.

* :mod:`~inspector.core.inference.inputs`: random feeds that respect what each input feeds, feeds
  loaded from files, and the checks of feeds against the declared inputs.
* :mod:`~inspector.core.inference.runner`: :func:`run_model`, the parent side (the feeds, the
  child job, results mapped back onto the graph); :mod:`inspector.core.child` runs the child.
* :mod:`~inspector.core.inference.child`: the child job that owns the InferenceSession.
* :mod:`~inspector.core.inference.protocol`: the options, the result's keys, the ``.npy`` files.

Only the child imports onnxruntime.
"""
