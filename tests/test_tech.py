"""Technology presets: cited figures come back exactly, interpolation, errors, area."""
import math

import numpy as np
import pytest

from codesign.tech import Figure, Tech, TechError, load_tech

KB = 1024
H = load_tech("horowitz45")
E = load_tech("eyeriss65")
#: the Timeloop reference set-up (energy per access of one word, 8-bit words)
TIMELOOP = {"mac_pj": 0.2, "reg_pj": 0.1, "glb_pj": 4, "acc_pj": 4, "dram_pj": 128, "forward_pj": 0}


def test_horowitz_table_values_exact():
    assert H.energy_unit == "pJ"
    assert H.mac_pj(8, 32) == 0.2 + 0.1
    assert H.mac_pj(8, 16) == 0.2 + 0.05
    assert H.mac_pj(32, 32) == 3.1 + 0.1
    assert H.mac_pj(8, 8) == 0.2 + 0.03
    assert H.reg_pj(32) == 1.0                      # Han et al. 32-bit RF
    assert H.reg_pj(8) == 0.25                      # linear per bit
    assert H.forward_pj(32) == 1.0
    assert H.dram_pj(32) == 640.0                   # Han et al. 32-bit DRAM
    assert H.dram_pj(8) == 160.0
    src = H.sources()
    assert (src["int_mult_8b"].value, src["int_mult_32b"].value) == (0.2, 3.1)
    assert (src["int_add_8b"].value, src["int_add_16b"].value, src["int_add_32b"].value) == (0.03, 0.05, 0.1)


def test_sram_hits_table_at_listed_sizes():
    assert H.sram_pj(8 * KB, 64) == 10.0
    assert H.sram_pj(32 * KB, 64) == 20.0
    assert H.sram_pj(KB * KB, 64) == 100.0
    assert H.sram_pj(8 * KB, 32) == 5.0             # = Han et al. 32-bit SRAM
    assert H.sram_pj(32 * KB, 64, kind="acc") == 20.0  # write = read, same for both buffers


def test_horowitz_restated_per_bit():
    """The cited per-word figures stay; the per-bit ones are derived from them and are what is charged."""
    src = H.sources()
    for size, cited in (("8KB", 10.0), ("32KB", 20.0), ("1MB", 100.0)):
        assert src[f"sram_read_{size}"].value == cited
        assert src[f"sram_{size}_per_bit"].value == cited / 64
        assert src[f"sram_{size}_per_bit"].source.startswith("derived")
    assert H.sram_pj(32 * KB, 32) == 4 * H.sram_pj(32 * KB, 8) == 32 * src["sram_32KB_per_bit"].value
    assert H.reg_pj(32) == 32 * src["reg_per_bit"].value and H.dram_pj(32) == 32 * src["dram_per_bit"].value
    assert all(H.per_bit(k) for k in ("reg", "forward", "glb", "acc", "dram"))


def test_sram_interpolates_between_and_clamps_extrapolates():
    e16 = H.sram_pj(16 * KB, 64)
    assert 10.0 < e16 < 20.0
    assert e16 == pytest.approx(15.0)                # linear in log2(size)
    assert H.sram_pj(1 * KB, 64) == 10.0             # clamped below 8 KB
    assert H.sram_pj(2 * KB * KB, 64) == pytest.approx(116.0)  # 32 KB-1 MB line continued


def test_sram_monotone_in_size_and_vectorized():
    sizes = np.geomspace(512, 8 * KB * KB, 60)
    e = H.sram_pj(sizes, 64)
    assert isinstance(e, np.ndarray) and e.shape == sizes.shape
    assert np.all(np.diff(e) >= 0)
    assert np.all(np.diff(e[sizes > 8 * KB]) > 0)
    assert [H.sram_pj(s, 64) for s in sizes[:5]] == list(e[:5])
    for bad in (0, -5, [1024, 0]):
        with pytest.raises(TechError, match="hardware.glb_kib"):
            H.sram_pj(bad, 64)
    with pytest.raises(TechError, match="kind"):
        H.sram_pj(1024, 64, kind="dram")


@pytest.mark.parametrize("op_bits, acc_bits, key, width", [
    (16, 32, "hardware.op_bits", "16-bit integer multiply"),
    (4, 32, "hardware.op_bits", "4-bit integer multiply"),
    (8, 24, "hardware.acc_bits", "24-bit integer add"),
])
def test_unlisted_widths_raise_with_key(op_bits, acc_bits, key, width):
    with pytest.raises(TechError) as err:
        H.mac_pj(op_bits, acc_bits)
    msg = str(err.value)
    assert msg.startswith(key + ":") and width in msg and "\n" not in msg


