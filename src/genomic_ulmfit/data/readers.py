"""Streaming readers for the input formats: sequence-per-line files, FASTA, TSV/CSV and BED + genome.

Every reader yields :class:`Record` tuples one at a time, reads gzip transparently (detected by its
magic bytes, never by the file name), accepts LF and CRLF line endings, and raises
:class:`~genomic_ulmfit.errors.InputError` with one line naming the file, the record or line and
the problem. Sequences are checked with a fast path over whole lines (``bytes.translate`` / a
compiled regex); only a line that fails it goes through
:func:`~genomic_ulmfit.data.sequences.clean_sequence`, which builds the message or masks IUPAC
codes.

The Cohn et al. folder/archive layout is read by :mod:`genomic_ulmfit.data.cohn`, on top of
:func:`read_sequence_lines` here.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import re
import sys
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NamedTuple

from genomic_ulmfit.data.sequences import clean_sequence, parse_label, revcomp
from genomic_ulmfit.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
UTF8_BOM = b"\xef\xbb\xbf"
UNLABELED = -1  # label of records read without a label (prediction inputs)
# A plain-gzip genome is read into memory up to this compressed size; larger ones need bgzip.
MAX_GZIP_GENOME_BYTES = 256 * 1024 * 1024

_ACGTN_BYTES = b"ACGTNacgtn"
_ACGTN_RE = re.compile(r"[ACGTNacgtn]+")
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


class Record(NamedTuple):
    """One labelled sequence as read from a file.

    ``label`` is 0 or 1, or :data:`UNLABELED` (-1) when the reader was given no label.
    ``source`` is the file (or ``archive!member``) the record came from.
    """

    id: str
    sequence: str
    label: int
    species: str
    source: str


# ----------------------------------------------------------------------------- opening files


def is_gzip(path: str | os.PathLike) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def corrupt_gzip_error(name: str, exc: BaseException, after_line: int | None = None) -> InputError:
    """The one-line error for a truncated or corrupt gzip stream (``after_line``: last good line)."""
    where = f" after line {after_line}" if after_line is not None else ""
    return InputError(
        f"{name}: truncated or corrupt gzip data{where} ({exc}); re-download the file or check it with `gzip -t`"
    )


def wrap_binary(fh: IO[bytes], name: str = "input") -> IO[bytes]:
    """Return ``fh`` itself, or a gzip reader over it when its first bytes are the gzip magic.

    ``fh`` must be a binary stream; it is wrapped in a buffer so the magic can be peeked without
    seeking (tar members and pipes work). ``name`` is used in the error for corrupt gzip data.
    """
    buffered = fh if hasattr(fh, "peek") else io.BufferedReader(fh, 1 << 20)  # type: ignore[arg-type]
    try:
        head = buffered.peek(2)[:2]
    except _GZIP_ERRORS as exc:  # ``fh`` is itself a gzip reader whose data is corrupt
        raise corrupt_gzip_error(name, exc) from exc
    if head in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError(f"{name}: the file is UTF-16 text; save it as UTF-8 (or plain ASCII)")
    if head == GZIP_MAGIC:
        return io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"), 1 << 20)  # type: ignore[arg-type]
    return buffered


def read_head(path: str | os.PathLike, n: int = 64) -> bytes:
    """The first ``n`` bytes of a file after gzip decompression (file type sniffing).

    Raises
    ------
    InputError
        As :func:`open_binary`, and for gzip data that ends or breaks within the first buffer.
    """
    with open_binary(path) as fh:
        try:
            return fh.read(n)
        except _GZIP_ERRORS as exc:
            raise corrupt_gzip_error(str(path), exc) from exc


def binary_kind(head: bytes) -> str | None:
    """What a file is when it is one of the binary kinds given by mistake for a table or FASTA.

    ``head`` is the file's first bytes after gzip decompression (:func:`read_head`, at least 262
    of them to see a tar header). Returns a phrase ending in what to do, or None for anything else.
    """
    if head[:4] == b"PAR1":
        return "a Parquet file (a dataset): give it where a command takes a DATASET, not as a table"
    if head[:4] == b"PK\x03\x04":
        return "a zip archive; unzip it and give the file inside"
    if head[257:262] == b"ustar":
        return ("a tar archive; read a Cohn et al. archive with `genomic-ulmfit data import --cohn`, "
                "extract any other and give the file inside")
    if head.startswith((BZIP2_MAGIC, XZ_MAGIC)):
        return "bzip2/xz-compressed; decompress it (gzip is read directly)"
    return None


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """Open ``path`` for binary reading, decompressing gzip (magic bytes) transparently.

    Raises
    ------
    InputError
        When the file does not exist, is a folder or cannot be read.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found; check the path")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, expected a file")
    try:
        return wrap_binary(open(p, "rb", buffering=1 << 20), str(p))
    except OSError as exc:
        raise InputError(f"{p}: cannot read file ({exc.strerror or exc})") from exc


