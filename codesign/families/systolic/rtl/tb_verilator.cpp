// C++ testbench of the systolic accelerator (Verilated top `Vtop`), the host side of
// the protocol in top.py / sim.py. Written once, compiled per design by rtl/verilator.py.
//
// usage: tb PROGRAM CYCLES_OUT ACC_OUT QUANT_OUT
//
// PROGRAM is a stream of little-endian uint32: a header (magic, version, limbs of a
// west, north, accumulator and requantized output word) then operations until END:
//   WRITE  port n  word*n     port 0 west, 1 north, 2 acc: one word per clock (we high)
//   RUN    13 config values (ext, fold, nfold per role; order outer..inner; accumulate)
//          max_ticks          start for one clock, clock until done; appends (cycles port,
//                             ticks from start to done) to CYCLES_OUT
//   READ   n slot final       acc rows 0..n-1 (address, clock, sample acc_rdata): appended
//                             to ACC_OUT and kept as host memory `slot`; with `final` (the
//                             tile's reduction is done) out_rdata too, appended to QUANT_OUT
//   RELOAD slot               writes host memory `slot` back into acc rows 0..n-1
//   SHIFT  s                  drives requant_shift (the requantizing read-out's shift)
//   END
// A word is ceil(bits / 32) limbs, least significant first (lane i at bits i*w..).
// On END it prints `clocks N seconds S cpu C` (every clock, loads included; wall and CPU s).
// Exit status: 0 done, 2 bad program or files, 3 a tile never raised done.
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "Vtop.h"
#include "tb_common.h"

namespace {

enum Op : uint32_t { END = 0, WRITE = 1, RUN = 2, READ = 3, RELOAD = 4, SHIFT = 5 };
constexpr uint32_t MAGIC = 0x4C564443u;  // "CDVL"
constexpr uint32_t VERSION = 2;

using tb::get;
using tb::limbs_of;
using tb::put;

struct Bench {
    std::unique_ptr<VerilatedContext> ctx{new VerilatedContext};
    std::unique_ptr<Vtop> top{new Vtop{ctx.get()}};
    uint64_t clocks = 0;

    void tick() {
        top->clk = 1;
        top->eval();
        top->clk = 0;
        top->eval();
        ++clocks;
    }

    template <typename We, typename Addr, typename Data>
    void write(We& we, Addr& addr, Data& data, const uint32_t* words, uint32_t n, uint32_t limbs) {
        we = 1;
        for (uint32_t a = 0; a < n; ++a) {
            addr = a;
            put(data, words + static_cast<std::size_t>(a) * limbs);
            tick();
        }
        we = 0;
    }
};

}  // namespace

