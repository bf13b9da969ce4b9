// C++ testbench of the SoC (Verilated `codesign_systolic_soc` as `Vtop`): the host over AXI4-Lite
// and the DRAM as an AXI4 slave, cycle for cycle the `axi.DramModel` that pysim uses.
// Written once, compiled per design by rtl/verilator.py; rtl/soc_verilator.py writes the program.
//
// usage: tb PROGRAM DRAM_OUT
//
// PROGRAM is little-endian uint32: magic, version, limbs per DRAM beat, log2(bytes per beat), byte
// address of descriptor 0 on AXI4-Lite, descriptors n, max clocks of the run, DRAM beats b, the
// register map (AXI4-Lite byte addresses of CTRL, NDESC, CYCLES, COMPUTE_CYCLES; words per
// descriptor w: regs.py's, so it lives in one place); then n * w descriptor words; then b beats
// of `limbs` words each (the DRAM image, byte address 0 up).
// The host writes the descriptors, NDESC and CTRL = 1 over AXI4-Lite, clocks until `irq`,
// reads CYCLES and COMPUTE_CYCLES over AXI4-Lite and writes the DRAM image to DRAM_OUT.
// It prints `clocks N seconds S cpu C` and `cycles X compute Y`.
// Exit status: 0 done, 2 bad program or files, 3 no irq within max clocks, 4 an access
// outside the DRAM image.
//
// DramModel, per cycle (its outputs depend on its state only): arready / awready while its
// one-entry queue of that direction is empty; rvalid while a read burst is active, rdata the
// beat at its address, rlast on its last beat; wready while a write burst is active and no read
// burst is (one beat per cycle in all, reads first); bvalid while write responses are pending
// (one the cycle after a burst's last beat). A burst accepted while none is active becomes
// active at the next edge, else it waits in the queue and follows the active one's last beat.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "Vtop.h"
#include "tb_common.h"

#define PORT(bus, sig) bus##___05F##sig

namespace {

constexpr uint32_t MAGIC = 0x43534443u;  // "CDSC"
constexpr uint32_t VERSION = 2;
enum Head : std::size_t { H_MAGIC, H_VERSION, H_LIMBS, H_SHIFT, H_BASE, H_NDESC, H_MAX_CLOCKS, H_BEATS, H_CTRL,
                          H_NDESC_REG, H_CYCLES, H_COMPUTE, H_DESC_WORDS, HEAD };

struct Channel {           // one direction of DramModel: the active burst and the queued one
    bool act = false, q_v = false;
    uint64_t addr = 0, q_addr = 0;
    uint32_t left = 0, q_len = 0;

    void step(bool fire_a, uint64_t a_beat, uint32_t a_len, bool fire_beat) {
        bool free = !act || (fire_beat && left == 0);
        if (free) {
            if (q_v) { act = true; addr = q_addr; left = q_len; q_v = false; }
            else if (fire_a) { act = true; addr = a_beat; left = a_len; }
            else act = false;
        } else {
            if (fire_beat) { ++addr; --left; }
            if (fire_a) { q_v = true; q_addr = a_beat; q_len = a_len; }
        }
    }
};

struct Bench {
    std::unique_ptr<VerilatedContext> ctx{new VerilatedContext};
    std::unique_ptr<Vtop> top{new Vtop{ctx.get()}};
    std::vector<uint32_t> dram;
    uint32_t limbs, shift;  // limbs per beat; log2(bytes per beat)
    uint64_t beats, clocks = 0;
    Channel rd, wr;
    uint32_t b_pending = 0;
    bool bad = false;

    // DramModel's outputs from its state, then the combinational settle before the edge
    void settle() {
        Vtop& t = *top;
        PORT(t.mem, arready) = !rd.q_v;
        PORT(t.mem, awready) = !wr.q_v;
        PORT(t.mem, rvalid) = rd.act;
        PORT(t.mem, rlast) = rd.left == 0;
        PORT(t.mem, rresp) = 0;
        if (rd.addr < beats) tb::put(PORT(t.mem, rdata), &dram[rd.addr * limbs]);
        else if (rd.act) bad = true;
        PORT(t.mem, wready) = wr.act && !rd.act;
        PORT(t.mem, bvalid) = b_pending != 0;
        PORT(t.mem, bresp) = 0;
        t.clk = 0;
        t.eval();
    }

    // the rising edge: DramModel's next state from the master's outputs, then the SoC's
    void edge() {
        Vtop& t = *top;
        bool r_fire = rd.act && PORT(t.mem, rready);
        bool w_fire = wr.act && !rd.act && PORT(t.mem, wvalid);
        bool ar_fire = PORT(t.mem, arvalid) && !rd.q_v, aw_fire = PORT(t.mem, awvalid) && !wr.q_v;
        bool b_fire = b_pending != 0 && PORT(t.mem, bready);
        if (w_fire) {
            if (wr.addr < beats) tb::get(PORT(t.mem, wdata), &dram[wr.addr * limbs]);
            else bad = true;
        }
        b_pending += (w_fire && wr.left == 0) ? 1 : 0;
        b_pending -= b_fire ? 1 : 0;
        rd.step(ar_fire, static_cast<uint64_t>(PORT(t.mem, araddr)) >> shift, PORT(t.mem, arlen), r_fire);
        wr.step(aw_fire, static_cast<uint64_t>(PORT(t.mem, awaddr)) >> shift, PORT(t.mem, awlen), w_fire);
        t.clk = 1;
        t.eval();
        ++clocks;
    }

