"""How often each k-mer of a sequence occurs in a reference genome: repeat content as features.

A sequence whose k-mers occur many times in the genome lies in a repeat (Alu, L1, satellites...).
ChIP-seq peaks such as Cohn et al.'s liver H3K27ac enhancers sit in mappable, mostly single-copy
DNA, while their negatives are random genomic windows, repeats included; so the share of a
sequence's 20-mers that are repeated in the genome tells the classes apart (AUROC 0.63 on Cohn
human with ~92 Mbp of the human genome), and it is knowledge a model trained on 5k sequences
cannot learn from them alone. Part of that signal may be the peak caller's mappability filter
rather than enhancer biology, so it says as much about how the benchmark was made as about
enhancers; see benchmarks/RESULTS.md.

:class:`GenomeCopies` holds the count of every canonical k-mer (k <= 31) of one or more genome
FASTA files, sorted, in memory (12 bytes per distinct k-mer: ~0.9 GB for the 92 Mbp of
``../shared/data/genomes/human_*``); :func:`copy_features` turns the counts of a sequence's
k-mers into :data:`FEATURE_NAMES`. A sequence taken from the genome itself finds its own copy, so
one copy is subtracted from every count: "occurs once" (the sequence's own locus) and "does not
occur" (a locus outside the indexed part of the genome) give the same features.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.utils import atomic_path, sha256_file

FORMAT = 1
THRESHOLDS = (2, 3, 5, 9, 17, 33, 65)
"""Copy numbers (own copy included) whose share of a sequence's k-mers is a feature."""
FEATURE_NAMES = ("copies:mean_log", *(f"copies:share>={t}" for t in THRESHOLDS))
_BLOCK = 8 << 20  # bases per counting block: bounds the build's memory (~0.5 GB of k-mers per block)

_CODE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"ACGT"):
    _CODE[_c] = _CODE[_c + 32] = _i


def encode(raw: bytes) -> np.ndarray:
    """A/C/G/T (any case) -> 0..3, anything else -> 255; uint8 (len(raw),)."""
    return _CODE[np.frombuffer(raw, dtype=np.uint8)]


def canonical_kmers(codes: np.ndarray, k: int) -> np.ndarray:
    """Canonical (min of forward and reverse complement) 2-bit k-mers of every window free of
    non-ACGT codes, in order; uint64 (n_windows_kept,). ``codes`` from :func:`encode`; 1 <= k <= 31."""
    n = len(codes) - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    bad = np.concatenate([[0], np.cumsum(codes == 255, dtype=np.int64)])
    ok = bad[k:] == bad[:-k]
    x = np.where(codes == 255, 0, codes).astype(np.uint64)
    fw = np.zeros(n, dtype=np.uint64)
    rc = np.zeros(n, dtype=np.uint64)
    for j in range(k):
        fw = (fw << np.uint64(2)) | x[j : j + n]
        rc |= (np.uint64(3) - x[j : j + n]) << np.uint64(2 * j)
    return np.minimum(fw, rc)[ok]


