"""The ``codesign import`` subcommand: what of an ONNX model is modelled.

``codesign import MODEL.onnx [-o layers.yaml] [--json] [--batch N] [--input NAME=D1,D2,..]``
prints per MAC layer its name, op, output shape and MACs; per op type the
nodes without MACs and the nodes not modelled (count, elements); and the
totals. ``--json`` prints the same as JSON (`codesign.workload.onnx_import.to_json`);
``-o`` writes the whole graph as a config ``workload: {layers: [...]}`` (the
graph form of `codesign.workload.spec`, `codesign.workload.onnx_yaml`) that
``codesign evaluate`` reads once a ``hardware:`` section is added.
``--batch`` and ``--input`` resolve symbolic dimensions. Bad input: one
line, exit status 2.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError

__all__ = ["register", "cmd_import"]


def register(subparsers) -> None:
    """Add ``import`` to an argparse subparsers object."""
    p = subparsers.add_parser("import", help="import an ONNX model: layers, MACs, what is not modelled")
    p.add_argument("model", help="path of an .onnx file")
    p.add_argument("-o", "--out", help="write the graph as a YAML workload (layers: list, graph form) to this file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--batch", type=int, help="batch size: the first dimension of every model input")
    p.add_argument("--input", action="append", default=[], metavar="NAME=D1,D2,..",
                   help="full shape of one model input (resolves symbolic dimensions); repeatable")
    p.set_defaults(func=cmd_import)


def _inputs(specs: list[str]) -> dict:
    out = {}
    for s in specs:
        name, sep, dims = s.rpartition("=")
        try:
            shape = [int(d) for d in dims.split(",")]
        except ValueError:
            shape = None
        if not sep or not name or not shape:
            raise UserError(f"--input {s}: give NAME=D1,D2,.. (e.g. input=1,3,224,224)")
        out[name] = shape
    return out


def cmd_import(args) -> int:
    """``codesign import``: the summary (or JSON) of an ONNX import; writes ``-o``."""
    from ..workload import WorkloadError
    from ..workload.onnx_import import Keys, import_model, layers_yaml, summary, to_json

    keys = Keys(model=str(args.model), batch="--batch", inputs="--input")
    try:
        res = import_model(args.model, batch=args.batch, inputs=_inputs(args.input) or None, keys=keys)
    except WorkloadError as e:
        raise UserError(str(e)) from None
    print(to_json(res) if args.json else summary(res))
    if args.out:
        try:
            text, skipped = layers_yaml(res)
        except WorkloadError as e:
            raise UserError(str(e)) from None
        try:
            Path(args.out).write_text(text)
        except OSError as e:
            raise UserError(f"-o {args.out}: cannot write ({e.strerror})") from None
        if not args.json:
            print(f"wrote {args.out}: {len(res.network.nodes)} nodes, {len(res.layers) - skipped} MAC layers"
                  + (f" ({skipped} MAC layers without a layers: key written as op other)" if skipped else ""))
    return 0
