"""Technology presets: energy per operation / per bit moved, and a first-order area model.

Every default number is a :class:`Figure` carrying its source, and
``Tech.sources()`` lists all figures a preset uses. Results built on them are
first-order estimates. Memory and forwarding energy is charged **per bit**
(a 32-bit partial sum costs four times an 8-bit operand) unless a user table
says a figure is per access. Three kinds of table (never mixed):

- ``horowitz45``: absolute pJ at 45 nm, 0.9 V (Horowitz ISSCC 2014; Han et
  al. NIPS 2015 Fig. 1). The cited per-word figures are kept; per-bit values
  are derived from them (word energy / word bits, the ``*_per_bit`` and
  ``sram_word_rule`` figures). Widths the paper does not list for
  arithmetic raise :class:`TechError` (no invented 16-bit multiply).
- ``eyeriss65``: Chen, Emer, Sze ISCA 2016 Table IV, normalized to one
  16-bit MAC (``energy_unit == "MAC"``: results are in MACs, not pJ). The
  cited figures are per access of a 16-bit word (``word_bits``); each memory
  is charged figure / 16 per bit. A MAC costs 1 whatever the width.
- a user table (dict): ``mac_pj`` (per MAC) and, for each of ``reg, forward,
  glb, acc, dram``, either ``<k>_pj`` (per access of one word, whatever its
  width: the Timeloop-style table) or ``<k>_pj_per_bit`` (per bit moved);
  ``sram_pj`` / ``sram_pj_per_bit`` set glb and acc together; optional area
  keys ``pe_area_um2, sram_area_um2_per_byte, fixed_area_mm2`` (defaults:
  the 45 nm area model) and meta keys ``name, source``. No leakage term.

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
#: horowitz45 SRAM per bit: each cited 64-bit-word read / sram_word_rule (what sram_pj interpolates)
for _size in ("8KB", "32KB", "1MB"):
    HOROWITZ45[f"sram_{_size}_per_bit"] = F(HOROWITZ45[f"sram_read_{_size}"].value
                                            / HOROWITZ45["sram_word_rule"].value, "pJ/bit",
                                            f"derived: sram_read_{_size} {HOROWITZ45[f'sram_read_{_size}'].value:g}"
                                            " pJ / 64 bits (sram_word_rule)")

EY = ("Chen, Emer, Sze, 'Eyeriss', ISCA 2016, Table IV, normalized to one 16-bit MAC (nn_dataflow "
      "--hier-cost 200 6 2 1, stanford-mast/nn_dataflow issue 6)")
_EY16 = " per access of a 16-bit word"
EYERISS65 = {
    "mac": F(1.0, "MAC", EY + ": ALU (16-bit MAC; assumption: any width costs one MAC)"),
    "reg": F(1.0, "MAC", EY + ": 0.5 kB register file in the PE," + _EY16),
    "forward": F(2.0, "MAC", EY + ": array (inter-PE network)," + _EY16),
    "glb": F(6.0, "MAC", EY + ": global buffer (>100 kB), applied at any size," + _EY16),
    "acc": F(6.0, "MAC", "assumption: the accumulator SRAM costs as the global buffer (" + EY + ")," + _EY16),
    "dram": F(200.0, "MAC", EY + ": DRAM," + _EY16),
    "word_bits": F(16.0, "bits", EY + ": Eyeriss moves 16-bit words (fixed-point 16-bit data path)"),
    "area_scale": F((65 / 45) ** 2, "x", "assumption: the 45 nm areas scaled ideally by (65/45)^2"),
}
#: eyeriss65 per bit: each cited per-access figure / word_bits (energy linear in bits moved)
for _k in ("reg", "forward", "glb", "acc", "dram"):
    EYERISS65[_k + "_per_bit"] = F(EYERISS65[_k].value / 16, "MAC/bit", f"derived: {_k} "
                                   f"{EYERISS65[_k].value:g} MAC / 16 bits (assumption: linear in bits moved)")

PRESETS = ("horowitz45", "eyeriss65")
_ENERGY = ("mac", "reg", "forward", "glb", "acc", "dram")     # energy table keys
_MOVES = _ENERGY[1:]                                          # charged per access or per bit
_USER_KEYS = (tuple(k + "_pj" for k in _ENERGY) + tuple(k + "_pj_per_bit" for k in _MOVES) + (
    "sram_pj", "sram_pj_per_bit", "pe_area_um2", "sram_area_um2_per_byte", "fixed_area_mm2", "name", "source"))


@dataclass(frozen=True)
class Tech:
    """Energy per operation/access and area; built by :func:`load_tech`.

    `model` is ``"horowitz45"`` (its own width rules) or ``"table"``
    (eyeriss65 and user tables: per memory a ``<k>_per_bit`` figure, charged
    per bit, or a ``<k>`` figure, charged per access of one word).
    `figures` holds every number used, as ``(key, Figure)`` pairs.
    """

    name: str
    energy_unit: str
    fixed_area_mm2: float
    model: str
    figures: tuple[tuple[str, Figure], ...]
    table: tuple[tuple[str, object], ...] = ()

    def __post_init__(self):
        if self.model not in ("horowitz45", "table"):
            raise TechError(f"hardware.tech: model must be 'horowitz45' or 'table', got {self.model!r}")

    def _v(self, key: str) -> float:
        return dict(self.figures)[key].value

    def _has(self, key: str) -> bool:
        return any(k == key for k, _ in self.figures)

    def _widths(self, prefix: str) -> list[tuple[int, float]]:
        pat = re.compile(prefix + r"_(\d+)b")
        return sorted((int(m[1]), f.value) for k, f in self.figures if (m := pat.fullmatch(k)))

    def _move(self, kind: str, bits: int) -> float:
        """A table's energy of moving one `bits`-wide word: per bit if it has ``<kind>_per_bit``."""
        per_bit = dict(self.figures).get(kind + "_per_bit")
        return per_bit.value * bits if per_bit is not None else self._v(kind)

    def per_bit(self, kind: str) -> bool:
        """True when `kind` (reg, forward, glb, acc, dram) is charged per bit (False: per access)."""
        return self.model == "horowitz45" or self._has(kind + "_per_bit")

    def _pick(self, kind: str, bits: int, table: str, key: str) -> float:
        val = dict(self.figures).get(f"{kind}_{bits}b")
        if val is None:
            widths = [w for w, _ in self._widths(kind)]
            raise TechError(f"hardware.{key}: {self.name} has no {bits}-bit {table} (Horowitz ISSCC 2014 "
                            f"lists {', '.join(map(str, widths))} bits); give a user tech table with mac_pj")
        return val.value

    def mac_pj(self, op_bits: int, acc_bits: int) -> float:
        """Energy of one multiply (op_bits) and accumulate (acc_bits add); TechError on unlisted widths."""
        if self.model == "table":
            return self._v("mac")
        return (self._pick("int_mult", op_bits, "integer multiply", "op_bits")
                + self._pick("int_add", acc_bits, "integer add", "acc_bits"))

    def reg_pj(self, bits: int) -> float:
        """Energy of one PE register read or write of `bits`."""
        return self._move("reg", bits) if self.model == "table" else self._v("reg_per_bit") * bits

    def forward_pj(self, bits: int) -> float:
        """Energy of moving one `bits`-wide operand one PE hop in the array."""
        return self._move("forward", bits) if self.model == "table" else self._v("forward_per_bit") * bits

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
        if self.model == "table":
            e = np.full(size.shape, self._move(kind, bits))
        else:
            xs = np.log2([8 * _KB, 32 * _KB, _KB * _KB])
            ys = [self._v(f"sram_{k}_per_bit") for k in ("8KB", "32KB", "1MB")]
            slope = self._v("sram_size_rule") / self._v("sram_word_rule")
            x = np.log2(size)
            e = np.where(x > xs[-1], ys[-1] + slope * (x - xs[-1]), np.interp(x, xs, ys)) * bits
        return float(e) if e.ndim == 0 else e

    def dram_pj(self, bits: int) -> float:
        """Energy of one DRAM access of `bits`."""
        return self._move("dram", bits) if self.model == "table" else self._v("dram_per_bit") * bits

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


