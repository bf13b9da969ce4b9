// Shared by the C++ testbenches (tb_verilator.cpp: the bare array; tb_soc_verilator.cpp: the SoC):
// port access by 32-bit limbs, reading a program file, wall and CPU timing.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <vector>

#include "verilated.h"

namespace tb {

template <typename T>
constexpr uint32_t limbs_of() { return (sizeof(T) + 3) / 4; }

// Ports of up to 64 bits are integers, wider ones VlWide arrays of 32-bit limbs.
inline void put(CData& p, const uint32_t* w) { p = static_cast<CData>(w[0]); }
inline void put(SData& p, const uint32_t* w) { p = static_cast<SData>(w[0]); }
inline void put(IData& p, const uint32_t* w) { p = w[0]; }
inline void put(QData& p, const uint32_t* w) { p = w[0] | (static_cast<QData>(w[1]) << 32); }
template <std::size_t N>
inline void put(VlWide<N>& p, const uint32_t* w) { for (std::size_t i = 0; i < N; ++i) p[i] = w[i]; }

inline void get(const CData& p, uint32_t* w) { w[0] = p; }
inline void get(const SData& p, uint32_t* w) { w[0] = p; }
inline void get(const IData& p, uint32_t* w) { w[0] = p; }
inline void get(const QData& p, uint32_t* w) { w[0] = static_cast<uint32_t>(p); w[1] = static_cast<uint32_t>(p >> 32); }
template <std::size_t N>
inline void get(const VlWide<N>& p, uint32_t* w) { for (std::size_t i = 0; i < N; ++i) w[i] = p[i]; }

// The whole file as little-endian uint32 words (false when unreadable or not a multiple of 4 bytes).
inline bool read_file(const char* path, std::vector<uint32_t>& out) {
    FILE* f = std::fopen(path, "rb");
    if (!f) return false;
    std::fseek(f, 0, SEEK_END);
    long size = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    out.resize(static_cast<std::size_t>(size) / 4);
    bool ok = std::fread(out.data(), 4, out.size(), f) == out.size();
    std::fclose(f);
    return ok && size % 4 == 0;
}

// The arguments (`argc` must be `want`) and the program file argv[1] of at least `min_words`
// words; false after printing why (the caller exits with status 2).
inline bool load_program(int argc, char** argv, int want, const char* usage, std::size_t min_words,
                         std::vector<uint32_t>& prog) {
    if (argc != want) {
        std::fprintf(stderr, "usage: %s %s\n", argv[0], usage);
        return false;
    }
    if (!read_file(argv[1], prog) || prog.size() < min_words) {
        std::fprintf(stderr, "tb: cannot read the program %s\n", argv[1]);
        return false;
    }
    return true;
}

// Wall and CPU seconds since construction; `report` prints the line Python parses.
struct Timer {
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    std::clock_t c0 = std::clock();

    void report(uint64_t clocks) const {
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
        std::printf("clocks %llu seconds %.6f cpu %.6f\n", static_cast<unsigned long long>(clocks), s, cpu);
    }
};

}  // namespace tb