def test_eyeriss_relative_units_per_bit():
    """Table IV's figures are per 16-bit access: a 16-bit word costs them, other widths pro rata."""
    assert E.energy_unit == "MAC"
    for bits in (8, 16, 32):
        assert E.mac_pj(bits, 2 * bits) == 1.0
        assert E.reg_pj(bits) == 1.0 * bits / 16
        assert E.forward_pj(bits) == 2.0 * bits / 16
        assert E.dram_pj(bits) == 200.0 * bits / 16
        assert E.sram_pj(108 * KB, bits, "glb") == 6.0 * bits / 16
        assert E.sram_pj(16 * KB, bits, "acc") == 6.0 * bits / 16
    assert E.dram_pj(32) == 2 * E.dram_pj(16) == 400.0     # a 32-bit partial sum: two 16-bit words
    src = E.sources()
    assert (src["reg"].value, src["forward"].value, src["glb"].value, src["dram"].value) == (1, 2, 6, 200)
    assert src["word_bits"].value == 16 and src["glb_per_bit"].source.startswith("derived")
    assert all(E.per_bit(k) for k in ("reg", "forward", "glb", "acc", "dram"))
    assert E.pe_area_mm2(16, 32) > 0                 # 16-bit works for area (interpolated)


def test_user_table_per_bit_and_per_access_keys():
    """`<k>_pj` charges one word whatever its width, `<k>_pj_per_bit` charges its bits; mixable."""
    t = load_tech({"mac_pj": 0.3, "reg_pj_per_bit": 0.01, "glb_pj_per_bit": 0.25, "acc_pj": 9,
                   "dram_pj_per_bit": 20, "forward_pj_per_bit": 0.02})
    assert t.reg_pj(8) == 0.08 and t.reg_pj(32) == 0.32
    assert t.sram_pj(KB, 8, "glb") == 2.0 and t.sram_pj(KB, 32, "glb") == 8.0
    assert t.sram_pj(KB, 8, "acc") == t.sram_pj(KB, 32, "acc") == 9.0
    assert t.dram_pj(8) == 160.0 and t.dram_pj(32) == 640.0
    assert t.forward_pj(16) == 0.32
    assert t.per_bit("glb") and not t.per_bit("acc")
    assert load_tech(t.spec()) == t
    # sram_pj_per_bit sets both buffers; a missing acc follows glb's convention
    u = load_tech({"mac_pj": 1, "reg_pj": 1, "sram_pj_per_bit": 0.5, "dram_pj": 9})
    assert (u.sram_pj(1, 8, "glb"), u.sram_pj(1, 32, "acc")) == (4.0, 16.0)
    v = load_tech({"mac_pj": 1, "reg_pj": 1, "glb_pj_per_bit": 0.5, "dram_pj": 9})
    assert v.sram_pj(1, 32, "acc") == 16.0 and v.sources()["acc_per_bit"].source.startswith("assumption")
    for table, key in (({**TIMELOOP, "glb_pj_per_bit": 1}, "hardware.tech.glb_pj_per_bit"),
                       ({**TIMELOOP, "mac_pj_per_bit": 1}, "hardware.tech.mac_pj_per_bit"),
                       ({**TIMELOOP, "dram_pj_per_bit": -1}, "hardware.tech.dram_pj_per_bit")):
        with pytest.raises(TechError) as err:
            load_tech(table)
        assert str(err.value).startswith(key + ":"), str(err.value)


def test_user_table_timeloop_reference_and_round_trip():
    t = load_tech(TIMELOOP)
    assert t.energy_unit == "pJ" and t.name == "user"
    assert t.mac_pj(8, 32) == 0.2
    assert t.reg_pj(8) == 0.1
    assert t.sram_pj(256 * KB, 8, "glb") == 4.0
    assert t.sram_pj(64 * KB, 32, "acc") == 4.0
    assert t.dram_pj(8) == 128.0
    assert t.forward_pj(8) == 0.0
    assert load_tech(t.spec()) == t
    assert t.spec() == TIMELOOP
    assert load_tech("horowitz45").spec() == "horowitz45" and load_tech(H.spec()) == H
    assert load_tech(t) is t
    # glb and acc can differ; sram_pj sets both; missing acc_pj / forward_pj defaults are labelled
    u = load_tech({"mac_pj": 1, "reg_pj": 1, "glb_pj": 6, "acc_pj": 3, "dram_pj": 200})
    assert (u.sram_pj(1, 8, "glb"), u.sram_pj(1, 8, "acc")) == (6.0, 3.0)
    assert u.sources()["forward"].source.startswith("assumption")
    v = load_tech({"mac_pj": 1, "reg_pj": 1, "sram_pj": 5, "dram_pj": 9, "source": "my paper, Tab. 2"})
    assert (v.sram_pj(1, 8, "glb"), v.sram_pj(1, 8, "acc")) == (5.0, 5.0)
    assert "my paper, Tab. 2" in v.sources()["glb"].source


def test_user_table_area_keys_override():
    t = load_tech({**TIMELOOP, "pe_area_um2": 500, "sram_area_um2_per_byte": 2, "fixed_area_mm2": 0.5})
    assert t.pe_area_mm2(16, 32) == pytest.approx(500e-6)
    assert t.sram_area_mm2(1e6) == pytest.approx(2.0)
    assert t.fixed_area_mm2 == 0.5
    assert "dff_area" not in t.sources() and "sram_cell_area" not in t.sources()
    d = load_tech(TIMELOOP)                           # defaults: the 45 nm area model
    assert d.pe_area_mm2(8, 32) == H.pe_area_mm2(8, 32)
    assert d.sram_area_mm2(KB) == H.sram_area_mm2(KB) and d.fixed_area_mm2 == H.fixed_area_mm2


