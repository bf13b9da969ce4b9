"""Technology presets: energy per operation / access and a first-order area model.

Every default number is a :class:`Figure` carrying its source, and
``Tech.sources()`` lists all figures a preset uses. Results built on them are
first-order estimates. Three kinds of table (never mixed):

- ``horowitz45``: absolute pJ at 45 nm, 0.9 V (Horowitz ISSCC 2014; Han et
  al. NIPS 2015 Fig. 1). Width-dependent; widths the paper does not list
  raise :class:`TechError` (no invented 16-bit multiply).
- ``eyeriss65``: Chen, Emer, Sze ISCA 2016 Table IV, normalized to one
  16-bit MAC. ``energy_unit == "MAC"``: every method returns multiples of
  one MAC per access, whatever the width -- results are in MACs, not pJ.
- a user table (dict), energy per access of one word, whatever its width:
  ``mac_pj, reg_pj, forward_pj, glb_pj, acc_pj, dram_pj`` (``sram_pj`` sets
  glb and acc together); optional area keys ``pe_area_um2,
  sram_area_um2_per_byte, fixed_area_mm2`` (defaults: the 45 nm area
  model) and meta keys ``name, source``. No leakage term.

Area (all kinds, first order): PE = multiplier + accumulator adder +
flip-flops; SRAM = 6T cell area / array efficiency; plus a fixed area.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .errors import UserError

__all__ = ["Figure", "Tech", "TechError", "load_tech", "cached_tech", "PRESETS"]


class TechError(UserError, ValueError):
    """A bad technology table or an unsupported width (message names the key)."""


@dataclass(frozen=True)
class Figure:
    """One cited number."""

    value: float
    unit: str
    source: str


F = Figure
HZ = ("Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014, "
      "DOI 10.1109/ISSCC.2014.6757323, 45 nm 0.9 V energy table")
HAN = "Han et al., 'Learning both Weights and Connections...', NIPS 2015, Fig. 1 (45 nm)"
HZ_AREA = ("Horowitz ISSCC 2014, 45 nm operation cost table, area column (transcribed; "
           "not verified here against the paper)")
_KB = 1024

#: 45 nm area model, shared by every table (eyeriss65 scales it, user tables may override it)
AREA45 = {
    "int_add_area_8b": F(36.0, "um2", HZ_AREA), "int_add_area_16b": F(67.0, "um2", HZ_AREA),
    "int_add_area_32b": F(137.0, "um2", HZ_AREA),
    "int_mult_area_8b": F(282.0, "um2", HZ_AREA), "int_mult_area_32b": F(3495.0, "um2", HZ_AREA),
    "width_interp": F(282.0 * 2 ** (math.log(3495 / 282) / math.log(4)), "um2", "interpolation: "
                      "adder/multiplier area for an unlisted width is linear in log(area) vs log(bits) "
                      "between listed neighbours (value: the 16-bit multiplier); outside 8..32 raises"),
    "dff_area": F(4.522, "um2/bit", "NanGate FreePDK45 Open Cell Library, DFF_X1 area "
                  "(NangateOpenCellLibrary_typical.lib, 2011)"),
    "pe_op_regs": F(2.0, "op_bits-wide registers", "assumption: a PE holds two operand-wide "
                    "flip-flop registers (forwarded or stationary operands) in every dataflow"),
    "pe_acc_regs": F(1.0, "acc_bits-wide registers", "assumption: a PE holds one accumulator-wide "
                     "flip-flop register (the partial sum) in every dataflow"),
    "sram_cell_area": F(0.346, "um2/bit", "Intel 45 nm 6T SRAM cell, Mistry et al., IEDM 2007 "
                        "(also Intel's 153 Mbit 45 nm SRAM announcement, Jan. 2006)"),
    "sram_array_efficiency": F(0.7, "fraction", "assumption: cells are 70% of SRAM macro area "
                               "(decoders, sense amps, I/O the rest), independent of size"),
    "fixed_area": F(0.1, "mm2", "assumption: controller, DMA and glue logic; order of magnitude only"),
}

HOROWITZ45 = {
    "int_mult_8b": F(0.2, "pJ", HZ), "int_mult_32b": F(3.1, "pJ", HZ),
    "int_add_8b": F(0.03, "pJ", HZ), "int_add_16b": F(0.05, "pJ", HZ), "int_add_32b": F(0.1, "pJ", HZ),
    "sram_read_8KB": F(10.0, "pJ", HZ + " (64-bit word, 8 KB array)"),
    "sram_read_32KB": F(20.0, "pJ", HZ + " (64-bit word, 32 KB array)"),
    "sram_read_1MB": F(100.0, "pJ", HZ + " (64-bit word, 1 MB array)"),
    "sram_size_rule": F(16.0, "pJ per doubling", "interpolation: linear in log2(size) between the "
                        "listed sizes; clamped to the 8 KB value below 8 KB; above 1 MB extrapolated "
                        "on the 32 KB-1 MB line (value: its slope)"),
    "sram_word_rule": F(64.0, "bits", "assumption: SRAM access energy scales linearly with word "
                        "bits / 64; a write costs the same as a read"),
    "rf_32b": F(1.0, "pJ", HAN + ", 32-bit register file access"),
    "reg_per_bit": F(1 / 32, "pJ/bit", "assumption: PE register access (read or write) linear in "
                     "bits, scaled from Han's 32-bit register file access"),
    "forward_per_bit": F(1 / 32, "pJ/bit", "assumption: one PE hop = one write into the next PE's "
                         "pipeline register, same per-bit energy as reg_per_bit (wire energy ignored)"),
    "dram_32b": F(640.0, "pJ", HAN + ", 32-bit DRAM access"),
    "dram_per_bit": F(20.0, "pJ/bit", "derived: Han 640 pJ / 32 bits, linear in bits (Horowitz's "
                      "64-bit DRAM 1300-2600 pJ gives 20-41 pJ/bit; the low end is used)"),
}

EY = ("Chen, Emer, Sze, 'Eyeriss', ISCA 2016, Table IV, normalized to one 16-bit MAC (nn_dataflow "
      "--hier-cost 200 6 2 1, stanford-mast/nn_dataflow issue 6)")
EYERISS65 = {
    "mac": F(1.0, "MAC", EY + ": ALU"), "reg": F(1.0, "MAC", EY + ": 0.5 kB register file in the PE"),
    "forward": F(2.0, "MAC", EY + ": array (inter-PE network)"),
    "glb": F(6.0, "MAC", EY + ": global buffer (>100 kB), applied at any size"),
    "acc": F(6.0, "MAC", "assumption: the accumulator SRAM costs as the global buffer (" + EY + ")"),
    "dram": F(200.0, "MAC", EY + ": DRAM"),
    "area_scale": F((65 / 45) ** 2, "x", "assumption: the 45 nm areas scaled ideally by (65/45)^2"),
}

PRESETS = ("horowitz45", "eyeriss65")
_ENERGY = ("mac", "reg", "forward", "glb", "acc", "dram")     # per-access table keys
_USER_KEYS = tuple(k + "_pj" for k in _ENERGY) + (
    "sram_pj", "pe_area_um2", "sram_area_um2_per_byte", "fixed_area_mm2", "name", "source")


@dataclass(frozen=True)
class Tech:
    """Energy per operation/access and area; built by :func:`load_tech`.

    `model` is ``"horowitz45"`` (width-dependent) or ``"per_access"``
    (eyeriss65 and user tables: one number per access, whatever the width).
    `figures` holds every number used, as ``(key, Figure)`` pairs.
    """

    name: str
    energy_unit: str
    fixed_area_mm2: float
    model: str
    figures: tuple[tuple[str, Figure], ...]
    table: tuple[tuple[str, object], ...] = ()

    def __post_init__(self):
        if self.model not in ("horowitz45", "per_access"):
            raise TechError(f"hardware.tech: model must be 'horowitz45' or 'per_access', got {self.model!r}")

    def _v(self, key: str) -> float:
        return dict(self.figures)[key].value

    def _has(self, key: str) -> bool:
        return any(k == key for k, _ in self.figures)

    def _widths(self, prefix: str) -> list[tuple[int, float]]:
        pat = re.compile(prefix + r"_(\d+)b")
        return sorted((int(m[1]), f.value) for k, f in self.figures if (m := pat.fullmatch(k)))

    def _pick(self, kind: str, bits: int, table: str, key: str) -> float:
        val = dict(self.figures).get(f"{kind}_{bits}b")
        if val is None:
            widths = [w for w, _ in self._widths(kind)]
            raise TechError(f"hardware.{key}: {self.name} has no {bits}-bit {table} (Horowitz ISSCC 2014 "
                            f"lists {', '.join(map(str, widths))} bits); give a user tech table with mac_pj")
        return val.value

    def mac_pj(self, op_bits: int, acc_bits: int) -> float:
        """Energy of one multiply (op_bits) and accumulate (acc_bits add); TechError on unlisted widths."""
        if self.model == "per_access":
            return self._v("mac")
        return (self._pick("int_mult", op_bits, "integer multiply", "op_bits")
                + self._pick("int_add", acc_bits, "integer add", "acc_bits"))

    def reg_pj(self, bits: int) -> float:
        """Energy of one PE register read or write of `bits`."""
        return self._v("reg") if self.model == "per_access" else self._v("rf_32b") * bits / 32

    def forward_pj(self, bits: int) -> float:
        """Energy of moving one `bits`-wide operand one PE hop in the array."""
        return self._v("forward") if self.model == "per_access" else self._v("forward_per_bit") * bits

    def sram_pj(self, size_bytes, bits: int, kind: str = "glb"):
        """Energy of one read or write of a `bits`-wide word in an SRAM of `size_bytes`.

        `kind` is ``"glb"`` (scratchpad) or ``"acc"`` (accumulator SRAM);
        only per-access tables distinguish them. Accepts numpy arrays of sizes.
        """
        if kind not in ("glb", "acc"):
            raise TechError(f"hardware.tech: sram kind must be 'glb' or 'acc', got {kind!r}")
        size = np.asarray(size_bytes, dtype=float)
        if np.any(~(size > 0)):
            raise TechError(f"hardware.{kind}_kib: SRAM size must be > 0, got {size_bytes!r}")
        if self.model == "per_access":
            e = np.full(size.shape, self._v(kind))
        else:
            xs = np.log2([8 * _KB, 32 * _KB, _KB * _KB])
            ys = [self._v("sram_read_8KB"), self._v("sram_read_32KB"), self._v("sram_read_1MB")]
            x = np.log2(size)
            e = np.where(x > xs[-1], ys[-1] + self._v("sram_size_rule") * (x - xs[-1]), np.interp(x, xs, ys))
            e = e * (bits / self._v("sram_word_rule"))
        return float(e) if e.ndim == 0 else e

    def dram_pj(self, bits: int) -> float:
        """Energy of one DRAM access of `bits`."""
        return self._v("dram") if self.model == "per_access" else self._v("dram_per_bit") * bits

    def _area45(self, kind: str, bits: int, key: str) -> float:
        pts = self._widths(f"{kind}_area")
        ws = [w for w, _ in pts]
        if not ws[0] <= bits <= ws[-1]:
            what = "multipliers" if kind == "int_mult" else "adders"
            raise TechError(f"hardware.{key}: the area model covers {ws[0]} to {ws[-1]}-bit {what}, "
                            f"got {bits}; give pe_area_um2 in a user tech table")
        return float(np.exp(np.interp(math.log(bits), np.log(ws), np.log([a for _, a in pts]))))

    def pe_area_mm2(self, op_bits: int, acc_bits: int) -> float:
        """First-order area of one PE: multiplier + accumulator adder + flip-flops, in mm2."""
        if self._has("pe_area_um2"):
            return self._v("pe_area_um2") / 1e6
        regs = (self._v("pe_op_regs") * op_bits + self._v("pe_acc_regs") * acc_bits) * self._v("dff_area")
        um2 = (self._area45("int_mult", op_bits, "op_bits") + self._area45("int_add", acc_bits, "acc_bits")
               + regs)
        return um2 * self._scale() / 1e6

    def sram_area_mm2(self, size_bytes):
        """First-order SRAM area (cells / array efficiency), linear in size, in mm2."""
        if self._has("sram_area_um2_per_byte"):
            per_byte = self._v("sram_area_um2_per_byte")
        else:
            per_byte = 8 * self._v("sram_cell_area") / self._v("sram_array_efficiency") * self._scale()
        area = np.asarray(size_bytes, dtype=float) * per_byte / 1e6
        return float(area) if area.ndim == 0 else area

    def _scale(self) -> float:
        return self._v("area_scale") if self._has("area_scale") else 1.0

    def sources(self) -> dict[str, Figure]:
        """Every figure this table uses, by key (for printing or JSON)."""
        return dict(self.figures)

    def spec(self) -> str | dict:
        """What :func:`load_tech` was given: ``load_tech(t.spec()) == t``."""
        return dict(self.table) if self.table else self.name


def _figs(*tables: dict) -> tuple[tuple[str, Figure], ...]:
    return tuple((k, f) for t in tables for k, f in t.items())


def _user(table: dict) -> Tech:
    def num(key):
        v = table[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise TechError(f"hardware.tech.{key}: must be a number >= 0, got {v!r}")
        return float(v)
    for key in table:
        if key not in _USER_KEYS:
            raise TechError(f"hardware.tech.{key}: unknown key; allowed: {', '.join(_USER_KEYS)}")
    for key in ("name", "source"):
        if key in table and not (isinstance(table[key], str) and table[key]):
            raise TechError(f"hardware.tech.{key}: must be a non-empty string, got {table[key]!r}")
    if "sram_pj" in table and ("glb_pj" in table or "acc_pj" in table):
        raise TechError("hardware.tech.sram_pj: give either sram_pj (both buffers) or glb_pj/acc_pj, "
                        "not both")
    src = table.get("source", "user table")
    vals = {k[:-3]: num(k) for k in table if k.endswith("_pj")}
    if "sram" in vals:
        vals["glb"] = vals["acc"] = vals.pop("sram")
    for key in ("mac", "reg", "glb", "dram"):
        if key not in vals:
            raise TechError(f"hardware.tech.{key}_pj: required in a user tech table"
                            + (" (or sram_pj)" if key == "glb" else ""))
    label = {k: "sram_pj" if "sram_pj" in table and k in ("glb", "acc") else f"{k}_pj" for k in _ENERGY}
    figs = {k: F(vals[k], "pJ", f"{src} ({label[k]}, per access of one word, any width)")
            if k in vals else None for k in _ENERGY}
    figs["acc"] = figs["acc"] or F(vals["glb"], "pJ", "assumption: no acc_pj, the accumulator costs glb_pj")
    figs["forward"] = figs["forward"] or F(0.0, "pJ", "assumption: no forward_pj, forwarding costs 0")
    pe_keys = {"int_add_area_8b", "int_add_area_16b", "int_add_area_32b", "int_mult_area_8b",
               "int_mult_area_32b", "width_interp", "dff_area", "pe_op_regs", "pe_acc_regs"}
    drop = ({"fixed_area"} | (pe_keys if "pe_area_um2" in table else set())
            | ({"sram_cell_area", "sram_array_efficiency"} if "sram_area_um2_per_byte" in table else set()))
    area = {k: f for k, f in AREA45.items() if k not in drop}
    for key, unit in (("pe_area_um2", "um2"), ("sram_area_um2_per_byte", "um2/byte")):
        if key in table:
            area[key] = F(num(key), unit, src)
    fixed = F(num("fixed_area_mm2"), "mm2", src) if "fixed_area_mm2" in table else AREA45["fixed_area"]
    return Tech(table.get("name", "user"), "pJ", fixed.value, "per_access",
                _figs(figs, area, {"fixed_area": fixed}), tuple(sorted(table.items())))


def load_tech(spec: str | dict | Tech) -> Tech:
    """Build a :class:`Tech` from a preset name (``horowitz45``, ``eyeriss65``) or a user table dict.

    Raises TechError naming the offending key for unknown presets, unknown
    keys, missing or negative values.
    """
    if isinstance(spec, Tech):
        return spec
    if isinstance(spec, dict):
        return _user(spec)
    if spec == "horowitz45":
        return Tech("horowitz45", "pJ", AREA45["fixed_area"].value, "horowitz45", _figs(HOROWITZ45, AREA45))
    if spec == "eyeriss65":
        return Tech("eyeriss65", "MAC", AREA45["fixed_area"].value * EYERISS65["area_scale"].value,
                    "per_access", _figs(EYERISS65, AREA45))
    raise TechError(f"hardware.tech: unknown preset {spec!r}; choose {' or '.join(PRESETS)} "
                    "or give a table")


@lru_cache(maxsize=256)
def cached_tech(spec: str | tuple) -> Tech:
    """`load_tech` of a hashable spec (a preset name, or a user table as sorted pairs), cached."""
    return load_tech(dict(spec) if isinstance(spec, tuple) else spec)
