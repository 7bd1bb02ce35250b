"""Language-model corpora on disk and the batch iterators of the training loop.

A corpus directory holds one token stream per split, as raw little-endian ``uint8``/``uint16``
(``uint32`` for k = 8) files opened with ``np.memmap`` — never read whole::

    manifest.json        tokenizer, sources (sha256), mode, parameters, counts, dtype
    train.bin            tokens of the training documents, concatenated
    train_starts.npy     int64 (n_docs,): offset of each document (its <bos>) in train.bin
    train_origins.npy    int64 (n_docs, 3): source file index, record index, base offset
    valid.bin, valid_starts.npy, valid_origins.npy

A *document* is one piece of genome (``mode="chunks"``: the seed's N-free 10 kb chunks cut into
2 kb pieces; ``mode="stream"``: each maximal run of A/C/G/T) or one sequence
(:func:`build_sequence_corpus`); it starts with ``<bos>``. The train/valid split is by whole
documents, deterministic for a seed.

Batch iterators (the loop's data protocol: ``len()``, ``batches(epoch)``, deterministic per
(seed, epoch)):

* :class:`LMBatches` — fastai's ``LMDataLoader``: the stream is cut into ``batch_size`` contiguous
  rows read ``bptt`` tokens at a time, so row ``i`` of a batch continues row ``i`` of the previous
  one (the recurrent state carries over);
* :class:`ArrayBatches` / :class:`ClassificationBatches` — fixed-size examples for classifiers.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.utils import read_json, sha256_file, write_json_atomic

FORMAT = "genomic-ulmfit-corpus/1"
_READ = 1 << 22  # bytes per read of a FASTA file
_FLUSH = 1 << 20  # tokens buffered before a write
_COPY = 1 << 24  # tokens per copy block
_ACGT = b"ACGTacgt"
_WS = b"\r\n \t"
# Characters allowed in FASTA sequence lines: nucleotide IUPAC codes and X (masked), any case, and gaps.
_NUCLEOTIDE_LETTERS = b"ACGTURYSWKMBDHVNX"
_ALLOWED = _NUCLEOTIDE_LETTERS + _NUCLEOTIDE_LETTERS.lower() + b"-." + _WS
_NOT_ACGT = np.ones(256, dtype=bool)
_NOT_ACGT[np.frombuffer(_ACGT, dtype=np.uint8)] = False


def token_dtype(vocab_size: int) -> np.dtype:
    """Smallest of uint8/uint16/uint32 holding ids ``0 .. vocab_size - 1``."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if vocab_size - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise ConfigError(f"vocab_size={vocab_size} is too large for a token corpus")


# ---------------------------------------------------------------------------- FASTA streaming
def _open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """``(reader, raw)``: a gunzipping reader when the file starts with the gzip magic, and the raw
    file (whose ``tell()`` gives progress in compressed bytes)."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    return raw, raw


def _check_seq(path: Path, data: bytes, first_line: int) -> None:
    """Raise InputError naming the line when ``data`` (sequence lines) has a non-sequence byte."""
    bad = data.translate(None, _ALLOWED)
    if bad:
        pos = next(i for i, c in enumerate(data) if c not in _ALLOWED)
        line = first_line + data.count(b"\n", 0, pos)
        raise InputError(
            f"{path}: line {line}: invalid character {chr(data[pos])!r} in a sequence; FASTA sequence lines "
            "of a genome may only hold nucleotide codes (ACGT, N, the IUPAC ambiguity letters, X) and '-' "
            "(is this a protein FASTA?)"
        )


def fasta_events(path: str | os.PathLike, progress: Callable[[int], None] | None = None) -> Iterator[tuple[str, Any]]:
    """Stream a (gzipped or plain) FASTA file as events, holding one read buffer at a time.

    Yields ``("header", name)`` at each record (name = header text up to the first white space)
    and ``("seq", bytes)`` for pieces of its sequence (any case, no line breaks).

    Parameters
    ----------
    path : path of the FASTA file (gzip detected by its magic bytes)
    progress : callable, optional
        Called with the number of (compressed) bytes read so far.

    Raises
    ------
    InputError
        Sequence before the first header, or a sequence line with a non-letter character.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found; give the path of a FASTA file")
    reader, raw = _open_binary(path)
    carry = b""
    line_no = 1  # line number of the first line in `carry`
    seen_header = False
    try:
        while True:
            try:
                data = reader.read(_READ)
            except (OSError, EOFError) as exc:
                raise InputError(f"{path}: cannot read ({exc}); is the gzip file complete?") from None
            if progress is not None:
                progress(raw.tell())
            data = carry + data if carry else data
            if not data:
                break
            at_eof = len(data) == len(carry)
            last_nl = data.rfind(b"\n")
            if at_eof:
                block, carry = data, b""
            elif last_nl < 0:
                if data.startswith(b">") or not seen_header:  # header without its newline yet
                    carry = data
                    if len(carry) > _READ * 4:
                        raise InputError(f"{path}: line {line_no}: header line longer than 16 MB; is this a FASTA file?")
                    continue
                # one very long sequence line: pass it on in pieces
                _check_seq(path, data, line_no)
                yield "seq", data.translate(None, _WS)
                carry = b""
                continue
            else:
                block, carry = data[: last_nl + 1], data[last_nl + 1 :]
            if b">" not in block:
                if not seen_header and block.strip():
                    raise InputError(f"{path}: line {line_no}: expected a FASTA header starting with '>'; is this a FASTA file?")
                _check_seq(path, block, line_no)
                if seen_header:
                    yield "seq", block.translate(None, _WS)
                line_no += block.count(b"\n")
            else:
                for line in block.split(b"\n")[: -1 if block.endswith(b"\n") else None]:
                    if line.startswith(b">"):
                        seen_header = True
                        name = line[1:].split(maxsplit=1)
                        yield "header", (name[0].decode("utf-8", "replace") if name else "")
                    elif line.strip():
                        if not seen_header:
                            raise InputError(
                                f"{path}: line {line_no}: expected a FASTA header starting with '>'; is this a FASTA file?"
                            )
                        _check_seq(path, line, line_no)
                        yield "seq", line.translate(None, _WS)
                    line_no += 1
            if at_eof:
                break
    finally:
        reader.close()
        raw.close()