@pytest.mark.parametrize("table, key, what", [
    ({**TIMELOOP, "glb_kb": 4}, "hardware.tech.glb_kb", "unknown key"),
    ({**TIMELOOP, "leakage": 1}, "hardware.tech.leakage", "unknown key"),
    ({**TIMELOOP, "glb_pj": -1}, "hardware.tech.glb_pj", "must be a number >= 0"),
    ({**TIMELOOP, "dram_pj": "128"}, "hardware.tech.dram_pj", "must be a number >= 0"),
    ({**TIMELOOP, "mac_pj": True}, "hardware.tech.mac_pj", "must be a number >= 0"),
    ({**TIMELOOP, "reg_pj": math.nan}, "hardware.tech.reg_pj", "must be a number >= 0"),
    ({k: v for k, v in TIMELOOP.items() if k != "mac_pj"}, "hardware.tech.mac_pj", "required"),
    ({**TIMELOOP, "sram_pj": 4}, "hardware.tech.sram_pj", "not both"),
    ({**TIMELOOP, "pe_area_um2": -3}, "hardware.tech.pe_area_um2", "must be a number >= 0"),
])
def test_user_table_errors_name_the_key(table, key, what):
    with pytest.raises(TechError) as err:
        load_tech(table)
    msg = str(err.value)
    assert msg.startswith(key + ":") and what in msg and "\n" not in msg


def test_unknown_preset():
    with pytest.raises(TechError, match=r"^hardware\.tech: unknown preset 'horowitz65'"):
        load_tech("horowitz65")


def test_area_positive_and_monotone():
    for t in (H, E):
        sizes = np.geomspace(KB, 16 * KB * KB, 30)
        a = t.sram_area_mm2(sizes)
        assert np.all(a > 0) and np.all(np.diff(a) > 0)
        assert t.sram_area_mm2(2 * KB) == pytest.approx(2 * t.sram_area_mm2(KB))
        assert t.fixed_area_mm2 > 0
        areas = [t.pe_area_mm2(b, 32) for b in (8, 12, 16, 24, 32)]
        assert all(x > 0 for x in areas) and areas == sorted(areas)
        assert t.pe_area_mm2(8, 16) < t.pe_area_mm2(8, 32)
    # 8-bit PE at 45 nm: mult 282 + 32-bit add 137 + (2*8 + 32) flip-flops of 4.522 um2
    assert H.pe_area_mm2(8, 32) == pytest.approx((282 + 137 + 48 * 4.522) / 1e6)
    # 6T cell 0.346 um2 / 70% efficiency
    assert H.sram_area_mm2(1e6) == pytest.approx(8e6 * 0.346 / 0.7 / 1e6)
    assert E.pe_area_mm2(8, 32) == pytest.approx(H.pe_area_mm2(8, 32) * (65 / 45) ** 2)
    with pytest.raises(TechError, match=r"^hardware\.op_bits: .*covers 8 to 32-bit multipliers"):
        H.pe_area_mm2(4, 32)
    with pytest.raises(TechError, match=r"^hardware\.acc_bits: "):
        H.pe_area_mm2(8, 64)


def test_every_figure_has_a_source():
    for t in (H, E, load_tech(TIMELOOP)):
        src = t.sources()
        assert src
        for key, f in src.items():
            assert isinstance(f, Figure)
            assert isinstance(f.value, float) and math.isfinite(f.value), key
            assert f.unit.strip(), key
            assert f.source.strip(), key
    assert all("assumption" in H.sources()[k].source for k in ("reg_per_bit", "forward_per_bit"))
    for k in ("fixed_area", "sram_array_efficiency", "pe_op_regs", "pe_acc_regs", "sram_word_rule"):
        assert H.sources()[k].source.startswith("assumption"), k
    assert E.sources()["area_scale"].source.startswith("assumption")
    assert H.sources()["sram_size_rule"].source.startswith("interpolation")
    assert H.sources()["width_interp"].source.startswith("interpolation")
    assert "Horowitz" in H.sources()["int_mult_8b"].source
    assert "Han" in H.sources()["dram_32b"].source
    assert "ISCA 2016" in E.sources()["glb"].source


def test_presets_never_mixed():
    h, e = set(H.sources()), set(E.sources())
    assert "int_mult_8b" not in e and "sram_read_8KB" not in e
    assert "mac" not in h and "glb" not in h


def test_tech_is_frozen_and_validated():
    with pytest.raises(Exception):
        H.name = "x"
    with pytest.raises(TechError, match="model"):
        Tech("x", "pJ", 0.0, "bogus", ())
    assert hash(H) == hash(load_tech("horowitz45"))
