"""Time codesign.yamlio on big files: a 5 MB config loads, a 50 MB one is refused.

Prints seconds for load_yaml (libyaml events + one Python pass) against
yaml.load(Loader=CSafeLoader) and the pure-Python yaml.safe_load on the same
generated 5 MB file, and for refusing a 50 MB (sparse) file.
Run: .venv/bin/python benchmarks/bench_yamlio.py
"""
import random
import sys
import tempfile
import time
from pathlib import Path

import yaml

from codesign.errors import UserError
from codesign.yamlio import C_PARSER, load_yaml


def _layers_yaml(n_bytes: int) -> str:
    rng = random.Random(0)
    parts, size, i = ["layers:\n"], 0, 0
    while size < n_bytes:
        item = (f"  - name: conv{i}\n    kind: conv2d\n    c: {rng.randint(1, 512)}\n"
                f"    m: {rng.randint(1, 512)}\n    r: 3\n    s: 3\n    stride: 1\n"
                f"    note: \"layer {i}\"\n")
        parts.append(item)
        size += len(item)
        i += 1
    return "".join(parts)


def _seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(_layers_yaml(5 * 10**6))
        text = path.read_text()
        print(f"libyaml available: {C_PARSER}; file: {path.stat().st_size / 1e6:.1f} MB")
        print(f"codesign.yamlio.load_yaml        {_seconds(lambda: load_yaml(path)):6.2f} s")
        print(f"yaml.load(Loader=CSafeLoader)    {_seconds(lambda: yaml.load(text, Loader=yaml.CSafeLoader)):6.2f} s")
        if "--all" in sys.argv:
            print(f"yaml.safe_load (pure Python)     {_seconds(lambda: yaml.safe_load(text)):6.2f} s")
        huge = Path(tmp) / "huge.yaml"
        with open(huge, "wb") as f:
            f.truncate(50 * 10**6)

        def refuse() -> None:
            try:
                load_yaml(huge)
            except UserError:
                return
            raise AssertionError("50 MB file accepted")
        print(f"refuse a 50 MB file              {_seconds(refuse) * 1e3:6.2f} ms")


if __name__ == "__main__":
    main()
