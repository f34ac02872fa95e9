"""`onnx-inspector run MODEL`: one inference run through the core's ``run_model`` (a child
process), on feeds the core builds or loads; this module chooses which and lays out the result.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from inspector.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    open_model,
    print_json,
    seed,
    table,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the .onnx file")
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="the value of one input, from a .npy or TensorProto .pb (repeatable)",
    )
    parser.add_argument(
        "--inputs",
        metavar="DIR_OR_NPZ",
        help="a test_data_set_N folder (also gives expected outputs) or an .npz by name",
    )
    parser.add_argument(
        "--random",
        action="store_true",
        help="random values for every input not given (the default with no inputs)",
    )
    parser.add_argument(
        "--seed", type=seed, default=0, help="seed of the random inputs (default 0)"
    )
    parser.add_argument(
        "--provider",
        default="CPUExecutionProvider",
        help="the execution provider (default CPUExecutionProvider)",
    )
    parser.add_argument(
        "--repeat", type=int, default=10, help="timed runs after one warm-up (default 10)"
    )
    parser.add_argument(
        "--expected",
        metavar="DIR",
        help="expected outputs: a test_data_set_N folder, an .npz or a folder of .npy",
    )
    parser.add_argument("--save-outputs", metavar="OUT.npz", help="write the outputs to an .npz")


def run(args: argparse.Namespace) -> int:
    """Inputs are random by default (integer indices within their table, masks 0/1, seeded); load
    them with --inputs (a test_data_set_N folder, which also brings the expected outputs, or an
    .npz by input name) or --input NAME=FILE. Prints each output's statistics, the latency over
    --repeat runs, the comparison with expected outputs, and the findings; exit 1 if the run
    failed or the outputs disagree with the expected ones.
    """
    if args.repeat < 1:
        raise UsageError(f"--repeat {args.repeat}: give at least 1 timed run")
    model_path = Path(args.model)
    save = Path(args.save_outputs) if args.save_outputs else None
    if save is not None:
        if save.suffix.lower() != ".npz":
            raise UsageError(f"cannot write '{save.name}': --save-outputs must end in .npz")
        if not save.parent.exists():
            raise UsageError(f"cannot write '{save}': folder '{save.parent}' does not exist")
        if model_path.exists() and save.resolve() == model_path.resolve():
            raise UsageError("refusing to overwrite the model file; choose another output path")
    model = open_model(args.model)
    feeds, expected = _feeds(args, model)
    from inspector.core.inference.runner import RunOptions, run_model

    options = RunOptions(provider=args.provider, repeat=args.repeat)
    result = run_model(args.model, feeds, options, expected=expected, model=model)
    if save is not None and result.outputs:
        result.save_outputs(save)
    if args.json:
        print_json(result.to_dict())
    else:
        print(_text(result, save))
    code = EXIT_OK if result.ok else EXIT_FINDINGS
    result.close()
    return code


def _feeds(args: argparse.Namespace, model: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(feeds, expected outputs or None) from --inputs, --input, --random and --expected."""
    from inspector.core.inference.inputs import (
        FeedError,
        build_feeds,
        input_specs,
        load_array,
        load_expected,
        load_feeds,
    )

    feeds: dict[str, Any] = {}
    expected = None
    try:
        if args.inputs:
            loaded = load_feeds(model, args.inputs)
            feeds.update(loaded.feeds)
            expected = loaded.expected
        for item in args.input:
            name, sep, file = item.partition("=")
            if not sep or not name or not file:
                raise UsageError(f"--input {item!r}: write it as NAME=FILE (.npy or .pb)")
            feeds[name] = load_array(file)
        if args.expected:
            expected = load_expected(model, args.expected)
        specs = input_specs(model)
        missing = [s for s in specs if s.name not in feeds]
        # Random is the default when no feed is given; with feeds, only --random fills the rest.
        fill = args.random or not (args.inputs or args.input)
        if missing and fill:
            feeds = build_feeds(specs, args.seed, given=feeds)
    except FeedError as e:
        raise UsageError(str(e)) from e
    if missing and not fill:
        names = ", ".join(s.name for s in missing)
        raise UsageError(f"no value for input(s) {names}; give --input NAME=FILE or add --random")
    return feeds, expected


def _text(result: Any, saved: Path | None) -> str:
    """The run for people: outputs, latency, match, findings."""
    from inspector.core.tensor_types import format_shape

    def num(x: Any) -> str:
        return "-" if x is None else f"{x:.6g}" if isinstance(x, float) else str(x)

    lines = [f"status: {result.status}"]
    if result.outputs:
        lines.append("outputs:")
        lines.append(
            table(
                [
                    (
                        o.name,
                        f"{o.stats['dtype']}{format_shape(o.stats['shape'])}  min {num(o.stats['min'])}"
                        f"  max {num(o.stats['max'])}  mean {num(o.stats['mean'])}  std {num(o.stats['std'])}"
                        f"  nan {o.stats['nan']}  inf {o.stats['inf']}",
                    )
                    if o.stats
                    else (o.name, o.kind)
                    for o in result.outputs
                ]
            )
        )
    if result.latency_ms:
        lat = result.latency_ms
        lines.append(
            f"latency over {len(result.latencies_ms)} runs: mean {lat['mean']:.3f} ms, "
            f"median {lat['median']:.3f} ms, p90 {lat['p90']:.3f} ms, min {lat['min']:.3f} ms"
        )
    if result.match is not None:
        m = result.match
        lines.append(
            f"expected outputs: {'match' if m.ok else 'DIFFER'} (rtol {m.rtol:g}, atol {m.atol:g})"
        )
        lines.append(
            table(
                [
                    (
                        c.name,
                        ("ok" if c.ok else "differs")
                        + (
                            f"  max abs {c.max_abs:.3g}  max rel {c.max_rel:.3g}"
                            if c.max_abs is not None
                            else ""
                        )
                        + (f"  {c.message}" if c.message and not c.ok else ""),
                    )
                    for c in m.outputs
                ]
            )
        )
    for f in result.findings:
        where = f.node or (f"#{f.node_index}" if f.node_index is not None else f.tensor or "")
        hint = f"  [hint: {f.hint}]" if f.hint else ""
        lines.append(f"{f.severity.value}  {f.code}  {where}  {f.message}{hint}")
    if saved is not None and result.outputs:
        lines.append(f"wrote {saved}")
    return "\n".join(lines)
