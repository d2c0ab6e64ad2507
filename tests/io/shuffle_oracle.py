# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""Independent oracle for convtape::shuffled_indices (tests/io/dataset_test.cpp).

Implements, from the C++ standard's text alone, std::seed_seq::generate ([rand.util.seedseq]),
the seeding of std::mt19937_64 from a seed sequence and its outputs ([rand.eng.mt]), and
Fisher-Yates with the rejection draw documented in io/dataset.hpp; prints the permutations that
dataset_test.cpp hard-codes. It first checks itself against the standard's required value
(the 10000th output of a default-constructed std::mt19937_64 is 9981545732273789042).

    python3 tests/io/shuffle_oracle.py
"""

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1


def seed_seq_generate(seeds, n):
    """std::seed_seq(seeds).generate() of n 32-bit words."""
    s = len(seeds)
    out = [0x8B8B8B8B] * n
    t = 11 if n >= 623 else 7 if n >= 68 else 5 if n >= 39 else 3 if n >= 7 else (n - 1) // 2
    p = (n - t) // 2
    q = p + t
    m = max(s + 1, n)

    def T(x):
        return x ^ (x >> 27)

    for k in range(m):
        r1 = (1664525 * T(out[k % n] ^ out[(k + p) % n] ^ out[(k - 1) % n])) & M32
        if k == 0:
            r2 = (r1 + s) & M32
        elif k <= s:
            r2 = (r1 + k % n + (seeds[k - 1] & M32)) & M32
        else:
            r2 = (r1 + k % n) & M32
        out[(k + p) % n] = (out[(k + p) % n] + r1) & M32
        out[(k + q) % n] = (out[(k + q) % n] + r2) & M32
        out[k % n] = r2
    for k in range(m, m + n):
        r3 = (1566083941 * T((out[k % n] + out[(k + p) % n] + out[(k - 1) % n]) & M32)) & M32
        r4 = (r3 - k % n) & M32
        out[(k + p) % n] ^= r3
        out[(k + q) % n] ^= r4
        out[k % n] = r4
    return out


class MT19937_64:
    N, M, R = 312, 156, 31
    A = 0xB5026F5AA96619E9
    U, D = 29, 0x5555555555555555
    S, B = 17, 0x71D67FFFEDA60000
    T, C = 37, 0xFFF7EEE000000000
    L = 43
    F = 6364136223846793005

    def __init__(self, seed=None, seeds=None):
        n = self.N
        if seeds is not None:
            a = seed_seq_generate(seeds, 2 * n)
            self.x = [a[2 * i] | (a[2 * i + 1] << 32) for i in range(n)]
            lower = (1 << self.R) - 1
            if (self.x[0] & ~lower & M64) == 0 and all(v == 0 for v in self.x[1:]):
                self.x[0] = 1 << 63
        else:
            self.x = [seed & M64]
            for i in range(1, n):
                prev = self.x[-1]
                self.x.append((self.F * (prev ^ (prev >> 62)) + i) & M64)
        self.i = 0

    def __call__(self):
        n, i = self.N, self.i
        lower = (1 << self.R) - 1
        upper = ~lower & M64
        y = (self.x[i] & upper) | (self.x[(i + 1) % n] & lower)
        self.x[i] = self.x[(i + self.M) % n] ^ (y >> 1) ^ (self.A if y & 1 else 0)
        z = self.x[i]
        self.i = (i + 1) % n
        z ^= (z >> self.U) & self.D
        z ^= (z << self.S) & self.B & M64
        z ^= (z << self.T) & self.C & M64
        z ^= z >> self.L
        return z


def uniform_below(rng, bound):
    threshold = (1 << 64) % bound
    while True:
        r = rng()
        if r >= threshold:
            return r % bound


def shuffled_indices(n, seed, epoch):
    words = [seed & M32, seed >> 32, epoch & M32, epoch >> 32]
    rng = MT19937_64(seeds=words)
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = uniform_below(rng, i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def main():
    rng = MT19937_64(seed=5489)
    for _ in range(9999):
        rng()
    assert rng() == 9981545732273789042, "the MT19937-64 implementation is wrong"
    for n, seed, epoch in [(10, 42, 0), (10, 42, 1), (10, 0x123456789ABCDEF0, 7), (1, 5, 0)]:
        print(f"shuffled_indices({n}, {seed:#x}, {epoch}) = {shuffled_indices(n, seed, epoch)}")
    # The first outputs of std::mt19937_64 seeded through std::seed_seq{1, 2, 3, 4}, so that the
    # test can check the seed_seq part alone against the standard library.
    rng = MT19937_64(seeds=[1, 2, 3, 4])
    print("mt19937_64(seed_seq{1, 2, 3, 4}) first outputs:", [rng() for _ in range(3)])


if __name__ == "__main__":
    main()