def _merge(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the counts of equal keys; keys sorted, uint64 / uint32."""
    if len(keys) == 0:
        return keys, counts
    order = np.argsort(keys)
    keys, counts = keys[order], counts[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    summed = np.add.reduceat(counts.astype(np.uint64), starts)
    return keys[starts], np.minimum(summed, np.iinfo(np.uint32).max).astype(np.uint32)


def genome_digest(paths: Sequence[str | os.PathLike], k: int) -> str:
    """sha256 naming an index: the files' contents (in order), k and the index format."""
    h = hashlib.sha256(f"copies-format-{FORMAT}-k{k}".encode())
    for p in paths:
        h.update(sha256_file(p).encode())
    return h.hexdigest()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/genomic-ulmfit/copies`` (``~/.cache/...`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genomic-ulmfit" / "copies"


class GenomeCopies:
    """Counts of the canonical k-mers of genome FASTA files.

    Build with :meth:`build` (or :meth:`cached`, which saves the index once and reloads it);
    look up with :meth:`counts_of`. Attributes: ``k``; ``keys`` (uint64, sorted) and ``counts``
    (uint32) of every distinct k-mer; ``sources`` (path and sha256 of each FASTA); ``digest``
    (:func:`genome_digest`).
    """

    def __init__(self, k: int, keys: np.ndarray, counts: np.ndarray, sources: list[dict], digest: str):
        self.k, self.keys, self.counts, self.sources, self.digest = k, keys, counts, sources, digest

    @staticmethod
    def check_k(k: int) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 8 <= k <= 31:
            raise ConfigError(f"copies: k={k!r}; use a whole number from 8 to 31 (20 is the default)")
        return int(k)

    @classmethod
    def build(cls, paths: Sequence[str | os.PathLike], k: int = 20, *, progress: bool = True) -> GenomeCopies:
        """Count every canonical k-mer of the FASTA files ``paths`` (gzip or plain; windows with N skipped)."""
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        from genomic_ulmfit.data.corpus import iter_fasta_blocks

        k = cls.check_k(k)
        paths = [Path(p) for p in paths]
        if not paths:
            raise InputError("copies: no genome FASTA given; give at least one")
        for p in paths:
            if not p.is_file():
                raise InputError(f"{p}: genome FASTA not found; give the path of a FASTA file (gzip or plain)")
        keys, counts = np.empty(0, np.uint64), np.empty(0, np.uint32)
        pending_k: list[np.ndarray] = []
        pending_c: list[np.ndarray] = []

        def merge_pending() -> None:
            nonlocal keys, counts
            if pending_k:
                keys, counts = _merge(np.concatenate([keys, *pending_k]), np.concatenate([counts, *pending_c]))
                pending_k.clear()
                pending_c.clear()

        total = sum(p.stat().st_size for p in paths)
        bar = Progress(TextColumn("copies {task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                       disable=not progress)
        done = 0
        with bar:
            task = bar.add_task(paths[0].name, total=total)
            for path in paths:
                bar.update(task, description=path.name)
                last_rec, carry = -1, b""
                for rec, _name, _off, block in iter_fasta_blocks(
                    path, _BLOCK, progress=lambda b, base=done: bar.update(task, completed=base + b)
                ):
                    if rec != last_rec:
                        last_rec, carry = rec, b""
                    raw = carry + block
                    carry = raw[-(k - 1):]
                    new, n = np.unique(canonical_kmers(encode(raw), k), return_counts=True)
                    pending_k.append(new)
                    pending_c.append(n.astype(np.uint32))
                    if sum(map(len, pending_k)) > max(len(keys), 64 << 20):  # merge before the pending part outgrows the index
                        merge_pending()
                done += path.stat().st_size
        merge_pending()
        if len(keys) == 0:
            raise InputError(f"copies: no {k}-mer free of N in {', '.join(map(str, paths))}; give genome FASTA files")
        sources = [{"path": str(p.resolve()), "sha256": sha256_file(p)} for p in paths]
        return cls(k, keys, counts, sources, genome_digest(paths, k))

    def save(self, path: str | os.PathLike) -> None:
        """One ``.npz`` (keys, counts, and the sources as JSON), written atomically."""
        meta = json.dumps({"format": FORMAT, "k": self.k, "sources": self.sources, "digest": self.digest})
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, keys=self.keys, counts=self.counts, meta=np.frombuffer(meta.encode(), dtype=np.uint8))

    @classmethod
    def load(cls, path: str | os.PathLike) -> GenomeCopies:
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(z["meta"].tobytes().decode())
                keys, counts = z["keys"], z["counts"]
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: not a readable k-mer copy index ({exc}); delete it and it is rebuilt") from None
        if meta.get("format") != FORMAT or keys.dtype != np.uint64 or counts.shape != keys.shape:
            raise InputError(f"{path}: a k-mer copy index of another format; delete it and it is rebuilt")
        return cls(int(meta["k"]), keys, counts, meta["sources"], meta["digest"])

    @classmethod
    def cached(cls, paths: Sequence[str | os.PathLike], k: int = 20, *, cache_dir: str | os.PathLike | None = None,
               progress: bool = True) -> GenomeCopies:
        """The index of ``paths``: loaded from ``cache_dir`` (default :func:`default_cache_dir`)
        when built before from files with the same contents, else built and saved there."""
        k = cls.check_k(k)
        for p in paths:
            if not Path(p).is_file():
                raise InputError(f"{p}: genome FASTA not found; give the path of a FASTA file (gzip or plain)")
        digest = genome_digest(paths, k)
        path = Path(cache_dir or default_cache_dir()) / f"{digest[:24]}.npz"
        if path.is_file():
            index = cls.load(path)
            if index.digest == digest:
                return index
        index = cls.build(paths, k, progress=progress)
        index.save(path)
        return index

    def counts_of(self, sequence: str) -> np.ndarray:
        """Genome count of each canonical k-mer of ``sequence`` (windows with N skipped); uint32."""
        km = canonical_kmers(encode(sequence.encode("ascii", "replace")), self.k)
        i = np.minimum(np.searchsorted(self.keys, km), len(self.keys) - 1)
        return np.where(self.keys[i] == km, self.counts[i], 0).astype(np.uint32)


def copy_features(sequences: Sequence[str], index: GenomeCopies) -> np.ndarray:
    """Repeat features of each sequence from its k-mers' genome counts, float64 (n, 8).

    From the genome count n of each of its k-mers: mean log(1 + max(n - 1, 0)) (one copy is the
    sequence's own, see the module docstring), then log(0.01 + share of k-mers with n >= t) for
    t in :data:`THRESHOLDS` (all at least 2).
    A sequence without a k-mer free of N gets the features of a single-copy one.
    """
    out = np.empty((len(sequences), len(FEATURE_NAMES)), dtype=np.float64)
    for row, seq in enumerate(sequences):
        c = index.counts_of(seq).astype(np.float64)
        if c.size == 0:
            c = np.ones(1)
        out[row, 0] = np.log1p(np.maximum(c - 1.0, 0.0)).mean()
        out[row, 1:] = np.log([0.01 + (c >= t).mean() for t in THRESHOLDS])
    return out


def genome_paths(copies_genome: str | os.PathLike | Sequence[str | os.PathLike]) -> tuple[str, ...]:
    """A model's ``copies_genome`` argument as a tuple of str (one path may be given bare)."""
    if isinstance(copies_genome, (str, os.PathLike)):
        copies_genome = (copies_genome,)
    return tuple(str(g) for g in copies_genome)


def check_copies_params(kind: str, k: int, weight: float) -> None:
    """One-line ConfigErrors for a model's ``copies_k`` and ``copies_weight``."""
    GenomeCopies.check_k(k)
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating, np.integer)) or not weight > 0:
        raise ConfigError(f"{kind}: copies_weight must be a positive number; got {weight!r}")


def model_index(kind: str, paths: Sequence[str], k: int, digest: str | None) -> GenomeCopies:
    """The cached index of a model's ``copies_genome``; ``digest`` (the one the model was fitted
    with, None while fitting) must match, or the files changed since: one-line InputError."""
    index = GenomeCopies.cached(paths, k)
    if digest is not None and index.digest != digest:
        raise InputError(f"{kind}: the genome files {', '.join(paths)} are not the ones this model was trained with "
                         "(another sha256); give it those files, or train it again")
    return index
