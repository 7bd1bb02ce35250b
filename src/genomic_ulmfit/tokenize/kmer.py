"""Overlapping k-mer tokens, compatible with Genomic-ULMFiT's ``GenomicTokenizer``.

A sequence of length ``L`` becomes the k-mers starting at ``0, stride, 2*stride, ...`` that fit
entirely in the sequence: ``n_tokens(L) = max(0, (L - k) // stride + 1)`` tokens (500 bp gives 249
tokens for k=4/stride=2, 248 for 5/2 and 498 for 3/1), as in the seed project.

The vocabulary is fixed and deterministic, so no vocabulary file is needed::

    0 <pad>   1 <unk>   2 <bos>   3 + (k-mer read as a base-4 number, A=0 C=1 G=2 T=3)

so ``AAAA`` is 3 and ``TTTT`` is 258 for k=4. Lower-case (soft-masked) bases are ordinary bases;
a k-mer holding ``N`` or any other character maps to ``<unk>``.

Encoding is vectorized: bytes go through a 256-entry table to codes 0..3 (4 = invalid); k-mer
values are built with ``k`` shifted strided slices (``acc = acc * 4 + code[j::stride]``) and an
``OR`` of the same slices flags invalid k-mers. Equal-length batches use a 2-D array; ragged batches
are concatenated into one buffer and gathered by offsets.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from genomic_ulmfit.data.sequences import BASE_CODES
from genomic_ulmfit.errors import ConfigError

SPECIALS: tuple[str, ...] = ("<pad>", "<unk>", "<bos>")
MAX_K = 8
CHUNK_BASES = 1 << 19  # bases per piece of work: small, cache-resident temporaries (no page faults)
_BASES = "ACGT"

# Byte -> code table: A/C/G/T (either case) -> 0..3, everything else -> 4 (invalid).
_CODE_LUT = BASE_CODES


_CODE_TABLE = _CODE_LUT.tobytes()  # for bytes.translate, ~3x faster than a numpy gather


def _to_bytes(seq: str) -> bytes:
    """ASCII bytes of ``seq``; any non-ASCII character becomes ``?`` (one byte, so invalid)."""
    return seq.encode("ascii", "replace")


def _codes(raw: bytes | bytearray | memoryview) -> np.ndarray:
    """Base codes of ASCII bytes, shape (len(raw),) uint8: A/C/G/T (any case) → 0..3, other → 4."""
    return np.frombuffer(bytes(raw).translate(_CODE_TABLE), dtype=np.uint8)


def _smallest_uint(n_values: int) -> np.dtype:
    """The smallest unsigned dtype that holds ``0 .. n_values - 1``."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if n_values - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.uint64)  # pragma: no cover - k <= 8 never gets here


