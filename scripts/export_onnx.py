"""Export a torchvision model, or any ``nn.Module``, to ONNX for ``codesign import``.

    python scripts/export_onnx.py resnet18 -o resnet18.onnx [--image 224] [--batch 1] [--dynamic-batch]
    python scripts/export_onnx.py mypkg.models:Net -o net.onnx --shape 1,3,64,64
    codesign import resnet18.onnx

The first argument is a torchvision model name (``torchvision.models.<name>``,
built without downloading weights: only shapes matter to codesign) or
``module:attribute`` naming an ``nn.Module`` subclass or factory (called with
no arguments). Without torchvision, ``resnet18`` is this script's own copy of
torchvision's ResNet-18 (`resnet18`). PyTorch is optional for codesign and
imported only here; the script says how to install it when it is absent.
``--dynamic-batch`` marks the batch dimension symbolic (then give ``codesign
import --batch N`` or ``workload: {batch: N}``). The export uses PyTorch's
TorchScript exporter (``dynamo=False``: the torch.export one needs the
``onnxscript`` package).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

INSTALL = ("PyTorch is not installed (it is optional for codesign). Install it into the venv with\n"
           "  .venv/bin/pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu\n"
           "then run this script again.")
NO_TORCHVISION = ("{spec}: torchvision is not installed (only resnet18 is built in); install it with\n"
                  "  .venv/bin/pip install torchvision --index-url https://download.pytorch.org/whl/cpu\n"
                  "or name an nn.Module as module:attribute.")


def _torch():
    try:
        import torch
    except ImportError:
        sys.exit(INSTALL)
    return torch


def build_module(spec: str):
    """The ``nn.Module`` named by `spec` (a torchvision model name or ``module:attribute``)."""
    if ":" in spec:
        mod, _, attr = spec.partition(":")
        try:
            obj = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as e:
            sys.exit(f"error: {spec}: {e}")
        return obj()
    try:
        import torchvision
    except ImportError:
        if spec == "resnet18":
            print("torchvision is not installed: exporting this script's ResNet-18 (torchvision's architecture)")
            return resnet18()
        sys.exit(NO_TORCHVISION.format(spec=spec))
    try:
        return torchvision.models.get_model(spec, weights=None)
    except (ValueError, KeyError):
        names = ", ".join(sorted(torchvision.models.list_models())[:12])
        sys.exit(f"error: {spec}: not a torchvision model (e.g. {names}, ...) nor module:attribute")


def resnet18():
    """ResNet-18 as torchvision builds it (torchvision/models/resnet.py: ``BasicBlock``, ``ResNet.__init__``
    and ``_make_layer`` with layers [2, 2, 2, 2]): a 7x7/2 stem, a 3x3/2 max pool, four stages of two
    basic blocks (64, 128, 256, 512 channels; the first block of stages 2-4 strides 2 with a 1x1/2
    downsample), a global average pool and a 1000-way linear layer; convs without bias, each followed by
    batchnorm."""
    nn = _torch().nn

    class BasicBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1, self.relu = nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None if stride == 1 and cin == cout else \
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            identity = x if self.downsample is None else self.downsample(x)     # after, as torchvision's
            return self.relu(out + identity)

    stages = [BasicBlock(cin, cout, s) for cin, cout, s in
              [(64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1),
               (256, 512, 2), (512, 512, 1)]]
    return nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                         nn.MaxPool2d(3, 2, 1), *stages, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(512, 1000))


def export(module, shape: tuple[int, ...], out: str, *, dynamic_batch: bool = False, opset: int = 17) -> None:
    """Trace `module` on a zero input of `shape` and write ONNX to `out` (weights included)."""
    torch = _torch()
    module.eval()
    x = torch.zeros(shape)
    axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
    kw = dict(input_names=["input"], output_names=["output"], dynamic_axes=axes, opset_version=opset)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning)
        try:        # the TorchScript exporter; torch < 2.5 has no `dynamo` argument
            torch.onnx.export(module, (x,), out, dynamo=False, **kw)
        except TypeError:
            torch.onnx.export(module, (x,), out, **kw)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="torchvision model name (resnet18, mobilenet_v2, vit_b_16, ...) or module:attribute")
    p.add_argument("-o", "--out", required=True, help="the .onnx file to write")
    p.add_argument("--shape", help="input shape, comma-separated (default: BATCH,3,IMAGE,IMAGE)")
    p.add_argument("--image", type=int, default=224, help="image size for the default shape (default 224)")
    p.add_argument("--batch", type=int, default=1, help="batch size for the default shape (default 1)")
    p.add_argument("--dynamic-batch", action="store_true", help="make the batch dimension symbolic")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    args = p.parse_args(argv)
    _torch()
    try:
        shape = tuple(int(d) for d in args.shape.split(",")) if args.shape else \
            (args.batch, 3, args.image, args.image)
    except ValueError:
        sys.exit(f"error: --shape {args.shape}: give comma-separated integers, e.g. 1,3,224,224")
    export(build_module(args.model), shape, args.out, dynamic_batch=args.dynamic_batch, opset=args.opset)
    print(f"wrote {args.out} (input {list(shape)}); next: codesign import {args.out}"
          + (" --batch N" if args.dynamic_batch else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