def iter_fasta_blocks(
    path: str | os.PathLike, block_size: int, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, str, int, bytes]]:
    """Sequence of each FASTA record in consecutive blocks of ``block_size`` bases.

    Yields ``(record_index, record_name, offset, block)``; every block has exactly ``block_size``
    bases except the last of a record (never empty). Memory: one block plus one read buffer.
    """
    rec, name = -1, ""
    buf = bytearray()
    offset = 0
    for kind, value in fasta_events(path, progress):
        if kind == "header":
            if buf:
                yield rec, name, offset, bytes(buf)
            rec, name, offset, buf = rec + 1, value, 0, bytearray()
            continue
        buf += value
        while len(buf) >= block_size:
            yield rec, name, offset, bytes(buf[:block_size])
            del buf[:block_size]
            offset += block_size
    if buf:
        yield rec, name, offset, bytes(buf)


# ---------------------------------------------------------------------------- writing token streams
class _TokenWriter:
    """Append documents of tokens to a raw binary file in large writes."""

    def __init__(self, path: Path, dtype: np.dtype, bos_id: int):
        self.fh = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.dtype, self.bos = dtype, np.array([bos_id], dtype=dtype)
        self.buf: list[np.ndarray] = []
        self.n_buf = 0
        self.n = 0
        self.starts: list[int] = []
        self.origins: list[tuple[int, int, int]] = []

    def begin_doc(self, origin: tuple[int, int, int]) -> None:
        self.starts.append(self.n)
        self.origins.append(origin)
        self.extend(self.bos)

    def extend(self, tokens: np.ndarray) -> None:
        if len(tokens) == 0:
            return
        self.buf.append(tokens.astype(self.dtype, copy=False))
        self.n_buf += len(tokens)
        self.n += len(tokens)
        if self.n_buf >= _FLUSH:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self.fh.write(np.concatenate(self.buf).tobytes())
            self.buf, self.n_buf = [], 0

    def close(self) -> None:
        self.flush()
        self.fh.close()


class _RunTokenizer:
    """Tokenize maximal A/C/G/T runs incrementally (``mode="stream"``), one document per run.

    Pending bases of the open run are tokenized whenever they exceed a block, keeping the
    ``< k + stride`` bases the next k-mers need, so the result equals tokenizing the run whole.
    """

    def __init__(self, tokenizer: Any, writer: _TokenWriter, block: int = 1 << 20):
        self.tok, self.w, self.block = tokenizer, writer, block
        self.k, self.s = int(tokenizer.k), int(tokenizer.stride)
        self.pending = bytearray()
        self.origin: tuple[int, int, int] | None = None
        self.doc_open = False
        self.runs = 0

    def _emit(self, final: bool) -> None:
        n = len(self.pending)
        if n < self.k:
            return
        n_tok = (n - self.k) // self.s + 1
        if not self.doc_open:
            self.w.begin_doc(self.origin)
            self.doc_open = True
            self.runs += 1
        used = (n_tok - 1) * self.s + self.k
        self.w.extend(self.tok.encode_bytes(bytes(self.pending[:used])))
        if not final:
            del self.pending[: n_tok * self.s]

    def extend(self, bases: bytes, origin: tuple[int, int, int]) -> None:
        if not bases:
            return
        if self.origin is None:
            self.origin = origin
        self.pending += bases
        if len(self.pending) >= self.block:
            self._emit(final=False)

    def close(self) -> None:
        self._emit(final=True)
        self.pending = bytearray()
        self.origin = None
        self.doc_open = False

    def feed(self, block: bytes, origin: tuple[int, int, int]) -> None:
        """Add a block of a record; runs are split at every non-ACGT byte."""
        bad = np.flatnonzero(_NOT_ACGT[np.frombuffer(block, dtype=np.uint8)])
        if len(bad) == 0:
            self.extend(block, origin)
            return
        f, rec, off = origin
        self.extend(block[: bad[0]], origin)
        self.close()
        seg_start, seg_end = bad[:-1] + 1, bad[1:]  # the runs between two bad bytes
        full = seg_end > seg_start
        for a, b in zip(seg_start[full].tolist(), seg_end[full].tolist(), strict=True):
            self.extend(block[a:b], (f, rec, off + a))
            self.close()
        a = int(bad[-1]) + 1
        if a < len(block):
            self.extend(block[a:], (f, rec, off + a))


