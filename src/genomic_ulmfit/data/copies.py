"""How often each k-mer of a sequence occurs in a reference genome: repeat content as features.

A sequence whose k-mers occur many times in the genome lies in a repeat (Alu, L1, satellites...).
ChIP-seq peaks such as Cohn et al.'s liver H3K27ac enhancers sit in mappable, mostly single-copy
DNA, while their negatives are random genomic windows, repeats included; so the share of a
sequence's 20-mers that are repeated in the genome tells the classes apart (AUROC 0.62 on Cohn
human with ~92 Mbp of the human genome), and it is knowledge a model trained on 5k sequences
cannot learn from them alone. Part of that signal may be the peak caller's mappability filter
rather than enhancer biology, so it says as much about how the benchmark was made as about
enhancers; see benchmarks/RESULTS.md.

:class:`GenomeCopies` holds the count of every canonical k-mer (k <= 31) of one or more genome
FASTA files, sorted, in memory (12 bytes per distinct k-mer: ~0.9 GB for the 92 Mbp of
``../shared/data/genomes/human_*``); :func:`copy_features` turns the counts of a sequence's
k-mers into :data:`FEATURE_NAMES`. A sequence taken from the genome itself finds its own copy, so
one copy is discounted (subtracted before the mean log; the shares start at two copies): "occurs
once" (the sequence's own locus) and "does not occur" (a locus outside the indexed part of the
genome) give the same features.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genomic_ulmfit.data.leakage import canonical_kmers, sorted_unique
from genomic_ulmfit.data.sequences import BASE_CODES
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.utils import atomic_path, sha256_file

FORMAT = 1
THRESHOLDS = (2, 3, 5, 9, 17, 33, 65)
"""Copy numbers (own copy included) whose share of a sequence's k-mers is a feature."""
FEATURE_NAMES = ("copies:mean_log", *(f"copies:share>={t}" for t in THRESHOLDS))
_BLOCK = 8 << 20  # bases per counting block: bounds the build's memory (~0.5 GB of k-mers per block)


def kmers_of(raw: bytes, k: int) -> np.ndarray:
    """Canonical 2-bit k-mers (uint64) of every window of ``raw`` free of non-ACGT bytes, in order
    (:func:`genomic_ulmfit.data.leakage.canonical_kmers` on the bytes' base codes)."""
    return canonical_kmers(BASE_CODES[np.frombuffer(raw, dtype=np.uint8)], k)[0]


def _merge(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the counts of equal keys; keys sorted, uint64 / uint32."""
    if len(keys) == 0:
        return keys, counts
    order = np.argsort(keys)
    keys, counts = keys[order], counts[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    summed = np.add.reduceat(counts.astype(np.uint64), starts)
    return keys[starts], np.minimum(summed, np.iinfo(np.uint32).max).astype(np.uint32)


def file_digests(paths: Sequence[str | os.PathLike]) -> list[str]:
    """sha256 of each genome file; one-line InputErrors for a missing file, a directory, no file at
    all, or the same contents given twice (its k-mers would all count twice and look repeated)."""
    if not paths:
        raise InputError("copies: no genome FASTA given; give at least one")
    digests: list[str] = []
    for p in paths:
        if not Path(p).is_file():
            what = "is a directory" if Path(p).is_dir() else "not found"
            raise InputError(f"{p}: genome FASTA {what}; give the path of a FASTA file (gzip or plain)")
        digests.append(sha256_file(p))
        if digests[-1] in digests[:-1]:
            first = paths[digests.index(digests[-1])]
            raise InputError(f"{p}: the same contents as {first}; give each genome file once (a k-mer counted "
                             "twice looks repeated)")
    return digests


def genome_digest(paths: Sequence[str | os.PathLike], k: int, digests: Sequence[str] | None = None) -> str:
    """sha256 naming an index: the files' contents (in order; ``digests`` when already computed,
    from :func:`file_digests`), k and the index format."""
    h = hashlib.sha256(f"copies-format-{FORMAT}-k{k}".encode())
    for d in digests if digests is not None else file_digests(paths):
        h.update(d.encode())
    return h.hexdigest()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/genomic-ulmfit/copies`` (``~/.cache/...`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "genomic-ulmfit" / "copies"


def index_path(digest: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where :meth:`GenomeCopies.cached` keeps the index of ``digest``."""
    return Path(cache_dir or default_cache_dir()) / f"{digest[:24]}.npz"


