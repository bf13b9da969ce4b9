"""Integer enumerations of the mapping space (`codesign.families.systolic.space`),
in O(sqrt(B)) per dim of bound ``B`` rather than O(B):

- `array_tiles`: the distinct ``ceil(B / n)``, ``n = 1..B`` (each the
  smallest tile giving its fold count), from the quotients of ``B - 1``;
- `dim_candidates`: every (array tile, glb factor) pair, the glb factor
  running over the divisors of the tile's fold count, found from the prime
  factorisations of all fold counts at once (numpy trial division by the
  primes up to ``sqrt(B)``; a dim of 2**31 - 2 on a streamed level: 92,681
  tiles and 1,099,065 pairs in about 0.6 s).

Both give exactly the lists of the naive loops (tests/test_quotients.py).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["array_tiles", "dim_candidates"]


def array_tiles(bound: int, side: int | None) -> list[int]:
    """Candidate array tiles of a dim of `bound` on a level of `side` PEs
    (None: streamed, no cap): every ``ceil(bound / n)``, plus ``min(bound,
    side)`` on rows/cols; ascending."""
    return _array_tiles(bound, side).tolist()


@lru_cache(maxsize=4096)
def _array_tiles(bound: int, side: int | None) -> np.ndarray:
    """`array_tiles` as an array, from the distinct quotients in O(sqrt(bound)).

    ``ceil(B / n) = floor(C / n) + 1`` with ``C = B - 1``, and ``floor(C / n)``
    takes the values ``C // n`` for ``n <= s = isqrt(C)`` and, below ``s``,
    each ``v`` it reaches: ``v`` is reached iff ``C // (C // v) == v`` (the
    last ``n`` with that quotient); ``n = B`` adds 0.
    """
    c = bound - 1
    s = math.isqrt(c)
    n = np.arange(1, s + 1, dtype=np.int64)
    small = n[c // (c // n) == n]
    out = np.unique(np.concatenate((np.zeros(1, np.int64), small, c // n))) + 1
    if side is not None:
        out = np.union1d(out[out <= side], [min(bound, side)])
    out.flags.writeable = False
    return out


def _primes(limit: int) -> np.ndarray:
    """The primes <= `limit`."""
    return _sieve(max(limit, 1 << 16))[: np.searchsorted(_sieve(max(limit, 1 << 16)), limit, "right")]


@lru_cache(maxsize=2)
def _sieve(limit: int) -> np.ndarray:
    """The primes <= `limit` (sieve of Eratosthenes)."""
    sieve = np.ones(limit + 1, bool)
    sieve[:2] = False
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i::i] = False
    return np.flatnonzero(sieve).astype(np.int64)


def _factor_rounds(values: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Prime factorisations of `values` (int64 >= 1) by trial division, all at
    once: round ``k`` holds (index, prime, exponent) of the k-th smallest
    prime factor of each value that has one."""
    rem = values.astype(np.int64).copy()
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    live = np.flatnonzero(rem >= 4)
    top = math.isqrt(int(rem.max(initial=1)))
    for i, p in enumerate(_primes(top).tolist()):
        if i % 32 == 0:
            live = live[rem[live] >= p * p]           # what is left is 1 or a prime
            if not len(live):
                break
        hit = live[rem[live] % p == 0]
        if not len(hit):
            continue
        e = np.zeros(len(hit), np.int64)
        while len(at := np.flatnonzero(rem[hit] % p == 0)):
            rem[hit[at]] //= p
            e[at] += 1
        found.append((hit, np.full(len(hit), p, np.int64), e))
    last = np.flatnonzero(rem > 1)
    found.append((last, rem[last], np.ones(len(last), np.int64)))
    # regroup by rank of the factor within its value
    idx = np.concatenate([f[0] for f in found])
    prime = np.concatenate([f[1] for f in found])
    exp = np.concatenate([f[2] for f in found])
    order = np.lexsort((prime, idx))
    idx, prime, exp = idx[order], prime[order], exp[order]
    start = np.searchsorted(idx, idx)                  # first row of each value
    rank = np.arange(len(idx)) - start
    return [(idx[rank == k], prime[rank == k], exp[rank == k]) for k in range(int(rank.max(initial=-1)) + 1)]


def _divisor_pairs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every divisor of every value: (index into `values`, divisor), sorted by
    index then divisor. Cost: the factorisation plus one row per divisor."""
    owner = np.arange(len(values), dtype=np.int64)
    div = np.ones(len(values), np.int64)
    P = np.ones(len(values), np.int64)
    E = np.zeros(len(values), np.int64)
    for idx, prime, exp in _factor_rounds(values):
        P[:], E[:] = 1, 0
        P[idx], E[idx] = prime, exp
        reps = E[owner] + 1
        k = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        owner, div = np.repeat(owner, reps), np.repeat(div, reps) * np.power(np.repeat(P[owner], reps), k)
    if int(values.max(initial=1)) < 1 << 32 and len(values) < 1 << 31:     # one int64 key: faster
        key = np.sort((owner << 32) | div)
        return key >> 32, key & 0xFFFFFFFF
    order = np.lexsort((div, owner))
    return owner[order], div[order]


@lru_cache(maxsize=1024)
def dim_candidates(bound: int, side: int | None, tile: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The (array tile, glb factor) pairs of a dim (module docstring), sorted by
    tile then factor: `tile` alone if given (a pin, or 1 off the array), else
    `array_tiles`; per tile every divisor of its fold count."""
    tiles = _array_tiles(bound, side) if tile is None else np.array([tile], np.int64)
    owner, g = _divisor_pairs(-(-bound // np.minimum(tiles, bound)))
    a = tiles[owner]
    a.flags.writeable = g.flags.writeable = False
    return a, g
