"""The one child entry point: ``python -X faulthandler -m inspector.core.child MODULE:FUNCTION ARGS``.

faulthandler is on before anything heavy is imported (``-X faulthandler`` turns it on before the
interpreter runs a line, ``sitecustomize`` included; the call below covers a run started by
hand), so a native crash while numpy, onnx, onnxruntime or torch loads still leaves the Python
stack on stderr for the parent to quote. Then stdout is kept for the protocol
(:mod:`inspector.core.child.protocol`), file descriptor 1 is pointed at stderr so that nothing
else printed can break a protocol line, and ``FUNCTION(emit, **ARGS)`` is imported and called;
its return value is the result line, an exception it raises the error line.
"""

from __future__ import annotations

import faulthandler

faulthandler.enable()  # to stderr, before any heavy import

import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

from inspector.core.child.protocol import Emitter  # noqa: E402  (standard library only)


def main(argv: list[str]) -> int:
    target, args = argv[0], json.loads(argv[1])
    protocol_out = os.fdopen(os.dup(1), "w", encoding="utf-8", newline="\n")
    os.dup2(2, 1)  # C libraries and print() now write to stderr
    sys.stdout = sys.stderr  # line-buffered: the live log arrives as it is printed
    emit = Emitter(protocol_out)
    emit.pause_if("start")
    try:
        module_name, function_name = target.split(":")
        function = getattr(importlib.import_module(module_name), function_name)
        emit.result(function(emit, **args))
    except Exception as e:  # the job's own failure: the parent reports it with the traceback
        emit.error(e, traceback.format_exc())
        return 1
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # The result line is out and flushed: skip tearing the interpreter down (an ONNX Runtime
    # session and a 100 MB output took ~40 ms to free), which the parent would wait for.
    sys.stderr.flush()
    os._exit(code)