    void cycle() { settle(); edge(); }

    void lite_write(uint32_t addr, uint32_t value) {
        Vtop& t = *top;
        PORT(t.ctrl, awaddr) = addr;
        PORT(t.ctrl, wdata) = value;
        PORT(t.ctrl, wstrb) = 0xF;
        PORT(t.ctrl, awvalid) = 1;
        PORT(t.ctrl, wvalid) = 1;
        PORT(t.ctrl, bready) = 1;
        for (bool taken = false; !taken;) { settle(); taken = PORT(t.ctrl, awready); edge(); }
        PORT(t.ctrl, awvalid) = 0;
        PORT(t.ctrl, wvalid) = 0;
        for (bool resp = false; !resp;) { settle(); resp = PORT(t.ctrl, bvalid); edge(); }
        PORT(t.ctrl, bready) = 0;
    }

    uint32_t lite_read(uint32_t addr) {
        Vtop& t = *top;
        PORT(t.ctrl, araddr) = addr;
        PORT(t.ctrl, arvalid) = 1;
        PORT(t.ctrl, rready) = 1;
        for (bool taken = false; !taken;) { settle(); taken = PORT(t.ctrl, arready); edge(); }
        PORT(t.ctrl, arvalid) = 0;
        uint32_t value = 0;
        for (bool got = false; !got;) {
            settle();
            got = PORT(t.ctrl, rvalid);
            value = PORT(t.ctrl, rdata);
            edge();
        }
        PORT(t.ctrl, rready) = 0;
        return value;
    }
};

}  // namespace

int main(int argc, char** argv) {
    std::vector<uint32_t> prog;
    if (!tb::load_program(argc, argv, 3, "PROGRAM DRAM_OUT", HEAD, prog)) return 2;
    constexpr uint32_t BL = tb::limbs_of<decltype(Vtop::PORT(mem, rdata))>();
    uint32_t base = prog[H_BASE], ndesc = prog[H_NDESC], max_clocks = prog[H_MAX_CLOCKS], nbeats = prog[H_BEATS];
    uint32_t dw = prog[H_DESC_WORDS];
    if (prog[H_MAGIC] != MAGIC || prog[H_VERSION] != VERSION || prog[H_LIMBS] != BL || prog[H_SHIFT] > 7 ||
        prog.size() != HEAD + static_cast<std::size_t>(ndesc) * dw + static_cast<std::size_t>(nbeats) * BL) {
        std::fprintf(stderr, "tb: program header (version %u, beat limbs %u) or size does not match this build "
                     "(version %u, beat limbs %u)\n", prog[1], prog[2], VERSION, BL);
        return 2;
    }
    FILE* dram_out = std::fopen(argv[2], "wb");
    if (!dram_out) {
        std::fprintf(stderr, "tb: cannot write %s\n", argv[2]);
        return 2;
    }
    tb::Timer timer;
    Bench b;
    b.limbs = BL;
    b.beats = nbeats;
    b.shift = prog[H_SHIFT];
    b.dram.assign(prog.begin() + HEAD + static_cast<std::size_t>(ndesc) * dw, prog.end());
    Vtop& t = *b.top;
    t.rst = 1;
    b.cycle();
    t.rst = 0;
    const uint32_t* desc = prog.data() + HEAD;
    for (uint32_t d = 0; d < ndesc; ++d)
        for (uint32_t f = 0; f < dw; ++f) b.lite_write(base + (d * dw + f) * 4, desc[d * dw + f]);
    b.lite_write(prog[H_NDESC_REG], ndesc);
    b.lite_write(prog[H_CTRL], 1);
    for (uint64_t n = 0;; ++n) {
        b.settle();
        if (t.irq) break;
        if (n >= max_clocks) {
            std::fprintf(stderr, "tb: no irq within %u clocks of CTRL.start\n", max_clocks);
            return 3;
        }
        b.edge();
    }
    uint32_t cycles = b.lite_read(prog[H_CYCLES]), compute = b.lite_read(prog[H_COMPUTE]);
    if (b.bad) {
        std::fprintf(stderr, "tb: the SoC addressed DRAM outside its %u-beat image\n", nbeats);
        return 4;
    }
    std::fwrite(b.dram.data(), 4, b.dram.size(), dram_out);
    std::fclose(dram_out);
    timer.report(b.clocks);
    std::printf("cycles %u compute %u\n", cycles, compute);
    return 0;
}