class KmerTokenizer:
    """Fixed-vocabulary overlapping k-mer tokenizer.

    Parameters
    ----------
    k : int, default 4
        K-mer length, 1 to 8.
    stride : int, default 2
        Step between k-mer starts, 1 to ``k`` (a larger stride would skip bases).

    Attributes
    ----------
    vocab_size : int
        ``4**k + 3``.
    itos : list[str]
        Token strings by id: the special tokens, then the k-mers in lexicographic order.
    dtype : numpy.dtype
        Default id dtype: uint8 when ``vocab_size <= 256`` (k <= 3), uint16 up to k = 7,
        uint32 for k = 8.

    Examples
    --------
    >>> tok = KmerTokenizer(4, 2)
    >>> tok.encode_one("AAAACCCC").tolist()
    [3, 8, 88]
    """

    pad_id: int = 0
    unk_id: int = 1
    bos_id: int = 2
    specials: tuple[str, ...] = SPECIALS

    def __init__(self, k: int = 4, stride: int = 2):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
            raise ConfigError(f"tokenizer k={k!r} is not allowed; use an integer from 1 to {MAX_K}")
        if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or not 1 <= stride <= k:
            raise ConfigError(
                f"tokenizer stride={stride!r} is not allowed for k={k}; use an integer from 1 to k "
                "(a stride larger than k would skip bases)"
            )
        self.k = int(k)
        self.stride = int(stride)
        self.n_special = len(SPECIALS)
        self.vocab_size = 4**self.k + self.n_special
        self.dtype = _smallest_uint(self.vocab_size)

    # ------------------------------------------------------------------ vocabulary
    @cached_property
    def itos(self) -> list[str]:
        """Token strings by id, length ``vocab_size``."""
        kmers = ("".join(p) for p in itertools.product(_BASES, repeat=self.k))
        return [*SPECIALS, *kmers]

    @cached_property
    def stoi(self) -> dict[str, int]:
        """Token string → id (upper-case k-mers and the special tokens)."""
        return {s: i for i, s in enumerate(self.itos)}

    def n_tokens(self, length: int) -> int:
        """Number of tokens for a sequence of ``length`` bases: ``max(0, (length - k) // stride + 1)``."""
        return max(0, (int(length) - self.k) // self.stride + 1)

    def __len__(self) -> int:
        return self.vocab_size

    # ------------------------------------------------------------------ encoding
    def _kmer_ids(self, codes: np.ndarray, stride: int) -> np.ndarray:
        """Token ids of the k-mers at ``0, stride, ...`` along the last axis of ``codes``.

        The bases are first packed into blocks of ``stride`` bases (block ``b`` = bases
        ``b*stride .. b*stride+stride-1``, built in uint8 from strided slices); the k-mer of token
        ``i`` is then blocks ``i .. i+k//stride-1`` (contiguous slices) followed by the first
        ``k % stride`` bases of the next block. That is ``stride + k//stride + k%stride`` passes
        instead of ``k`` strided passes in the wider id dtype.

        Parameters
        ----------
        codes : np.ndarray of uint8, shape (..., L)
            Base codes 0..3, 4 for invalid bases.
        stride : int
            Step between k-mer starts.

        Returns
        -------
        np.ndarray of :attr:`dtype`, shape (..., T) with ``T = max(0, (L - k) // stride + 1)``.
        """
        k, s = self.k, stride
        n_tok = max(0, (codes.shape[-1] - k) // s + 1)
        if n_tok == 0:
            return np.empty((*codes.shape[:-1], 0), dtype=self.dtype)
        n_blocks_per_kmer, rest = divmod(k, s)
        n_blk = n_tok + n_blocks_per_kmer - 1
        if s == 1:
            blocks = codes
        else:
            blocks = codes[..., 0 : (n_blk - 1) * s + 1 : s].astype(np.uint8 if s <= 4 else self.dtype)
            for j in range(1, s):
                blocks <<= 2
                blocks += codes[..., j : j + (n_blk - 1) * s + 1 : s]
        acc = blocks[..., 0:n_tok].astype(self.dtype)  # (..., T)
        for b in range(1, n_blocks_per_kmer):
            acc <<= 2 * s
            acc += blocks[..., b : b + n_tok]
        for j in range(n_blocks_per_kmer * s, k):
            acc <<= 2
            acc += codes[..., j : j + (n_tok - 1) * s + 1 : s]
        acc += self.n_special
        # Codes of 4 garble only the k-mers whose window holds them; those become <unk> here.
        if codes.size and codes.max() > 3:
            self._mark_unknown(acc, codes, s)
        return acc

    def _mark_unknown(self, acc: np.ndarray, codes: np.ndarray, stride: int) -> None:
        """Set to ``unk_id`` (in place) the tokens of ``acc`` (..., T) whose k-mer holds a code > 3."""
        k, n_tok, length = self.k, acc.shape[-1], codes.shape[-1]
        bad = codes > 3  # (..., L)
        n_bad = int(np.count_nonzero(bad))
        if n_bad * k > acc.size:  # many invalid bases: OR the k strided slices
            span = (n_tok - 1) * stride + 1
            hit = bad[..., 0:span:stride].copy()
            for j in range(1, k):
                hit |= bad[..., j : j + span : stride]
            np.putmask(acc, hit, self.unk_id)
            return
        # Few invalid bases: scatter <unk> onto the <= k tokens covering each one.
        rows, cols = np.divmod(np.flatnonzero(bad), length)
        acc2 = acc.reshape(-1, n_tok)  # a view: acc is C-contiguous
        for j in range(k):
            start = cols - j
            ok = (start >= 0) & (start % stride == 0) & (start // stride < n_tok)
            acc2[rows[ok], start[ok] // stride] = self.unk_id

    def _resolve_dtype(self, dtype: Any) -> np.dtype:
        dt = self.dtype if dtype is None else np.dtype(dtype)
        if dt.kind not in "iu" or np.iinfo(dt).max < self.vocab_size - 1:
            raise ConfigError(
                f"dtype={dt} cannot hold token ids up to {self.vocab_size - 1}; use {self.dtype} or wider"
            )
        return dt

    def encode_bytes(
        self, buf: bytes | bytearray | memoryview | str | np.ndarray, *, dtype=None
    ) -> np.ndarray:
        """Token ids of one (possibly very long) sequence given as bytes.

        Parameters
        ----------
        buf : bytes, bytearray, memoryview, str or np.ndarray of uint8, shape (L,)
            ASCII bases (any case).
        dtype : numpy dtype, optional
            Output dtype; default :attr:`dtype`.

        Returns
        -------
        np.ndarray, shape (n_tokens(L),)
        """
        dt = self._resolve_dtype(dtype)
        if isinstance(buf, str):
            buf = _to_bytes(buf)
        if isinstance(buf, np.ndarray):
            if buf.dtype != np.uint8 or buf.ndim != 1:
                raise TypeError(
                    f"encode_bytes expects a 1-D uint8 array, got {buf.dtype} of shape {buf.shape}"
                )
            to_codes = _CODE_LUT.__getitem__
        else:
            buf = memoryview(buf).cast("B")
            to_codes = _codes
        k, s = self.k, self.stride
        n_tok = self.n_tokens(len(buf))
        out = np.empty(n_tok, dtype=dt)
        # Work in cache-sized pieces of tokens; a piece reads bases [t0*s, (t1-1)*s + k).
        step = max(1, CHUNK_BASES // s)
        for t0 in range(0, n_tok, step):
            t1 = min(n_tok, t0 + step)
            codes = to_codes(buf[t0 * s : (t1 - 1) * s + k])  # (piece,)
            out[t0:t1] = self._kmer_ids(codes, s)
        return out

    def encode_one(self, seq: str, *, dtype=None) -> np.ndarray:
        """Token ids of one sequence, shape (n_tokens(len(seq)),)."""
        return self.encode_bytes(_to_bytes(seq), dtype=dtype)

    def encode(
        self, sequences: Sequence[str] | Iterable[str], *, pad: bool = True, dtype=None
    ) -> np.ndarray | list[np.ndarray]:
        """Token ids of a batch of sequences.

        Parameters
        ----------
        sequences : sequence of str, length n
            DNA strings (any case; N and other characters give ``<unk>`` k-mers).
        pad : bool, default True
            Return one array padded on the right with :attr:`pad_id`; else a list of 1-D arrays.
        dtype : numpy dtype, optional
            Output dtype; default :attr:`dtype` (uint8 for k <= 3, else uint16; uint32 for k = 8).

        Returns
        -------
        np.ndarray of shape (n, T_max) when ``pad``, else a list of n arrays of shape (T_i,),
        with ``T_i = n_tokens(len(sequences[i]))``.
        """
        if isinstance(sequences, (str, bytes)):
            raise TypeError("encode() takes a batch of sequences; use encode_one() for a single string")
        seqs = sequences if isinstance(sequences, (list, tuple)) else list(sequences)
        dt = self._resolve_dtype(dtype)
        n = len(seqs)
        if n == 0:
            return np.empty((0, 0), dtype=dt) if pad else []
        lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=n)
        n_tok = np.maximum(0, (lengths - self.k) // self.stride + 1)
        t_max = int(n_tok.max())
        equal = bool((lengths == lengths[0]).all())
        out = np.empty((n, t_max), dtype=dt) if equal else np.full((n, t_max), self.pad_id, dtype=dt)
        # Cache-sized groups of rows: temporaries stay small and in cache.
        bounds = np.searchsorted(np.cumsum(lengths), np.arange(CHUNK_BASES, int(lengths.sum()), CHUNK_BASES))
        edges = np.unique(np.concatenate(([0], bounds + 1, [n])).clip(0, n))
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            codes = _codes(_to_bytes("".join(seqs[a:b])))  # (sum of L in group,)
            if equal:
                out[a:b] = self._kmer_ids(codes.reshape(b - a, int(lengths[0])), self.stride)
            else:
                self._encode_ragged(codes, lengths[a:b], n_tok[a:b], out[a:b])
        if pad:
            return out
        return [out[i, : n_tok[i]] for i in range(n)]

    def _encode_ragged(
        self, codes: np.ndarray, lengths: np.ndarray, n_tok: np.ndarray, out: np.ndarray
    ) -> None:
        """Fill ``out`` (m, T) with the ids of m concatenated sequences of ``lengths`` (m,) in ``codes``."""
        every = self._kmer_ids(codes, 1)  # (sum L - k + 1,): ids at every position of the concatenation
        if every.size == 0:
            return
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        col = np.arange(out.shape[1])
        keep = col[None, :] < n_tok[:, None]  # (m, T)
        pos = starts[:, None] + self.stride * col[None, :]
        out[keep] = every[pos[keep]]

    __call__ = encode

    # ------------------------------------------------------------------ decoding
    def decode_tokens(self, ids: Iterable[int] | np.ndarray) -> list[str]:
        """Token strings of ``ids`` (specials included), e.g. ``['<bos>', 'ACGT', ...]``."""
        itos = self.itos
        return [itos[int(i)] for i in np.asarray(ids).ravel()]

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """Rebuild the DNA covered by overlapping k-mer ids (for tests and inspection).

        ``<pad>`` and ``<bos>`` are dropped; a base that only ``<unk>`` tokens cover becomes ``N``.
        Returns the first ``(T - 1) * stride + k`` bases (upper case) for ``T`` remaining tokens.
        """
        a = np.asarray(ids, dtype=np.int64).ravel()
        if a.size and (a.min() < 0 or a.max() >= self.vocab_size):
            raise ValueError(f"token ids must be in 0..{self.vocab_size - 1}")
        a = a[(a != self.pad_id) & (a != self.bos_id)]
        if a.size == 0:
            return ""
        k, s = self.k, self.stride
        out = np.full((a.size - 1) * s + k, ord("N"), dtype=np.uint8)
        valid = a >= self.n_special
        val = a[valid] - self.n_special
        starts = np.flatnonzero(valid) * s
        letters = np.frombuffer(_BASES.encode(), dtype=np.uint8)
        for j in range(k):
            out[starts + j] = letters[(val >> (2 * (k - 1 - j))) & 3]
        return out.tobytes().decode("ascii")

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-able description: ``{"type": "kmer", "k", "stride", "specials"}``."""
        return {"type": "kmer", "k": self.k, "stride": self.stride, "specials": list(SPECIALS)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KmerTokenizer:
        """Rebuild a tokenizer from :meth:`to_dict` output; unknown keys or values raise ConfigError."""
        if not isinstance(d, dict):
            raise ConfigError(f"tokenizer description must be a mapping, got {type(d).__name__}")
        unknown = set(d) - {"type", "k", "stride", "specials"}
        if unknown:
            raise ConfigError(
                f"tokenizer: unknown key(s) {', '.join(sorted(unknown))}; allowed: type, k, stride, specials"
            )
        if d.get("type", "kmer") != "kmer":
            raise ConfigError(f"tokenizer type {d.get('type')!r} is not supported; expected 'kmer'")
        if "k" not in d or "stride" not in d:
            raise ConfigError("tokenizer: 'k' and 'stride' are required")
        specials = d.get("specials", list(SPECIALS))
        if list(specials) != list(SPECIALS):
            raise ConfigError(
                f"tokenizer specials {specials!r} differ from this version's {list(SPECIALS)!r}"
            )
        return cls(k=d["k"], stride=d["stride"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KmerTokenizer):
            return NotImplemented
        return (self.k, self.stride) == (other.k, other.stride)

    def __hash__(self) -> int:
        return hash(("kmer", self.k, self.stride))

    def __repr__(self) -> str:
        return f"KmerTokenizer(k={self.k}, stride={self.stride}, vocab_size={self.vocab_size})"
