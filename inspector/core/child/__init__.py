"""Child processes: everything that must not run in the caller's process runs through here.

An ONNX Runtime session, the user's PyTorch code, shape inference and the static checks can
crash, hang or hold the interpreter lock for seconds; in a child a crash or a hang costs only the
child. One job description (:class:`ChildJob`: a ``module:function``, JSON arguments, a timeout),
one line protocol (:mod:`.protocol`), one entry point (``python -m inspector.core.child``, with
faulthandler on before any heavy import), one parser of what the child said (:class:`ChildRun`:
progress, log, result, error; crash, timeout and stderr), and two ways to wait: blocking
(:func:`run_job`, :func:`call_child`) or, in the window, on the event loop
(``inspector.ui.tasks.TaskRunner.submit_child``).

The kinds of job: shape inference (:mod:`inspector.core.infer_process`), the static checks
(:mod:`inspector.core.checks.child`), an ONNX Runtime run (:mod:`inspector.core.inference`) and
an export from PyTorch (:mod:`inspector.core.export`).
"""

from __future__ import annotations

from inspector.core.child.parent import (
    ChildCall,
    ChildFailed,
    ChildJob,
    ChildRun,
    Outcome,
    call_child,
    child_env,
    run_job,
)
from inspector.core.child.protocol import Emitter

__all__ = [
    "ChildCall",
    "ChildFailed",
    "ChildJob",
    "ChildRun",
    "Emitter",
    "Outcome",
    "call_child",
    "child_env",
    "run_job",
]