def iter_lines(fh: IO[bytes], name: str) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, line)`` with 1-based numbers and the line ending (LF or CRLF) removed.

    A truncated or corrupt gzip stream becomes one :class:`InputError` naming the last good line.
    A UTF-8 byte-order mark at the start of the first line is dropped.
    """
    lineno = 0
    try:
        for lineno, line in enumerate(fh, 1):  # noqa: B007 - lineno is used after the loop
            if lineno == 1:
                line = line.removeprefix(UTF8_BOM)
            yield lineno, line.rstrip(b"\r\n")
    except _GZIP_ERRORS as exc:
        raise corrupt_gzip_error(name, exc, lineno) from exc


def display_name(path: str | os.PathLike) -> str:
    """The file name used in messages and in the ``source`` column (the path as given)."""
    return str(path)


def file_stem(path: str | os.PathLike) -> str:
    """File name without ``.gz`` and one more extension: ``a/b.tsv.gz`` -> ``b``."""
    name = Path(path).name
    if name.endswith(".gz"):
        name = name[:-3]
    return name.rsplit(".", 1)[0] if "." in name else name


# ----------------------------------------------------------------------------- validation


def bytes_ok(raw: bytes, min_length: int = 1) -> bool:
    """Fast check: ``raw`` is only A/C/G/T/N (any case) and at least ``min_length`` (>= 1) long."""
    return len(raw) >= max(min_length, 1) and not raw.translate(None, _ACGTN_BYTES)


def check_sequence_bytes(raw: bytes, where: str, *, mask_iupac: bool, min_length: int) -> str:
    """Validate one sequence given as bytes (fast path), return it as an upper-case ``str``.

    ``where`` names the file and record in the error message.
    """
    if bytes_ok(raw, min_length):
        return raw.upper().decode("ascii")
    text = raw.decode("utf-8", errors="replace")
    return clean_sequence(text, where=where, mask_iupac=mask_iupac, min_length=min_length)


def check_sequence_str(seq: str, where: str, *, mask_iupac: bool, min_length: int) -> str:
    """Validate one sequence given as ``str`` (regex fast path), return it upper-cased."""
    if len(seq) >= max(min_length, 1) and _ACGTN_RE.fullmatch(seq):
        return seq.upper()
    return clean_sequence(seq, where=where, mask_iupac=mask_iupac, min_length=min_length)


def _label_value(value: str, where: str) -> int:
    if value == "1":
        return 1
    if value == "0":
        return 0
    return parse_label(value, where=where)


# ----------------------------------------------------------------------------- one sequence per line


def read_sequence_lines(
    fh: IO[bytes],
    *,
    name: str,
    label: int,
    species: str,
    id_prefix: str,
    mask_iupac: bool = False,
    min_length: int = 1,
) -> Iterator[Record]:
    """Read a file with one sequence per line (the Cohn ``positive_samples`` layout).

    Parameters
    ----------
    fh : binary file object
        Plain or gzip (detected by magic bytes).
    name : str
        File name for messages and the ``source`` column.
    label : int
        0 or 1 for every line.
    species : str
        Species of every line.
    id_prefix : str
        Record ids are ``f"{id_prefix}{line_number}"`` (1-based), e.g. ``"Human:pos:17"``.
    mask_iupac, min_length
        See :func:`~genomic_ulmfit.data.sequences.clean_sequence`.

    Trailing blank lines are ignored; a blank line followed by more sequences is an error.
    """
    fh = wrap_binary(fh, name)
    blank_at = 0
    n = 0
    for lineno, line in iter_lines(fh, name):
        raw = line.strip()
        if not raw:
            blank_at = blank_at or lineno
            continue
        if blank_at:
            raise InputError(f"{name}: line {blank_at}: empty sequence; remove blank lines")
        if bytes_ok(raw, min_length):
            seq = raw.upper().decode("ascii")
        else:
            seq = check_sequence_bytes(raw, f"{name}: line {lineno}", mask_iupac=mask_iupac, min_length=min_length)
        n += 1
        yield Record(f"{id_prefix}{lineno}", seq, label, species, name)
    if n == 0:
        raise InputError(f"{name}: empty file (no sequences); expected one sequence per line")


# ----------------------------------------------------------------------------- FASTA


def fasta_id(header: str) -> str:
    """Record id from a FASTA header line (without ``>``): its first word.

    UCSC Table Browser exports (``hg19_ct_UserTrack_3545_0 range=chr1:100-600 ... strand=+``)
    repeat the first word across records; for them the ``range=`` value is the id, with ``(-)``
    added for the minus strand (as :func:`read_bed` names minus-strand regions).
    """
    words = header.split()
    if not words:
        return ""
    for word in words[1:]:
        if word.startswith("range="):
            return word[len("range=") :] + ("(-)" if "strand=-" in words else "")
    return words[0]


def read_fasta_stream(
    fh: IO[bytes],
    *,
    name: str,
    label: int = UNLABELED,
    species: str = "unknown",
    id_prefix: str = "",
    mask_iupac: bool = False,
    min_length: int = 1,
) -> Iterator[Record]:
    """Read FASTA records from an open binary stream; see :func:`read_fasta`."""
    fh = wrap_binary(fh, name)
    seen: dict[str, int] = {}
    header: str | None = None
    header_line = 0
    chunks: list[bytes] = []
    n = 0

    def finish() -> Record:
        rid = fasta_id(header or "")
        where = f"{name}: record {n} (line {header_line}"
        if not rid:
            raise InputError(f"{where}): empty FASTA header; give every record an id after '>'")
        if rid in seen:
            raise InputError(
                f"{where}): duplicate id {rid!r} (first at record {seen[rid]}; an id is the first word of "
                "its header); make the FASTA ids unique"
            )
        seen[rid] = n
        seq = check_sequence_bytes(
            b"".join(chunks), f"{where}, id {rid})", mask_iupac=mask_iupac, min_length=min_length
        )
        return Record(f"{id_prefix}{rid}", seq, label, species, name)

    for lineno, line in iter_lines(fh, name):
        if line.startswith(b">"):
            if header is not None:
                yield finish()
            n += 1
            header = line[1:].decode("utf-8", errors="replace")
            header_line = lineno
            chunks = []
        elif line.startswith(b";"):
            continue
        else:
            raw = line.strip()
            if not raw:
                continue
            if header is None:
                raise InputError(
                    f"{name}: line {lineno}: sequence data before the first '>' header; "
                    "is this a FASTA file?"
                )
            chunks.append(raw)
    if header is None:
        raise InputError(f"{name}: empty file or no FASTA records ('>' headers) found")
    yield finish()


def read_fasta(
    path: str | os.PathLike,
    *,
    label: int = UNLABELED,
    species: str = "unknown",
    id_prefix: str = "",
    mask_iupac: bool = False,
    min_length: int = 1,
) -> Iterator[Record]:
    """Stream the records of a FASTA file (multi-line, any case, gzip or plain).

    Parameters
    ----------
    path : path-like
        FASTA file.
    label : int, default -1
        Label of every record (0 or 1; -1 = unlabeled).
    species : str, default "unknown"
        Species of every record.
    id_prefix : str, default ""
        Prepended to every id (the first word of the header, see :func:`fasta_id`).
    mask_iupac, min_length
        See :func:`~genomic_ulmfit.data.sequences.clean_sequence`.

    Raises
    ------
    InputError
        Empty file, data before the first header, empty header, duplicate ids, bad sequences.
    """
    name = display_name(path)
    with open_binary(path) as fh:
        yield from read_fasta_stream(
            fh,
            name=name,
            label=label,
            species=species,
            id_prefix=id_prefix,
            mask_iupac=mask_iupac,
            min_length=min_length,
        )


# ----------------------------------------------------------------------------- TSV / CSV


def _shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (for one-line messages)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _header_hint(header: list[str], delim: str) -> str:
    """How to fix a table header without a 'sequence' column (the end of a one-line message)."""
    first = header[0] if header else ""
    if len(first) >= 10 and not first.strip("acgtn"):
        return "line 1 looks like data, not a header; add a header line naming the columns 'sequence' and 'label'"
    joined = " ".join(header)
    if "sequence" in joined:
        other = next((d for d in ("\t", ",", ";") if d != delim and d in joined), None)
        sep = {"\t": "tab", ",": "comma", ";": "semicolon"}
        if other is not None:
            return (f"its columns look separated by {sep[other]}s, but this file is read as "
                    f"{sep[delim]}-separated; use {sep[delim]}s (or a .tsv/.csv name that matches)")
    return "name the columns 'sequence' and 'label'"


def table_delimiter(path: str | os.PathLike, first_line: str) -> str:
    """Delimiter of a table: by extension (``.tsv``/``.tab``/``.txt`` tab, ``.csv`` comma, ``.gz``
    ignored), otherwise tab when the header line contains one, else comma."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith((".tsv", ".tab", ".txt")):
        return "\t"
    if name.endswith(".csv"):
        return ","
    return "\t" if "\t" in first_line else ","


