"""What the user's source gives, before anything is exported: the model's class and size, and the
example inputs the factory returns (or a ``.pt2`` archive stores), named as the export names them.

The export wizard shows this on its Inputs page, so a user sees "the factory returns ResNet
(11.7 M parameters) and x: float32 [1, 3, 224, 224]" before choosing dynamic dims. The source is
loaded in a child process, as the export loads it (:func:`.source.load_source`: the user's code
runs there, never in the window), and a failure to load is the same finding the export would give.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from inspector.core.child import ChildCall, ChildJob, Emitter, Outcome
from inspector.core.export.config import ExportConfig, InputSpec
from inspector.core.export.explain import finding
from inspector.core.findings import Finding, finding_from_dict

PROBE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class SourceProbe:
    """What loading the source gave: the model's class and parameter count, and its example
    inputs (None: it gives none, the user describes them); or why it could not be loaded."""

    model_class: str = ""
    parameters: int = 0
    inputs: list[InputSpec] | None = None
    problem: Finding | None = None
    other_inputs: list[str] = field(default_factory=list)  # example values that are not tensors

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        """One line for the Inputs page."""
        if self.problem is not None:
            return f"The source could not be loaded: {self.problem.message}"
        what = f"{self.model_class} ({_count(self.parameters)} parameters)"
        if self.inputs is None:
            return f"It gives {what} and no example inputs: describe each input below."
        shown = "; ".join(
            f"{s.name}: {s.dtype} [{', '.join(str(d) for d in s.shape)}]" for s in self.inputs
        )
        extra = f"; and {', '.join(self.other_inputs)}" if self.other_inputs else ""
        return f"It gives {what} and example inputs {shown}{extra}."


def _count(n: int) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)


def probe_call(config: ExportConfig, timeout: float = PROBE_TIMEOUT_S) -> ChildCall[SourceProbe]:
    """The child job that loads ``config``'s source and describes it (no GPU for user code)."""
    job = ChildJob(
        "inspector.core.export.probe:run_probe",
        {"config": config.to_json()},
        timeout,
        "loading the model's source",
        env={"CUDA_VISIBLE_DEVICES": ""},
    )
    return ChildCall(job, _probe_result)


def _probe_result(outcome: Outcome) -> SourceProbe:
    failure = outcome.failure
    if failure is not None:
        said = f": {failure.said}" if failure.said else ""
        code = "export-timeout" if failure.reason == "timed-out" else "source-load-failed"
        return SourceProbe(
            problem=finding(code, f"loading the source ended with {failure.how}{said}").finding
        )
    value = outcome.value
    if value.get("problem") is not None:
        return SourceProbe(problem=finding_from_dict(value["problem"]))
    inputs = value.get("inputs")
    return SourceProbe(
        model_class=value["model_class"],
        parameters=int(value["parameters"]),
        inputs=None
        if inputs is None
        else [InputSpec(i["name"], i["dtype"], i["shape"]) for i in inputs],
        other_inputs=list(value.get("other_inputs", [])),
    )


def run_probe(emit: Emitter, config: str) -> dict[str, Any]:
    """The job (in the child): load the source as the export does, and describe it."""
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    import torch

    from inspector.core.export.driver import input_names
    from inspector.core.export.source import SourceError, load_source

    cfg = ExportConfig.from_json(config)
    emit.progress(0.1, "loading the model (this runs its code)")
    try:
        model, example, _module = load_source(cfg)
    except SourceError as e:
        return {"problem": e.explained.finding.to_dict()}
    described: list[dict[str, Any]] | None = None
    others: list[str] = []
    if example is not None:
        # forward()'s own names, as the export names the example's tensors (not the table's)
        names = input_names(model, replace(cfg, inputs=[]), len(example))
        described = []
        for name, value in zip(names, example, strict=True):
            if isinstance(value, torch.Tensor):
                dtype = str(value.dtype).removeprefix("torch.")
                described.append({"name": name, "dtype": dtype, "shape": list(value.shape)})
            else:
                others.append(f"{name}: {type(value).__name__}")
    return {
        "model_class": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "inputs": described,
        "other_inputs": others,
    }