def class_shares(sequences: Sequence[str], labels: np.ndarray, index: GenomeCopies) -> dict:
    """How much repeat content separates two classes: the mean share of 20-mers with at least two
    copies per label, and that share's AUROC alone (fewer copies = label 1)."""
    from sklearn.metrics import roc_auc_score

    share = np.exp(copy_features(sequences, index)[:, FEATURE_NAMES.index("copies:share>=2")]) - 0.01
    labels = np.asarray(labels)
    out = {f"share_label_{c}": float(share[labels == c].mean()) for c in (0, 1) if (labels == c).any()}
    if len(set(labels.tolist())) == 2:
        out["auroc_fewer_copies_positive"] = float(roc_auc_score(labels, -share))
    return out


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
    def build(cls, paths: Sequence[str | os.PathLike], k: int = 20, *, progress: bool = True,
              digests: Sequence[str] | None = None) -> GenomeCopies:
        """Count every canonical k-mer of the FASTA files ``paths`` (gzip or plain; windows with N
        skipped). The files must not overlap (a chromosome and a file holding it again): a k-mer
        in both counts twice. ``digests``: their :func:`file_digests`, when already computed."""
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        from genomic_ulmfit.data.corpus import iter_fasta_blocks

        k = cls.check_k(k)
        paths = [Path(p) for p in paths]
        digests = list(digests) if digests is not None else file_digests(paths)
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
                    new, n = sorted_unique(kmers_of(raw, k))
                    pending_k.append(new)
                    pending_c.append(n.astype(np.uint32))
                    if sum(map(len, pending_k)) > max(len(keys), 64 << 20):  # merge before the pending part outgrows the index
                        merge_pending()
                done += path.stat().st_size
        merge_pending()
        if len(keys) == 0:
            raise InputError(f"copies: no {k}-mer free of N in {', '.join(map(str, paths))}; give genome FASTA files")
        sources = [{"path": str(p.resolve()), "sha256": d} for p, d in zip(paths, digests, strict=True)]
        return cls(k, keys, counts, sources, genome_digest(paths, k, digests))

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
            good = meta.get("format") == FORMAT and keys.dtype == np.uint64 and counts.shape == keys.shape
            index = cls(int(meta["k"]), keys, counts, meta["sources"], meta["digest"]) if good else None
        except Exception as exc:  # a cut or foreign file: zipfile, EOF, JSON, key or value errors
            raise InputError(f"{path}: not a readable k-mer copy index ({type(exc).__name__}: {exc})") from None
        if index is None:
            raise InputError(f"{path}: a k-mer copy index of another format")
        return index

    @classmethod
    def cached(cls, paths: Sequence[str | os.PathLike], k: int = 20, *, cache_dir: str | os.PathLike | None = None,
               progress: bool = True, digests: Sequence[str] | None = None) -> GenomeCopies:
        """The index of ``paths``: loaded from ``cache_dir`` (default :func:`default_cache_dir`)
        when built before from files with the same contents, else built and saved there. ``digests``:
        the files' :func:`file_digests`, when the caller has them."""
        k = cls.check_k(k)
        digests = list(digests) if digests is not None else file_digests(paths)
        digest = genome_digest(paths, k, digests)
        path = index_path(digest, cache_dir)
        if path.is_file():
            with contextlib.suppress(InputError):  # a cut or stale cache file is built again, not an error
                index = cls.load(path)
                if index.digest == digest:
                    return index
        index = cls.build(paths, k, progress=progress, digests=digests)
        index.save(path)
        return index

    def counts_of(self, sequence: str) -> np.ndarray:
        """Genome count of each canonical k-mer of ``sequence`` (windows with N skipped); uint32."""
        km = kmers_of(sequence.encode("ascii", "replace"), self.k)
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


def genome_record(paths: Sequence[str | os.PathLike], k: int = 20) -> dict | None:
    """What a run record says of ``--copies-genome``: the files (absolute) and their digest; None without."""
    if not paths:
        return None
    return {"files": [str(Path(p).resolve()) for p in paths], "k": k, "digest": genome_digest(paths, k)}


def check_copies_params(kind: str, k: int, weight: float) -> None:
    """One-line ConfigErrors for a model's ``copies_k`` and ``copies_weight``."""
    GenomeCopies.check_k(k)
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating, np.integer)) or not weight > 0:
        raise ConfigError(f"{kind}: copies_weight must be a positive number; got {weight!r}")


_LOADED: dict[str, GenomeCopies] = {}  # digest -> index, so models sharing a genome share its memory
_KEEP = 2


def model_index(kind: str, paths: Sequence[str], k: int, digest: str | None) -> GenomeCopies:
    """The index of a model's ``copies_genome`` (shared with other models in this process, else
    loaded from or built into the cache). ``digest``, the one the model was fitted with (None while
    fitting), must match the files' :func:`genome_digest`, checked before anything is built: a
    one-line InputError if the files changed since."""
    digests = file_digests(paths)
    now = genome_digest(paths, k, digests)
    if digest is not None and now != digest:
        raise InputError(f"{kind}: the genome files {', '.join(paths)} are not the ones this model was trained with "
                         "(other contents); give it those files, or train it again")
    if now not in _LOADED:
        while len(_LOADED) >= _KEEP:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[now] = GenomeCopies.cached(paths, k, digests=digests)
    return _LOADED[now]


class UsesCopies:
    """For a model with ``copies_genome``, ``copies_k`` and ``copies_weight`` parameters and a
    ``kind``: its genome index, checked against ``copies_digest_`` (the :func:`genome_digest` it was
    fitted with, saved with the model)."""

    copies_genome: tuple[str, ...]
    copies_k: int
    kind: str

    def _copies_index(self) -> GenomeCopies:
        """The index (looked up once per model object; every later call reuses it)."""
        if getattr(self, "_copies_cache", None) is None:
            self._copies_cache = model_index(self.kind, self.copies_genome, self.copies_k,
                                             getattr(self, "copies_digest_", None))
        return self._copies_cache

    def _copies_fit_index(self) -> GenomeCopies:
        """At the start of ``fit``: the index of the files as they are now, whose digest the model keeps."""
        self._copies_cache = self.copies_digest_ = None
        index = self._copies_index()
        self.copies_digest_ = index.digest
        return index

    def _copies_check_files(self, directory: str | os.PathLike) -> None:
        """At load: the genome files are where the model was trained with them (one-line InputError)."""
        for g in self.copies_genome:
            if not Path(g).is_file():
                raise InputError(f"{directory}: this {self.kind}:copies model reads k-mer copy numbers from {g}, "
                                 "which is not there; put that genome file back (the same contents), or train "
                                 "the model again")


def saved_digest(meta: dict, directory: str | os.PathLike) -> str:
    """The genome digest a ``:copies`` model's ``model.json`` holds (one-line InputError without)."""
    copies = meta.get("copies") or meta.get("features", {}).get("copies") or {}
    digest = copies.get("genome_digest") or copies.get("genome_sha256")  # the key's first name
    if not digest:
        raise InputError(f"{directory}/model.json: a :copies model without its genome's digest; train the model again")
    return digest