def read_table(
    path: str | os.PathLike,
    *,
    species: str | None = None,
    label: int | None = None,
    require_label: bool = True,
    mask_iupac: bool = False,
    min_length: int = 1,
) -> Iterator[Record]:
    """Stream a TSV/CSV table with a ``sequence`` column and a ``label`` column.

    Column names are matched case-insensitively; optional ``id`` and ``species`` columns are used
    when present. Without an ``id`` column the id is ``"{file stem}:{line}"``.

    Parameters
    ----------
    path : path-like
        ``.tsv``/``.csv`` (optionally ``.gz``; gzip is detected by content).
    species : str or None
        Species of rows without a ``species`` column/value (default ``"unknown"``).
    label : int or None
        Label for every row when the file has no ``label`` column.
    require_label : bool, default True
        When False a missing label column gives label -1 (for prediction inputs).
    mask_iupac, min_length
        See :func:`~genomic_ulmfit.data.sequences.clean_sequence`.
    """
    name = display_name(path)
    stem = file_stem(path)
    default_species = species or "unknown"
    if (kind := binary_kind(read_head(path, 512))) is not None:
        raise InputError(f"{name}: this is {kind}")
    raw = open_binary(path)
    text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
    try:
        try:
            first = text.readline()
        except _GZIP_ERRORS as exc:
            raise corrupt_gzip_error(name, exc) from exc
        first = first.removeprefix("\ufeff")
        if not first.strip():
            raise InputError(f"{name}: empty file; expected a header line with 'sequence' and 'label' columns")
        delim = table_delimiter(path, first)
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        header = [h.strip().lower() for h in next(csv.reader([first], delimiter=delim))]
        col = {h: i for i, h in enumerate(header)}
        if "sequence" not in col:
            raise InputError(f"{name}: line 1: no 'sequence' column (found {_shorten(', '.join(header))}); "
                             + _header_hint(header, delim))
        for key in ("sequence", "label", "id", "species"):
            if header.count(key) > 1:
                raise InputError(f"{name}: line 1: column {key!r} appears {header.count(key)} times "
                                 "(names are case-insensitive); keep one")
        i_seq = col["sequence"]
        i_lab = col.get("label")
        if i_lab is None and label is None and require_label:
            raise InputError(
                f"{name}: line 1: no 'label' column (found {', '.join(header)}); add a 0/1 'label' column"
            )
        fixed_label = UNLABELED if label is None else parse_label(label, where=f"{name}: label option")
        i_id = col.get("id")
        i_sp = col.get("species")
        ncol = len(header)
        reader = csv.reader(text, delimiter=delim)
        n = 0
        lineno = 1
        end = 1  # file line where the last row ended (the header: 1)
        try:
            for row in reader:
                # A row starts on the line after the previous one ended; a quoted field can span lines.
                lineno, end = end + 1, reader.line_num + 1
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if end > lineno:
                    raise InputError(
                        f"{name}: line {lineno}: a quoted field runs on to line {end} (a stray '\"'?); "
                        "remove the quote, or close it on the same line"
                    )
                if len(row) != ncol:
                    raise InputError(
                        f"{name}: line {lineno}: expected {ncol} columns, found {len(row)}; "
                        f"check the delimiter ({'tab' if delim == chr(9) else 'comma'})"
                    )
                where = f"{name}: line {lineno}"
                seq = check_sequence_str(row[i_seq].strip(), where, mask_iupac=mask_iupac, min_length=min_length)
                lab = _label_value(row[i_lab].strip(), where) if i_lab is not None else fixed_label
                rid = row[i_id].strip() if i_id is not None else f"{stem}:{lineno}"
                if not rid:
                    raise InputError(f"{where}: empty id; fill the 'id' column or drop it")
                sp = (row[i_sp].strip() if i_sp is not None else "") or default_species
                n += 1
                yield Record(rid, seq, lab, sp, name)
        except _GZIP_ERRORS as exc:
            raise corrupt_gzip_error(name, exc, end) from exc
        except csv.Error as exc:
            raise InputError(f"{name}: line {end + 1}: malformed table row ({exc})") from exc
        if n == 0:
            raise InputError(f"{name}: no data rows after the header line")
    finally:
        text.close()