def _user_energy(table: dict, num, src: str) -> dict:
    """The energy figures of a user table: per MAC, and per access (``<k>``) or per bit (``<k>_per_bit``)."""
    given = {}                                  # kind -> (table key, value, per_bit)
    for key in table:
        for per_bit, suffix in ((True, "_pj_per_bit"), (False, "_pj")):
            if key.endswith(suffix):
                kind = key[:-len(suffix)]
                kinds = ("glb", "acc") if kind == "sram" else (kind,)
                for k in kinds:
                    if k in given:
                        raise TechError(f"hardware.tech.{key}: {k} energy also given by {given[k][0]}; give "
                                        f"{k}_pj (per access) or {k}_pj_per_bit (per bit) or sram_pj / "
                                        f"sram_pj_per_bit (glb and acc), not both")
                    given[k] = (key, num(key), per_bit)
                break
    for key in ("mac", "reg", "glb", "dram"):
        if key not in given:
            raise TechError(f"hardware.tech.{key}_pj: required in a user tech table"
                            + ("" if key == "mac" else f" (or {key}_pj_per_bit)")
                            + (" (or sram_pj)" if key == "glb" else ""))
    figs = {}
    for k, (key, v, per_bit) in given.items():
        if per_bit:
            figs[k + "_per_bit"] = F(v, "pJ/bit", f"{src} ({key}, per bit moved)")
        else:
            figs[k] = F(v, "pJ", f"{src} ({key}, per access of one word, any width)")
    if "acc" not in given:
        suffix = "_per_bit" if given["glb"][2] else ""
        g = figs["glb" + suffix]
        figs["acc" + suffix] = F(g.value, g.unit, f"assumption: no acc energy, the accumulator costs "
                                 f"{given['glb'][0]}")
    if "forward" not in given:
        figs["forward"] = F(0.0, "pJ", "assumption: no forward_pj, forwarding costs 0")
    return dict(sorted(figs.items()))          # independent of the table's key order


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
    figs = _user_energy(table, num, table.get("source", "user table"))
    src = table.get("source", "user table")
    pe_keys = {"int_add_area_8b", "int_add_area_16b", "int_add_area_32b", "int_mult_area_8b",
               "int_mult_area_32b", "width_interp", "dff_area", "pe_op_regs", "pe_acc_regs"}
    drop = ({"fixed_area"} | (pe_keys if "pe_area_um2" in table else set())
            | ({"sram_cell_area", "sram_array_efficiency"} if "sram_area_um2_per_byte" in table else set()))
    area = {k: f for k, f in AREA45.items() if k not in drop}
    for key, unit in (("pe_area_um2", "um2"), ("sram_area_um2_per_byte", "um2/byte")):
        if key in table:
            area[key] = F(num(key), unit, src)
    fixed = F(num("fixed_area_mm2"), "mm2", src) if "fixed_area_mm2" in table else AREA45["fixed_area"]
    return Tech(table.get("name", "user"), "pJ", fixed.value, "table",
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
                    "table", _figs(EYERISS65, AREA45))
    raise TechError(f"hardware.tech: unknown preset {spec!r}; choose {' or '.join(PRESETS)} "
                    "or give a table")


@lru_cache(maxsize=256)
def cached_tech(spec: str | tuple) -> Tech:
    """`load_tech` of a hashable spec (a preset name, or a user table as sorted pairs), cached."""
    return load_tech(dict(spec) if isinstance(spec, tuple) else spec)