int main(int argc, char** argv) {
    std::vector<uint32_t> prog;
    if (!tb::load_program(argc, argv, 5, "PROGRAM CYCLES_OUT ACC_OUT QUANT_OUT", 6, prog)) return 2;
    constexpr uint32_t WL = limbs_of<decltype(Vtop::west_wdata)>();
    constexpr uint32_t NL = limbs_of<decltype(Vtop::north_wdata)>();
    constexpr uint32_t AL = limbs_of<decltype(Vtop::acc_wdata)>();
    constexpr uint32_t QL = limbs_of<decltype(Vtop::out_rdata)>();
    if (prog[0] != MAGIC || prog[1] != VERSION || prog[2] != WL || prog[3] != NL || prog[4] != AL ||
        prog[5] != QL) {
        std::fprintf(stderr, "tb: program header (version %u, limbs %u %u %u %u) does not match this build "
                     "(version %u, limbs %u %u %u %u)\n", prog[1], prog[2], prog[3], prog[4], prog[5], VERSION,
                     WL, NL, AL, QL);
        return 2;
    }
    FILE* cyc_out = std::fopen(argv[2], "wb");
    FILE* acc_out = std::fopen(argv[3], "wb");
    FILE* q_out = std::fopen(argv[4], "wb");
    if (!cyc_out || !acc_out || !q_out) {
        std::fprintf(stderr, "tb: cannot write the outputs\n");
        return 2;
    }
    tb::Timer timer;
    Bench b;
    Vtop& t = *b.top;
    t.rst = 1;
    b.tick();
    t.rst = 0;
    std::map<uint32_t, std::vector<uint32_t>> host;
    std::vector<uint32_t> qrow(QL);
    std::size_t pc = 6, tiles = 0;
    auto need = [&](std::size_t n) { return pc + n <= prog.size(); };
    while (need(1)) {
        uint32_t op = prog[pc++];
        if (op == END) {
            timer.report(b.clocks);
            std::fclose(cyc_out);
            std::fclose(acc_out);
            std::fclose(q_out);
            return 0;
        }
        if (op == WRITE && need(2)) {
            uint32_t port = prog[pc], n = prog[pc + 1];
            uint32_t limbs = port == 0 ? WL : port == 1 ? NL : AL;
            pc += 2;
            if (port > 2 || !need(static_cast<std::size_t>(n) * limbs)) break;
            const uint32_t* w = prog.data() + pc;
            if (port == 0) b.write(t.west_we, t.west_addr, t.west_wdata, w, n, WL);
            if (port == 1) b.write(t.north_we, t.north_addr, t.north_wdata, w, n, NL);
            if (port == 2) b.write(t.acc_we, t.acc_addr, t.acc_wdata, w, n, AL);
            pc += static_cast<std::size_t>(n) * limbs;
        } else if (op == RUN && need(14)) {
            const uint32_t* c = prog.data() + pc;
            t.ext_row = c[0]; t.ext_col = c[1]; t.ext_time = c[2];
            t.fold_row = c[3]; t.fold_col = c[4]; t.fold_time = c[5];
            t.nfold_row = c[6]; t.nfold_col = c[7]; t.nfold_time = c[8];
            t.order_outer = c[9]; t.order_middle = c[10]; t.order_inner = c[11];
            t.accumulate = c[12];
            uint32_t max_ticks = c[13];
            pc += 14;
            t.start = 1;
            b.tick();
            t.start = 0;
            uint32_t ticks = 0;
            while (!t.done) {
                if (ticks >= max_ticks) {
                    std::fprintf(stderr, "tb: glb tile %zu raised no done within %u clocks\n", tiles, max_ticks);
                    return 3;
                }
                b.tick();
                ++ticks;
            }
            uint32_t rec[2] = {static_cast<uint32_t>(t.cycles), ticks};
            std::fwrite(rec, 4, 2, cyc_out);
            ++tiles;
        } else if (op == READ && need(3)) {
            uint32_t n = prog[pc], slot = prog[pc + 1], final = prog[pc + 2];
            pc += 3;
            std::vector<uint32_t>& mem = host[slot];
            mem.assign(static_cast<std::size_t>(n) * AL, 0);
            for (uint32_t a = 0; a < n; ++a) {
                t.acc_addr = a;
                b.tick();
                get(t.acc_rdata, mem.data() + static_cast<std::size_t>(a) * AL);
                if (final) {
                    get(t.out_rdata, qrow.data());
                    std::fwrite(qrow.data(), 4, QL, q_out);
                }
            }
            std::fwrite(mem.data(), 4, mem.size(), acc_out);
        } else if (op == SHIFT && need(1)) {
            t.requant_shift = prog[pc++];
        } else if (op == RELOAD && need(1)) {
            auto it = host.find(prog[pc++]);
            if (it == host.end()) break;
            b.write(t.acc_we, t.acc_addr, t.acc_wdata, it->second.data(),
                    static_cast<uint32_t>(it->second.size() / AL), AL);
        } else {
            break;
        }
    }
    std::fprintf(stderr, "tb: malformed program at word %zu\n", pc);
    return 2;
}