# ----------------------------------------------------------------------------- BED + genome


def is_bgzf(path: str | os.PathLike) -> bool:
    """True when the file is BGZF (bgzip) compressed: gzip with the ``BC`` extra subfield."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    return head[:4] == b"\x1f\x8b\x08\x04" and head[12:14] == b"BC"


class Genome:
    """Random access to the chromosomes of a genome FASTA.

    Plain FASTA (and bgzip FASTA when Biopython is installed) are read through pyfaidx; the
    ``.fai`` index goes beside the genome, or into a temporary folder when that folder is not
    writable. A plain-gzip genome cannot be indexed: it is read into memory when its compressed
    size is at most :data:`MAX_GZIP_GENOME_BYTES` (fine for a chromosome or a simulated genome);
    a larger one gives an error telling to ``bgzip`` it or decompress it.

    Parameters
    ----------
    path : path-like
        Genome FASTA (plain, bgzip or gzip).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: genome FASTA not found; check --genome")
        self._faidx = None
        self._mem: dict[str, bytes] | None = None
        gz = is_gzip(self.path)
        if gz and not (is_bgzf(self.path) and _has_biopython()):
            size = self.path.stat().st_size
            if size > MAX_GZIP_GENOME_BYTES:
                raise InputError(
                    f"{self.path}: gzip-compressed genome of {size / 2**20:.0f} MiB cannot be indexed; "
                    f"recompress it with `bgzip` (and install biopython) or decompress it with `gunzip`"
                )
            self._mem = _read_genome_memory(self.path)
        else:
            self._faidx = self._open_pyfaidx()

    def _open_pyfaidx(self):
        import pyfaidx

        # An index older than its genome describes another file: reading through it cuts the wrong
        # bases, so pyfaidx rebuilds it (rebuild=True); where the genome's folder is read-only the
        # index goes to a cache keyed by the genome's path, size and mtime, so an edited genome
        # never meets its old index.
        stat = self.path.stat()
        index = Path(str(self.path) + ".fai")
        fresh = index.exists() and index.stat().st_mtime >= stat.st_mtime
        if not fresh and not os.access(self.path.parent, os.W_OK):
            cache = Path(tempfile.gettempdir()) / "genomic-ulmfit-fai"
            cache.mkdir(exist_ok=True)
            ident = f"{self.path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
            key = hashlib.sha256(ident.encode()).hexdigest()[:16]
            index = cache / f"{key}_{self.path.name}.fai"
        try:
            return pyfaidx.Fasta(str(self.path), indexname=str(index), as_raw=True, rebuild=True)
        except Exception as exc:  # pyfaidx raises several unrelated types for bad files
            raise InputError(f"{self.path}: cannot index genome FASTA ({exc}); check that it is FASTA") from exc

    def length(self, chrom: str) -> int | None:
        """Length of ``chrom``, or None when the genome has no such sequence."""
        if self._mem is not None:
            seq = self._mem.get(chrom)
            return None if seq is None else len(seq)
        if chrom not in self._faidx:
            return None
        return len(self._faidx[chrom])

    def names(self) -> list[str]:
        """Sequence names in the genome."""
        return list(self._mem) if self._mem is not None else list(self._faidx.keys())

    def fetch(self, chrom: str, start: int, end: int) -> bytes:
        """Bases ``[start, end)`` (0-based, half-open) of ``chrom`` as bytes, original case."""
        if self._mem is not None:
            return self._mem[chrom][start:end]
        return str(self._faidx[chrom][start:end]).encode("ascii")

    def close(self) -> None:
        """Release the pyfaidx file handle."""
        if self._faidx is not None:
            self._faidx.close()