# ---------------------------------------------------------------------------- corpus
@dataclass
class Corpus:
    """Token streams of a train and a valid split, memory-mapped from ``directory`` when on disk.

    Attributes
    ----------
    train_tokens, valid_tokens : np.ndarray (memmap) of uint8/uint16, shape (n_tokens,)
    train_starts, valid_starts : np.ndarray of int64, shape (n_docs,)
        Offset of each document's ``<bos>``.
    manifest : dict
        Contents of ``manifest.json``.
    directory : Path or None
        None for an in-memory corpus.
    """

    train_tokens: np.ndarray
    valid_tokens: np.ndarray
    train_starts: np.ndarray
    valid_starts: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)
    directory: Path | None = None
    origin_arrays: dict[str, np.ndarray] | None = field(default=None, repr=False)  # in-memory corpora

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Corpus:
        """Open a corpus directory written by :func:`build_genome_corpus` / :func:`build_sequence_corpus`."""
        d = Path(directory)
        mpath = d / "manifest.json"
        if not mpath.is_file():
            raise InputError(f"{d}: no manifest.json here; build the corpus first (or it was interrupted)")
        manifest = read_json(mpath)
        if manifest.get("format") != FORMAT:
            raise InputError(f"{mpath}: not a genomic-ulmfit corpus (expected format {FORMAT})")
        dtype = np.dtype(manifest["dtype"])
        arrays = {}
        for split in ("train", "valid"):
            n = int(manifest["counts"][f"{split}_tokens"])
            path = d / f"{split}.bin"
            if not path.is_file() or path.stat().st_size != n * dtype.itemsize:
                raise InputError(f"{path}: missing or of the wrong size for {n} tokens; rebuild the corpus")
            arrays[f"{split}_tokens"] = (
                np.memmap(path, dtype=dtype, mode="r", shape=(n,)) if n else np.empty(0, dtype=dtype)
            )
            arrays[f"{split}_starts"] = np.load(d / f"{split}_starts.npy", allow_pickle=False)
        return cls(**arrays, manifest=manifest, directory=d)

    @property
    def tokenizer(self):
        """The :class:`~genomic_ulmfit.tokenize.kmer.KmerTokenizer` the corpus was built with."""
        from genomic_ulmfit.tokenize.kmer import KmerTokenizer

        return KmerTokenizer.from_dict(self.manifest["tokenizer"])

    def origins(self, split: str) -> np.ndarray:
        """int64 (n_docs, 3): source file index, record index, base offset of each document."""
        if self.directory is None:
            return (self.origin_arrays or {}).get(split, np.zeros((0, 3), dtype=np.int64))
        return np.load(self.directory / f"{split}_origins.npy", allow_pickle=False)

    def lm_batches(self, split: str, batch_size: int, bptt: int = 70, **kwargs: Any) -> LMBatches:
        """:class:`LMBatches` over ``split`` ("train" or "valid"); jitter defaults to train only."""
        if split not in ("train", "valid"):
            raise ValueError(f"split must be 'train' or 'valid', got {split!r}")
        kwargs.setdefault("jitter", split == "train")
        return LMBatches(getattr(self, f"{split}_tokens"), batch_size, bptt,
                         doc_starts=getattr(self, f"{split}_starts"), **kwargs)


def _tokenizer_dict(tokenizer: Any) -> dict[str, Any]:
    if hasattr(tokenizer, "to_dict"):
        return tokenizer.to_dict()
    return {"k": int(tokenizer.k), "stride": int(tokenizer.stride)}


def choose_valid_docs(lengths: np.ndarray, valid_frac: float, seed: int) -> np.ndarray:
    """Boolean mask (n_docs,) of validation documents: a random set holding ~``valid_frac`` of tokens.

    Documents are taken in a seeded random order until their tokens come closest to
    ``valid_frac`` of the total; at least one document goes to each split when there are two.
    """
    n = len(lengths)
    mask = np.zeros(n, dtype=bool)
    if n < 2 or valid_frac <= 0:
        return mask
    if not 0 < valid_frac < 1:
        raise ConfigError(f"valid_frac={valid_frac} must be in [0, 1)")
    perm = np.random.default_rng(seed).permutation(n)
    cum = np.cumsum(np.asarray(lengths, dtype=np.int64)[perm])
    m = int(np.argmin(np.abs(cum - valid_frac * cum[-1]))) + 1
    mask[perm[: min(max(m, 1), n - 1)]] = True
    return mask


