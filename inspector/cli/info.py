"""`onnx-inspector info MODEL`: the model's properties, from the core's ``model_summary``.

The same summary the window's model page shows; this module only lays it out.
"""

from __future__ import annotations

import argparse

from inspector.cli.common import EXIT_OK, open_model, print_json, table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the .onnx file")


def run(args: argparse.Namespace) -> int:
    from inspector.core.summary import model_summary
    from inspector.core.tensor_types import format_shape

    summary = model_summary(open_model(args.model))
    if args.json:
        print_json(summary)
        return EXIT_OK
    opsets = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in summary["opset_imports"].items())
    producer = " ".join(x for x in summary["producer"].values() if x) or "(unknown)"
    rows = [
        ("file", f"{summary['file']} ({summary['file_size']:,} bytes)"),
        ("ir version", str(summary["ir_version"])),
        ("opsets", opsets),
        ("producer", producer),
        ("nodes", f"{summary['node_count']:,}"),
        ("parameters", f"{summary['parameter_count']:,} ({summary['initializer_bytes']:,} bytes)"),
    ]
    if summary["functions"]:
        rows.append(("functions", ", ".join(f["name"] for f in summary["functions"])))
    if summary["subgraphs"]:
        rows.append(("subgraphs", str(len(summary["subgraphs"]))))
    lines = [table(rows, ""), "inputs:"]
    lines += [
        table([(i["name"], f"{i['dtype']}{format_shape(i['shape'])}") for i in summary["inputs"]])
        or "  (none)"
    ]
    lines += ["outputs:"]
    lines += [
        table([(o["name"], f"{o['dtype']}{format_shape(o['shape'])}") for o in summary["outputs"]])
        or "  (none)"
    ]
    lines += ["op counts:", table([(k, str(v)) for k, v in summary["op_counts"].items()])]
    print("\n".join(lines))
    return EXIT_OK
