"""The DMA against the simulated DRAM, without the array: bursts obey AXI4 (INCR, at most
16 beats, never across 4 KiB), words land in order, a load of n beats takes n + 1 busy
cycles, and the AXI4-Lite register file reads back what it holds."""
import numpy as np
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from codesign.families.systolic.rtl.axi import MAX_BURST_BEATS, DramModel, burst_beats
from codesign.families.systolic.rtl.descriptors import from_beats, to_beats
from codesign.families.systolic.rtl.dma import Dma, beats_per_word
from codesign.families.systolic.rtl.params import RtlParams
from codesign.families.systolic.rtl.regs import REGISTERS, Regs, desc_base
from codesign.families.systolic.rtl.soc_sim import _lite_read, _lite_write


def test_burst_beats_rule():
    assert burst_beats(0, 100, 8) == MAX_BURST_BEATS
    assert burst_beats(510, 100, 8) == 2            # 512 beats of 8 bytes per 4 KiB
    assert burst_beats(3, 5, 64) == 5


def test_load_crosses_4k_in_legal_bursts():
    p = RtlParams(rows=4, cols=2, dataflow="os", op_bits=16, west_depth=128, north_depth=4, acc_depth=4)
    data_bytes, words, start_beat = 4, 100, 4096 // 4 - 37      # 2 beats per west word, start 37 beats below 4 KiB
    k = beats_per_word(p, data_bytes)["west"]
    rng = np.random.default_rng(1)
    want = [int(w) for w in rng.integers(0, 1 << 64, words, dtype=np.uint64)]
    dma, dram = Dma(p, data_bytes), DramModel(data_bytes, start_beat + words * k)
    m = Module()
    m.submodules.dma, m.submodules.dram = dma, dram
    wiring.connect(m, dma.axi, dram.axi)
    sim = Simulator(m)
    sim.add_clock(1e-6)
    got, bursts, busy = {}, [], [0]

    async def bench(ctx):
        for i, w in enumerate(want):
            for j, beat in enumerate(to_beats(w, k, data_bytes)):
                ctx.set(dram.mem_data[start_beat + i * k + j], beat)
        ctx.set(dma.cmd_valid, 1)
        ctx.set(dma.cmd_target, 0)
        ctx.set(dma.cmd_addr, start_beat * data_bytes)
        ctx.set(dma.cmd_words, words)
        await ctx.tick()
        ctx.set(dma.cmd_valid, 0)
        while ctx.get(dma.busy):
            busy[0] += 1
            if ctx.get(dma.axi.arvalid) and ctx.get(dma.axi.arready):
                bursts.append((ctx.get(dma.axi.araddr), ctx.get(dma.axi.arlen) + 1))
            if ctx.get(dma.west_we):
                got[ctx.get(dma.west_addr)] = ctx.get(dma.west_wdata)
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    assert [got[i] for i in range(words)] == want
    assert busy[0] == words * k + 1
    assert sum(n for _, n in bursts) == words * k
    for addr, n in bursts:
        assert n <= MAX_BURST_BEATS and addr // 4096 == (addr + n * data_bytes - 1) // 4096, (addr, n)
    assert from_beats(to_beats(want[0], k, data_bytes), data_bytes) == want[0]


def test_registers_read_back():
    regs = Regs(4)
    sim = Simulator(regs)
    sim.add_clock(1e-6)
    seen = {}

    async def bench(ctx):
        ctx.set(regs.cycles, 1234)
        await _lite_write(ctx, regs.bus, REGISTERS["NDESC"], 3)
        await _lite_write(ctx, regs.bus, desc_base(4) + (2 * 16 + 5) * 4, 77)
        seen["ndesc"] = await _lite_read(ctx, regs.bus, REGISTERS["NDESC"])
        seen["cycles"] = await _lite_read(ctx, regs.bus, REGISTERS["CYCLES"])
        seen["desc"] = await _lite_read(ctx, regs.bus, desc_base(4) + REGISTERS["CYCLES"])
        ctx.set(regs.fetch_addr, 2)
        await ctx.tick()
        seen["field"] = ctx.get(regs.fields[5])

    sim.add_testbench(bench)
    sim.run()
    assert seen == {"ndesc": 3, "cycles": 1234, "desc": 0, "field": 77}