def _split_and_write(
    out_dir: Path,
    tokens: np.ndarray,
    starts: np.ndarray,
    origins: np.ndarray,
    valid_frac: float,
    seed: int,
) -> dict[str, int]:
    """Copy documents of ``tokens`` into ``train.bin``/``valid.bin`` (+ index files); returns counts."""
    n_tok = len(tokens)
    lengths = np.diff(np.append(starts, n_tok))
    is_valid = choose_valid_docs(lengths, valid_frac, seed)
    counts = {}
    for split, sel in (("train", ~is_valid), ("valid", is_valid)):
        idx = np.flatnonzero(sel)
        with open(out_dir / f"{split}.bin.tmp", "wb") as fh:
            # contiguous runs of selected documents are copied block by block
            if len(idx):
                brk = np.flatnonzero(np.diff(idx) != 1) + 1
                for run in np.split(idx, brk):
                    a, b = int(starts[run[0]]), int(starts[run[-1]] + lengths[run[-1]])
                    for c in range(a, b, _COPY):
                        fh.write(np.ascontiguousarray(tokens[c : min(b, c + _COPY)]).tobytes())
        new_starts = np.concatenate(([0], np.cumsum(lengths[idx])[:-1])).astype(np.int64) if len(idx) else (
            np.zeros(0, dtype=np.int64)
        )
        np.save(out_dir / f"{split}_starts.npy", new_starts)
        np.save(out_dir / f"{split}_origins.npy", origins[idx].astype(np.int64).reshape(-1, 3))
        os.replace(out_dir / f"{split}.bin.tmp", out_dir / f"{split}.bin")
        counts[f"{split}_docs"] = int(len(idx))
        counts[f"{split}_tokens"] = int(lengths[idx].sum())
    return counts