def _has_biopython() -> bool:
    try:
        import Bio.bgzf  # noqa: F401
    except ImportError:
        return False
    return True


def _read_genome_memory(path: Path) -> dict[str, bytes]:
    """Read a (gzip) FASTA genome into ``{name: bases}``; names are the header's first word."""
    out: dict[str, bytes] = {}
    name = None
    chunks: list[bytes] = []
    with open_binary(path) as fh:
        for lineno, line in iter_lines(fh, str(path)):
            if line.startswith(b">"):
                if name is not None:
                    out[name] = b"".join(chunks)
                words = line[1:].split()
                name = words[0].decode("utf-8", errors="replace") if words else ""
                if name in out:
                    raise InputError(f"{path}: line {lineno}: duplicate sequence name {name!r} in genome")
                chunks = []
            elif name is None:
                if line.strip():
                    raise InputError(f"{path}: line {lineno}: sequence before the first '>' header")
            else:
                chunks.append(line.strip())
    if name is None:
        raise InputError(f"{path}: empty genome FASTA (no '>' headers)")
    out[name] = b"".join(chunks)
    return out


def read_bed(
    bed: str | os.PathLike,
    genome: str | os.PathLike | Genome,
    *,
    label: int = UNLABELED,
    species: str = "unknown",
    width: int | None = None,
    mask_iupac: bool = False,
    min_length: int = 1,
) -> Iterator[Record]:
    """Stream the sequences of BED regions cut from a genome FASTA.

    Parameters
    ----------
    bed : path-like
        BED file (0-based, half-open; ``track``/``browser``/``#`` lines skipped). Column 4 (name,
        unless ``.``) is the id, else ``chrom:start-end``; column 6 ``-`` takes the reverse
        complement (the id then ends with ``(-)`` when it is built from coordinates).
    genome : path-like or Genome
        Genome FASTA whose sequence names match the BED chromosomes (see :class:`Genome`).
    label : int, default -1
        Label of every region.
    species : str, default "unknown"
        Species of every region.
    width : int or None
        When given, take a window of exactly ``width`` bases centred on each region's centre.
    mask_iupac, min_length
        See :func:`~genomic_ulmfit.data.sequences.clean_sequence`.

    Raises
    ------
    InputError
        Malformed lines, unknown chromosomes, regions outside a chromosome, duplicate ids.
    """
    name = display_name(bed)
    if width is not None and width < 1:
        raise InputError(f"{name}: width {width} must be a positive number of bases")
    own = not isinstance(genome, Genome)
    gen = Genome(genome) if own else genome
    seen: dict[str, int] = {}
    n = 0
    try:
        with open_binary(bed) as fh:
            for lineno, line in iter_lines(fh, name):
                text = line.decode("utf-8", errors="replace").strip()
                if not text or text.startswith(("#", "track", "browser")):
                    continue
                where = f"{name}: line {lineno}"
                fields = text.split("\t") if "\t" in text else text.split()
                if len(fields) < 3:
                    raise InputError(f"{where}: expected at least 3 columns (chrom, start, end), found {len(fields)}")
                chrom = fields[0]
                try:
                    start, end = int(fields[1]), int(fields[2])
                except ValueError:
                    raise InputError(f"{where}: start/end {fields[1]!r}, {fields[2]!r} are not integers") from None
                if start < 0 or end <= start:
                    raise InputError(f"{where}: bad region {chrom}:{start}-{end}; need 0 <= start < end (0-based)")
                if width is not None:
                    start = (start + end) // 2 - width // 2
                    end = start + width
                size = gen.length(chrom)
                if size is None:
                    shown = ", ".join(gen.names()[:5])
                    raise InputError(
                        f"{where}: chromosome {chrom!r} is not in genome {gen.path} (it has {shown}...); "
                        "use the genome the BED was made for"
                    )
                if start < 0 or end > size:
                    raise InputError(
                        f"{where}: region {chrom}:{start}-{end} lies outside {chrom} (length {size}); "
                        + ("fix the coordinates or use a smaller --width" if width is not None
                           else "fix the coordinates (is the BED for another assembly?)")
                    )
                strand = fields[5] if len(fields) > 5 else "+"
                if strand not in ("+", "-", "."):
                    raise InputError(f"{where}: strand {strand!r} in column 6 is not '+', '-' or '.'")
                rid = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else f"{chrom}:{start}-{end}"
                if strand == "-" and rid == f"{chrom}:{start}-{end}":
                    rid += "(-)"
                if rid in seen:
                    raise InputError(f"{where}: duplicate region id {rid!r} (first at line {seen[rid]}); make names unique")
                seen[rid] = lineno
                seq = check_sequence_bytes(
                    gen.fetch(chrom, start, end), f"{where} ({chrom}:{start}-{end})",
                    mask_iupac=mask_iupac, min_length=min_length,
                )
                if strand == "-":
                    seq = revcomp(seq)
                n += 1
                yield Record(rid, seq, label, species, name)
        if n == 0:
            raise InputError(f"{name}: empty BED file (no regions)")
    finally:
        if own:
            gen.close()
