"""Tokenizer throughput on one core: KmerTokenizer vs the seed's per-k-mer Python approach.

The seed (Genomic-ULMFiT's ``GenomicTokenizer`` + fastai numericalisation) upper-cases each
sequence, slices ``[seq[i:i+k] for i in range(0, len(seq) - k + 1, stride)]`` and looks every
k-mer up in a dict. It is timed on a subset (it is slow) and reported in the same unit, Mbp/s.

Run from the project root::

    .venv/bin/python benchmarks/tokenizer_speed.py --n 20000 --length 500 --repeat 5
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from genomic_ulmfit.tokenize import KmerTokenizer  # noqa: E402

CONFIGS = ((4, 2), (5, 2), (3, 1))


def seed_encode(
    sequences: list[str], k: int, stride: int, stoi: dict[str, int], unk: int
) -> list[np.ndarray]:
    """The seed's approach: Python slicing per k-mer, then one dict lookup per k-mer."""
    out = []
    for seq in sequences:
        s = seq.upper()
        toks = [s[i : i + k] for i in range(0, len(s) - k + 1, stride)]
        out.append(np.array([stoi.get(t, unk) for t in toks], dtype=np.int64))
    return out


def best_time(fn, repeat: int) -> float:
    """Smallest wall time (s) of ``repeat`` calls of ``fn()``."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def random_dna(n_bases: int, rng: np.random.Generator, n_frac: float = 0.001) -> str:
    """Random upper-case ACGT string with a fraction ``n_frac`` of N."""
    codes = rng.integers(0, 4, n_bases)
    codes[rng.random(n_bases) < n_frac] = 4
    return np.frombuffer(b"ACGTN", dtype=np.uint8)[codes].tobytes().decode("ascii")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20000, help="sequences in the batch (default 20000)")
    p.add_argument("--length", type=int, default=500, help="bases per sequence (default 500)")
    p.add_argument("--repeat", type=int, default=5, help="timed repeats, best kept (default 5)")
    p.add_argument("--genome", type=int, default=10_000_000, help="bases of the long string (default 10 Mbp)")
    p.add_argument(
        "--seed-n", type=int, default=2000, help="sequences timed with the seed approach (default 2000)"
    )
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    flat = random_dna(args.n * args.length, rng)
    seqs = [flat[i * args.length : (i + 1) * args.length] for i in range(args.n)]
    genome = random_dna(args.genome, rng).encode("ascii")
    seed_seqs = seqs[: min(args.seed_n, args.n)]
    seed_long = genome[: min(args.genome, 1_000_000)].decode("ascii")
    mbp_batch, mbp_seed, mbp_genome, mbp_seed_long = (
        args.n * args.length / 1e6,
        len(seed_seqs) * args.length / 1e6,
        args.genome / 1e6,
        len(seed_long) / 1e6,
    )

    print(
        f"numpy {np.__version__}, 1 thread; batch {args.n} x {args.length} bp, long string {mbp_genome:g} Mbp"
    )
    header = f"{'k/stride':>8} {'input':>22} {'ours Mbp/s':>11} {'seed Mbp/s':>11} {'speedup':>8}"
    print(header)
    print("-" * len(header))
    for k, stride in CONFIGS:
        tok = KmerTokenizer(k, stride)
        stoi = tok.stoi
        ours = seed = None
        # Agreement check before timing.
        ref = seed_encode(seed_seqs[:50], k, stride, stoi, tok.unk_id)
        got = tok.encode(seed_seqs[:50])
        assert all(np.array_equal(r, g) for r, g in zip(ref, got, strict=True)), (
            "mismatch with the seed approach"
        )

        ours = mbp_batch / best_time(lambda tok=tok: tok.encode(seqs), args.repeat)
        seed = mbp_seed / best_time(
            lambda k=k, stride=stride, stoi=stoi, tok=tok: seed_encode(
                seed_seqs, k, stride, stoi, tok.unk_id
            ),
            max(1, args.repeat // 2),
        )
        label = f"batch {args.n}x{args.length}"
        print(f"{k:>6}/{stride:<1} {label:>22} {ours:>11.1f} {seed:>11.2f} {ours / seed:>7.0f}x")

        ours = mbp_genome / best_time(lambda tok=tok: tok.encode_bytes(genome), args.repeat)
        seed = mbp_seed_long / best_time(
            lambda k=k, stride=stride, stoi=stoi, tok=tok: seed_encode(
                [seed_long], k, stride, stoi, tok.unk_id
            ),
            max(1, args.repeat // 2),
        )
        label = f"encode_bytes {mbp_genome:g} Mbp"
        print(f"{k:>6}/{stride:<1} {label:>22} {ours:>11.1f} {seed:>11.2f} {ours / seed:>7.0f}x")
    print(
        f"(seed approach timed on {len(seed_seqs)} sequences and on {mbp_seed_long:g} Mbp of the long string)"
    )


if __name__ == "__main__":
    main()