def build_genome_corpus(
    fasta_paths: str | os.PathLike | Sequence[str | os.PathLike],
    tokenizer: Any,
    out_dir: str | os.PathLike,
    *,
    mode: str = "chunks",
    chunk_size: int = 10_000,
    piece_size: int = 2_000,
    valid_frac: float = 0.1,
    seed: int = 0,
    max_bases: int | None = None,
    progress: bool = True,
) -> Corpus:
    """Tokenize genome FASTA files into an on-disk LM corpus (streamed, never held in RAM).

    Parameters
    ----------
    fasta_paths : path or list of paths
        FASTA files, plain or gzip (detected by magic bytes).
    tokenizer : KmerTokenizer
        Needs ``k``, ``stride``, ``vocab_size``, ``bos_id`` and ``encode_bytes``.
    out_dir : path
        Corpus directory (created; an existing corpus there is replaced).
    mode : {"chunks", "stream"}, default "chunks"
        ``"chunks"`` (Genomic-ULMFiT): each record is cut into ``chunk_size`` chunks from its start
        (the last one may be shorter); a chunk with any base other than A/C/G/T (N or another
        IUPAC code, any case) is dropped; kept chunks are cut into ``piece_size`` pieces, one
        document each. ``"stream"``: every maximal A/C/G/T run is tokenized whole, then cut into
        documents of ``piece_size`` bases' tokens (so the valid split and a token cap act on pieces
        of bounded size, not on megabase runs). A file whose sequence equals an earlier file's (the
        same genome given twice, say plain and gzipped) is refused.
    chunk_size, piece_size : int, default 10_000, 2_000
    valid_frac : float, default 0.1
        Share of tokens (whole documents, seeded random choice) in the valid split.
    seed : int, default 0
    max_bases : int, optional
        Stop after this many bases (N included) — for quick runs.
    progress : bool, default True
        Rich progress bar over the compressed bytes.

    Returns
    -------
    Corpus
        Memory-mapped from ``out_dir``.
    """
    if mode not in ("chunks", "stream"):
        raise ConfigError(f"mode={mode!r} is not allowed; use 'chunks' or 'stream'")
    if chunk_size < 1 or piece_size < 1:
        raise ConfigError(f"chunk_size={chunk_size} and piece_size={piece_size} must be positive")
    if not 0 <= valid_frac < 1:
        raise ConfigError(f"valid_frac={valid_frac} must be in [0, 1)")
    paths = [Path(fasta_paths)] if isinstance(fasta_paths, (str, os.PathLike)) else [Path(p) for p in fasta_paths]
    if not paths:
        raise InputError("no FASTA file given; pass at least one genome FASTA path")
    for p in paths:
        if not p.is_file():
            raise InputError(f"{p}: file not found; give the path of a genome FASTA file")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    dtype = token_dtype(int(tokenizer.vocab_size))
    k = int(tokenizer.k)
    writer = _TokenWriter(out / "all.bin.tmp", dtype, int(tokenizer.bos_id))
    runs = _RunTokenizer(tokenizer, writer) if mode == "stream" else None
    counts = {"bases_read": 0, "chunks_kept": 0, "chunks_dropped": 0}
    sources = []
    digests: list[str | None] = []
    block_size = chunk_size if mode == "chunks" else 1 << 20

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    total_bytes = sum(p.stat().st_size for p in paths)
    bar = Progress(TextColumn("corpus {task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                   disable=not progress)
    done_bytes = 0
    try:
        with bar:
            task = bar.add_task(paths[0].name, total=total_bytes)
            for fi, path in enumerate(paths):
                bar.update(task, description=path.name)
                base = done_bytes
                n_rec, n_bases, last_rec = 0, 0, -1
                digest = hashlib.sha256()  # of the sequence read: a genome given twice is refused
                for rec, _name, off, block in iter_fasta_blocks(
                    path, block_size, progress=lambda b, base=base: bar.update(task, completed=base + b)
                ):
                    if max_bases is not None:
                        room = max_bases - counts["bases_read"]
                        if room <= 0:
                            break
                        block = block[:room]
                    if rec != last_rec:
                        if runs is not None:
                            runs.close()
                        last_rec, n_rec = rec, n_rec + 1
                    counts["bases_read"] += len(block)
                    n_bases += len(block)
                    digest.update(block)
                    if runs is not None:
                        runs.feed(block, (fi, rec, off))
                        continue
                    if block.translate(None, _ACGT):
                        counts["chunks_dropped"] += 1
                        continue
                    counts["chunks_kept"] += 1
                    for ps in range(0, len(block), piece_size):
                        piece = block[ps : ps + piece_size]
                        if len(piece) >= k:
                            writer.begin_doc((fi, rec, off + ps))
                            writer.extend(tokenizer.encode_bytes(piece))
                if runs is not None:
                    runs.close()
                done_bytes += path.stat().st_size
                digests.append(digest.hexdigest() if n_bases else None)
                bar.update(task, completed=done_bytes)
                sources.append({"path": str(path.resolve()), "size": path.stat().st_size,
                                "sha256": sha256_file(path), "records": n_rec, "bases": n_bases})
        writer.close()
        doc_starts = np.asarray(writer.starts, dtype=np.int64)
        doc_origins = np.asarray(writer.origins, dtype=np.int64).reshape(-1, 3)
        if mode == "stream":  # bounded documents, so the valid split and the token cap can act on them
            doc_starts, doc_origins = cut_documents(doc_starts, doc_origins, writer.n,
                                                    max(1, piece_size // int(tokenizer.stride)), int(tokenizer.stride))
        n_docs = len(doc_starts)
        _check_distinct_sources(paths, digests)
        if n_docs == 0:
            total = sum(src["bases"] for src in sources)
            if mode == "chunks" and counts["chunks_dropped"]:
                hint = (f"every {chunk_size:,}-bp chunk (records are cut on a fixed {chunk_size:,}-bp grid) holds an N "
                        "or IUPAC base; use --mode stream (mode='stream') for short or N-rich sequences")
            elif total:
                hint = f"no stretch of {k} or more A/C/G/T bases (one k-mer) to tokenize; check the FASTA files"
            else:
                hint = "check the FASTA files"
            raise InputError(f"{', '.join(map(str, paths))}: nothing to tokenize ({total:,} bases read); {hint}")
        all_tokens = np.memmap(out / "all.bin.tmp", dtype=dtype, mode="r", shape=(writer.n,))
        split_counts = _split_and_write(out, all_tokens, doc_starts, doc_origins, valid_frac, seed)
        del all_tokens
    finally:
        writer.fh.close()
        (out / "all.bin.tmp").unlink(missing_ok=True)
    counts.update(docs=n_docs, tokens=int(writer.n), **split_counts)
    if mode == "stream":
        counts.pop("chunks_kept")
        counts.pop("chunks_dropped")
        counts["runs"] = runs.runs
    manifest = {
        "format": FORMAT,
        "kind": "genome",
        "tokenizer": _tokenizer_dict(tokenizer),
        "vocab_size": int(tokenizer.vocab_size),
        "dtype": dtype.name,
        "mode": mode,
        "params": {"chunk_size": chunk_size, "piece_size": piece_size, "valid_frac": valid_frac,
                   "seed": seed, "max_bases": max_bases},
        "sources": sources,
        "counts": counts,
    }
    write_json_atomic(out / "manifest.json", manifest)
    return Corpus.load(out)


def build_sequence_corpus(
    sequences: Sequence[str],
    tokenizer: Any,
    out_dir: str | os.PathLike | None = None,
    valid_frac: float = 0.1,
    seed: int = 0,
) -> Corpus:
    """LM corpus of a data set's sequences (for LM fine-tuning), one ``<bos>`` document each.

    Parameters
    ----------
    sequences : sequence of str, length n
        DNA strings; those shorter than ``k`` are left out.
    tokenizer : KmerTokenizer
    out_dir : path, optional
        Write the corpus there (and return it memory-mapped); None keeps it in memory.
    valid_frac : float, default 0.1
    seed : int, default 0

    Returns
    -------
    Corpus
    """
    if not 0 <= valid_frac < 1:
        raise ConfigError(f"valid_frac={valid_frac} must be in [0, 1)")
    dtype = token_dtype(int(tokenizer.vocab_size))
    toks = tokenizer.encode(list(sequences), pad=False)
    keep = [i for i, t in enumerate(toks) if len(t)]
    if not keep:
        raise InputError(f"no sequence is at least k={tokenizer.k} bases long; nothing to build a corpus from")
    bos = np.array([tokenizer.bos_id], dtype=dtype)
    lengths = np.array([len(toks[i]) + 1 for i in keep], dtype=np.int64)
    tokens = np.concatenate([np.concatenate((bos, toks[i].astype(dtype, copy=False))) for i in keep])
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    origins = np.stack([np.zeros(len(keep), np.int64), np.asarray(keep, np.int64), np.zeros(len(keep), np.int64)], 1)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "kind": "sequences",
        "tokenizer": _tokenizer_dict(tokenizer),
        "vocab_size": int(tokenizer.vocab_size),
        "dtype": dtype.name,
        "mode": "sequences",
        "params": {"valid_frac": valid_frac, "seed": seed},
        "sources": [{"sequences": len(sequences)}],
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "manifest.json").unlink(missing_ok=True)
        counts = _split_and_write(out, tokens, starts, origins, valid_frac, seed)
        manifest["counts"] = {"docs": len(keep), "tokens": int(len(tokens)), **counts}
        write_json_atomic(out / "manifest.json", manifest)
        return Corpus.load(out)
    is_valid = choose_valid_docs(lengths, valid_frac, seed)
    arrays: dict[str, np.ndarray] = {}
    origin_arrays = {}
    for split, sel in (("train", ~is_valid), ("valid", is_valid)):
        idx = np.flatnonzero(sel)
        parts = [tokens[starts[i] : starts[i] + lengths[i]] for i in idx]
        arrays[f"{split}_tokens"] = np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
        arrays[f"{split}_starts"] = np.concatenate(([0], np.cumsum(lengths[idx])[:-1])).astype(np.int64) if len(idx) \
            else np.zeros(0, dtype=np.int64)
        origin_arrays[split] = origins[idx]
    manifest["counts"] = {
        "docs": len(keep), "tokens": int(len(tokens)),
        "train_docs": int((~is_valid).sum()), "train_tokens": int(len(arrays["train_tokens"])),
        "valid_docs": int(is_valid.sum()), "valid_tokens": int(len(arrays["valid_tokens"])),
    }
    return Corpus(**arrays, manifest=manifest, directory=None, origin_arrays=origin_arrays)


def cut_documents(starts: np.ndarray, origins: np.ndarray, n: int, max_tokens: int,
                  stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut documents longer than ``max_tokens`` into consecutive documents of at most that many.

    The token stream is unchanged; only the document boundaries are added. ``starts`` (int64,
    shape (d,)) are the documents' offsets in a stream of ``n`` tokens, each document a ``<bos>``
    and then one token per ``stride`` bases from its origin (``origins``: (d, 3) source, record,
    base offset). Returns the new ``(starts, origins)``; a cut document's origin is the base of its
    first token.
    """
    ends = np.append(starts[1:], n)
    pieces = np.maximum(1, -(-(ends - starts) // max_tokens))  # documents each one becomes
    doc = np.repeat(np.arange(len(starts)), pieces)
    j = np.arange(len(doc)) - np.repeat(np.cumsum(pieces) - pieces, pieces)  # piece number within its document
    offset = j * max_tokens  # tokens after the document's start (its <bos> is token 0)
    new_origins = origins[doc].copy()
    new_origins[:, 2] += np.maximum(offset - 1, 0) * stride
    return (starts[doc] + offset).astype(np.int64), new_origins


def _check_distinct_sources(paths: Sequence[Path], digests: Sequence[str | None]) -> None:
    """Refuse a genome given twice (same sequence, whatever the file name or compression): its
    copies would fill both the train and the valid split."""
    first: dict[str, Path] = {}
    for path, d in zip(paths, digests, strict=True):
        if d is None:
            continue
        if d in first:
            raise InputError(f"{path}: holds the same sequence as {first[d]}; give each genome once")
        first[d] = path


# ---------------------------------------------------------------------------- batch iterators
class LMBatches:
    """Language-model batches over one token stream (fastai ``LMDataLoader`` semantics).

    The stream of ``n`` tokens (documents in order, or shuffled per epoch) is cut into
    ``batch_size`` rows of ``bl = (n - 1) // batch_size`` input tokens; row ``r`` reads positions
    ``r * bl .. r * bl + bl`` (one more for the last target). Batches walk along the rows, so row
    ``r`` of batch ``j + 1`` continues row ``r`` of batch ``j``. With ``jitter`` the length of each
    batch follows ULMFiT: ``bptt`` with probability 0.95 else ``bptt / 2``, then
    ``max(5, int(N(that, 5)))``, the last one clipped to the end of the rows.

    Parameters
    ----------
    tokens : np.ndarray (memmap allowed) of uint8/uint16, shape (n,)
    batch_size : int
    bptt : int, default 70
    doc_starts : np.ndarray of int64, shape (n_docs,), optional
        Document offsets (the first must be 0); needed for ``shuffle_docs``.
    shuffle_docs : bool, default False
        Shuffle the document order every epoch.
    jitter : bool, default True
    seed : int, default 0

    Batches are dicts ``{"x": int64 (B, T), "y": int64 (B, T), "n_tokens": B * T}`` with
    ``y[:, t] == x[:, t + 1]`` along the stream. Only the needed tokens are read from the memmap.
    """

    def __init__(
        self,
        tokens: np.ndarray,
        batch_size: int,
        bptt: int = 70,
        *,
        doc_starts: np.ndarray | None = None,
        shuffle_docs: bool = False,
        jitter: bool = True,
        seed: int = 0,
    ):
        if batch_size < 1 or bptt < 1:
            raise ConfigError(f"batch_size={batch_size} and bptt={bptt} must be positive")
        self.tokens = tokens
        self.batch_size = int(batch_size)
        self.bptt = int(bptt)
        self.shuffle_docs = shuffle_docs
        self.jitter = jitter
        self.seed = seed
        self.bl = (len(tokens) - 1) // self.batch_size
        if self.bl < 1:
            raise ConfigError(
                f"{len(tokens)} tokens are too few for batch_size={batch_size}; lower the batch size or add data"
            )
        if shuffle_docs:
            if doc_starts is None or len(doc_starts) == 0 or doc_starts[0] != 0:
                raise ValueError("shuffle_docs needs doc_starts beginning with 0")
        self.doc_starts = None if doc_starts is None else np.asarray(doc_starts, dtype=np.int64)

    def _rngs(self, epoch: int) -> tuple[np.random.Generator, np.random.Generator]:
        return np.random.default_rng([self.seed, epoch, 0]), np.random.default_rng([self.seed, epoch, 1])

    def seq_lens(self, epoch: int) -> np.ndarray:
        """Length of every batch of ``epoch`` (sums to ``bl``)."""
        if not self.jitter:
            n_full, rest = divmod(self.bl, self.bptt)
            return np.array([self.bptt] * n_full + ([rest] if rest else []), dtype=np.int64)
        rng = self._rngs(epoch)[1]
        lens, i = [], 0
        while i < self.bl:
            b = self.bptt if rng.random() < 0.95 else self.bptt / 2
            sl = min(max(5, int(rng.normal(b, 5))), self.bl - i)
            lens.append(sl)
            i += sl
        return np.array(lens, dtype=np.int64)

    def num_batches(self, epoch: int) -> int:
        """Exact number of batches of ``epoch`` (varies with jitter)."""
        return len(self.seq_lens(epoch))

    def __len__(self) -> int:
        """Nominal batches per epoch, ``ceil(bl / bptt)`` (exact without jitter)."""
        return -(-self.bl // self.bptt)

    def batches(self, epoch: int) -> Iterator[dict[str, Any]]:
        """Batches of ``epoch`` (deterministic per (seed, epoch))."""
        rng_docs, _ = self._rngs(epoch)
        rows = np.arange(self.batch_size, dtype=np.int64) * self.bl  # (B,)
        if self.shuffle_docs:
            starts = self.doc_starts
            lengths = np.diff(np.append(starts, len(self.tokens)))
            perm = rng_docs.permutation(len(starts))
            cum = np.concatenate(([0], np.cumsum(lengths[perm])))  # virtual start of each shuffled doc
            real = starts[perm]
        i = 0
        for sl in self.seq_lens(epoch).tolist():
            if self.shuffle_docs:
                pos = rows[:, None] + i + np.arange(sl + 1)[None, :]  # (B, sl + 1) virtual positions
                d = np.searchsorted(cum, pos, side="right") - 1
                chunk = np.asarray(self.tokens[(real[d] + pos - cum[d]).ravel()]).reshape(pos.shape)
            else:
                chunk = np.stack([np.asarray(self.tokens[r + i : r + i + sl + 1]) for r in rows.tolist()])
            chunk = torch.from_numpy(chunk.astype(np.int64))  # (B, sl + 1)
            yield {"x": chunk[:, :-1], "y": chunk[:, 1:], "n_tokens": self.batch_size * sl}
            i += sl


class ArrayBatches:
    """Mini-batches of fixed-size examples, shuffled deterministically per (seed, epoch).

    Parameters
    ----------
    x : np.ndarray, shape (n, ...)
        Examples (token ids, base codes, features…), kept on the host in their dtype.
    y : np.ndarray, shape (n,), optional
        Labels (ints become int64, floats float32); None yields batches without ``"y"``.
    batch_size : int
    shuffle : bool, default True
    seed : int, default 0
    transform : callable, optional
        ``transform(x_batch: np.ndarray, rng: np.random.Generator) -> torch.Tensor`` (e.g. one-hot
        + random reverse complement); ``rng`` is seeded by (seed, epoch). Default: ``torch.from_numpy``.
    drop_last : bool, default False
    lengths : np.ndarray, shape (n,), optional
        Unpadded length of each example along the last axis of ``x`` (right-padded). Then each
        batch is cut to its longest member, and batches group similar lengths: in training
        (``shuffle``) fastai's "sortish" order — shuffle, sort chunks of ``sortish`` batches by
        length, shuffle the batches —, otherwise longest first. For data of mixed lengths this
        saves the work on padding (VISTA elements, 315–8,061 bp, are 78% padding when padded to
        the longest); the models must ignore padding.
    sortish : int, default 50
        Batches per sorted chunk; 1 gives batches of random rows (each still cut to its longest
        member), for models whose BatchNorm must see every length in a batch (ULMFiT's head).
        With ``max_tokens`` a chunk of ``batch_size`` random rows that passes the budget is split
        longest rows first, so its parts hold similar lengths.
    max_tokens : int, optional
        With ``lengths``: a batch also stops growing before its rows × its longest length would
        pass ``max_tokens`` (one row always fits), so a batch of long sequences holds fewer rows and
        memory stays bounded (fairseq's ``--max-tokens``). The number of batches can then differ
        between epochs: see :meth:`num_batches`.

    Batches are dicts ``{"x": Tensor (B, ...), "y": Tensor (B,)}``.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        transform: Callable[[np.ndarray, np.random.Generator], torch.Tensor] | None = None,
        drop_last: bool = False,
        lengths: np.ndarray | None = None,
        sortish: int = 50,
        max_tokens: int | None = None,
    ):
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size} must be positive")
        if max_tokens is not None and max_tokens < 1:
            raise ConfigError(f"max_tokens={max_tokens} must be positive")
        if y is not None and len(y) != len(x):
            raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
        if lengths is not None and len(lengths) != len(x):
            raise ValueError(f"x has {len(x)} examples but lengths has {len(lengths)}")
        self.x, self.y = x, (None if y is None else np.asarray(y))
        self.batch_size, self.shuffle, self.seed = int(batch_size), shuffle, seed
        self.transform, self.drop_last = transform, drop_last
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
        self.sortish = max(1, int(sortish))
        self.max_tokens = max_tokens

    def _token_limited(self) -> bool:
        return self.lengths is not None and self.max_tokens is not None

    def __len__(self) -> int:
        if self._token_limited():
            return self.num_batches(0)
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def num_batches(self, epoch: int) -> int:
        """Batches in ``epoch`` (the same for every epoch unless ``max_tokens`` applies)."""
        if not self._token_limited():
            return len(self)
        return len(self._batch_indices(np.random.default_rng([self.seed, epoch])))

    def _x(self, xb: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        if self.transform is not None:
            return self.transform(xb, rng)
        return torch.from_numpy(np.ascontiguousarray(xb))

    def _batch_indices(self, rng: np.random.Generator) -> list[np.ndarray]:
        n, bs = len(self.x), self.batch_size
        if self.lengths is None:
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            return [order[b * bs : (b + 1) * bs] for b in range(len(self))]
        if not self.shuffle:
            return self._pack(np.argsort(-self.lengths, kind="stable"))
        perm, chunk = rng.permutation(n), bs * self.sortish
        order = np.concatenate([c[np.argsort(-self.lengths[c], kind="stable")]
                                for c in np.array_split(perm, range(chunk, n, chunk))])
        batches = self._pack(order)
        return [batches[i] for i in rng.permutation(len(batches))]

    def _pack(self, order: np.ndarray) -> list[np.ndarray]:
        """Cut ``order`` into consecutive batches of ≤ batch_size rows (and ≤ max_tokens padded tokens)."""
        bs, cap, lengths = self.batch_size, self.max_tokens, self.lengths
        if not len(order):
            return []
        if cap is None:
            batches = [order[i : i + bs] for i in range(0, len(order), bs)]
        else:
            batches, start, longest = [], 0, 0
            for i, j in enumerate(order):
                grown = max(longest, int(lengths[j]))
                if i > start and (i - start >= bs or (i - start + 1) * grown > cap):
                    batches.append(order[start:i])
                    start, grown = i, int(lengths[j])
                longest = grown
            batches.append(order[start:])
        if self.drop_last and batches:  # a last batch short of what its lengths allow is dropped
            last = batches[-1]
            full = bs if cap is None else min(bs, max(1, cap // max(1, int(lengths[last].max()))))
            if len(last) < full:
                batches.pop()
        return batches

    def batches(self, epoch: int) -> Iterator[dict[str, Any]]:
        """Batches of ``epoch`` (deterministic per (seed, epoch))."""
        rng = np.random.default_rng([self.seed, epoch])
        for idx in self._batch_indices(rng):
            xb = self.x[idx]
            if self.lengths is not None:
                xb = xb[..., : max(1, int(self.lengths[idx].max()))]
            batch: dict[str, Any] = {"x": self._x(xb, rng)}
            if self.y is not None:
                yb = self.y[idx]
                batch["y"] = torch.from_numpy(yb.astype(np.int64 if yb.dtype.kind in "iub" else np.float32))
            yield batch


class ClassificationBatches(ArrayBatches):
    """Batches of token arrays for the ULMFiT classifier.

    Parameters
    ----------
    token_array : np.ndarray of uint8/uint16, shape (n, T)
        Padded token ids (``pad_id`` on either side).
    labels : np.ndarray of int, shape (n,)
    batch_size : int
    shuffle : bool, default True
    seed : int, default 0
    drop_last : bool, default False
    pad_id : int, default 0
    trim : bool, default True
        Drop leading/trailing columns that are padding in every row of a batch.

    Batches: ``{"x": int64 (B, T_b), "y": int64 (B,), "n_tokens": non-pad tokens}``.
    """

    def __init__(
        self,
        token_array: np.ndarray,
        labels: np.ndarray | None,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        *,
        pad_id: int = 0,
        trim: bool = True,
    ):
        super().__init__(token_array, labels, batch_size, shuffle, seed, self._tokens, drop_last)
        self.pad_id, self.trim = pad_id, trim

    def _tokens(self, xb: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """Trim all-pad columns (numpy, host dtype) and cast to int64."""
        if self.trim:
            cols = np.flatnonzero((xb != self.pad_id).any(0))
            if len(cols):
                xb = xb[:, cols[0] : cols[-1] + 1]
        return torch.from_numpy(xb.astype(np.int64))

    def batches(self, epoch: int) -> Iterator[dict[str, Any]]:
        """Batches of ``epoch`` with ``n_tokens`` = non-pad tokens."""
        for batch in super().batches(epoch):
            batch["n_tokens"] = int((batch["x"] != self.pad_id).sum())
            yield batch
