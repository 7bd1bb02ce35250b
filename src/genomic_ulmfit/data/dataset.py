"""The dataset table: one pandas DataFrame, stored as Parquet with a JSON sidecar.

Columns
-------
``id`` (str, unique), ``species`` (str), ``label`` (int8, 0/1), ``sequence`` (str, upper-case
ACGTN), ``split`` (str: ``"train"``/``"valid"``/``"test"``, or ``""`` when unsplit), ``source``
(str: the file a row came from) and, when cross-validation folds were assigned, ``fold`` (int16,
-1 for rows outside the folds).

The sidecar ``<path>.json`` records the sources, counts per species/label/split, the content hash
(:func:`dataset_hash`), the package version and the creation time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genomic_ulmfit.data.readers import UNLABELED, Record, read_bed, read_fasta, read_table
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.utils import atomic_path, write_json_atomic

COLUMNS = ("id", "species", "label", "sequence", "split", "source")
SPLITS = ("train", "valid", "test")
SOURCE_KINDS = ("cohn", "tsv", "fasta", "bed")
PARQUET_MAGIC = b"PAR1"


@dataclass
class Source:
    """One input of :func:`import_sources`.

    Parameters
    ----------
    kind : {"cohn", "tsv", "fasta", "bed"}
        Reader to use.
    path : path-like
        The folder/archive (cohn), table (tsv), FASTA (positives when ``negative`` is given) or BED.
    species : str or None
        Species name; for ``cohn`` a comma-separated list of species to keep (None: all).
        For ``tsv`` it fills rows without a ``species`` column. Default ``"unknown"``.
    label : int or None
        Label of every record (fasta without ``negative``, bed; tsv without a label column).
    negative : path-like or None
        For ``fasta``: a second FASTA of negatives; ``path`` is then read as positives.
    genome : path-like or None
        For ``bed``: the genome FASTA.
    width : int or None
        For ``bed``: fixed window centred on each region.
    include_peaks : bool
        For ``cohn``: also read ``peaks_fasta_files`` as positives.
    """

    kind: str
    path: str | os.PathLike
    species: str | None = None
    label: int | None = None
    negative: str | os.PathLike | None = None
    genome: str | os.PathLike | None = None
    width: int | None = None
    include_peaks: bool = False

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ConfigError(f"source kind {self.kind!r} is not one of {', '.join(SOURCE_KINDS)}")
        if self.label is not None and self.label not in (0, 1):
            raise ConfigError(f"{self.path}: label {self.label!r} is not 0 or 1")
        if self.kind == "fasta" and self.negative is None and self.label is None:
            raise ConfigError(f"{self.path}: a FASTA source needs a label (0 or 1) or a negative FASTA")
        if self.kind == "bed" and (self.genome is None or self.label is None):
            raise ConfigError(f"{self.path}: a BED source needs a genome FASTA and a label (0 or 1)")

    def records(self, *, mask_iupac: bool = False, min_length: int = 1) -> Iterable[Record]:
        """Stream this source's records."""
        kw = {"mask_iupac": mask_iupac, "min_length": min_length}
        species = self.species or "unknown"
        if self.kind == "cohn":
            from genomic_ulmfit.data.cohn import read_cohn

            keep = [s.strip() for s in self.species.split(",") if s.strip()] if self.species else None
            yield from read_cohn(self.path, species=keep, include_peaks=self.include_peaks, **kw)
        elif self.kind == "tsv":
            yield from read_table(self.path, species=self.species, label=self.label, **kw)
        elif self.kind == "fasta":
            if self.negative is None:
                yield from read_fasta(self.path, label=int(self.label), species=species, **kw)
            else:
                yield from read_fasta(self.path, label=1, species=species, **kw)
                yield from read_fasta(self.negative, label=0, species=species, **kw)
        else:
            yield from read_bed(
                self.path, self.genome, label=int(self.label), species=species, width=self.width, **kw
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (paths as strings, unset fields dropped)."""
        return {
            k: (str(v) if isinstance(v, os.PathLike) else v)
            for k, v in asdict(self).items()
            if v is not None and v is not False
        }


# ----------------------------------------------------------------------------- building tables


def records_to_frame(records: Iterable[Record]) -> pd.DataFrame:
    """Collect records into a dataset table (``split`` empty), in the given order."""
    ids: list[str] = []
    seqs: list[str] = []
    labels: list[int] = []
    species: list[str] = []
    sources: list[str] = []
    for r in records:
        ids.append(r.id)
        seqs.append(r.sequence)
        labels.append(r.label)
        species.append(r.species)
        sources.append(r.source)
    return pd.DataFrame(
        {
            "id": pd.array(ids, dtype="str"),
            "species": pd.array(species, dtype="str"),
            "label": np.asarray(labels, dtype=np.int8),
            "sequence": pd.array(seqs, dtype="str"),
            "split": pd.array([""] * len(ids), dtype="str"),
            "source": pd.array(sources, dtype="str"),
        }
    )


def _source_tag(source: str, with_folder: bool) -> str:
    """A source's file stem (``pos`` for ``a/pos.fa``), with its folder (``a/pos``) when asked."""
    from genomic_ulmfit.data.readers import file_stem

    path = source.split("!")[-1]
    stem = file_stem(path)
    return f"{Path(path).parent.name}/{stem}" if with_folder and Path(path).parent.name else stem


def make_ids_unique(df: pd.DataFrame) -> pd.DataFrame:
    """Make ``id`` unique across a table built from several files.

    Ids repeated within one file are an error. When ids collide across files, every id not
    already starting with ``"{species}:"`` gets that prefix; ids that still collide become
    ``"{species}:{file stem}:{id}"`` (e.g. ``Mouse:pos:a`` and ``Mouse:neg:a``), and those that
    collide even then, from files of the same name in different folders,
    ``"{species}:{folder}/{file stem}:{id}"``.

    Raises
    ------
    InputError
        An id repeated within one source file, or a collision that the prefixes cannot resolve.
    """
    if df["id"].is_unique:
        return df
    within = df.duplicated(["source", "id"])
    if within.any():
        i = int(np.flatnonzero(within.to_numpy())[0])
        src, rid = df["source"][i], df["id"][i]
        same_file = np.flatnonzero((df["source"] == src).to_numpy())
        first = int(np.flatnonzero(df["id"].to_numpy()[same_file] == rid)[0]) + 1
        raise InputError(f"{src}: record {int(np.searchsorted(same_file, i)) + 1}: duplicate id {rid!r} (first at "
                         f"record {first}); make the ids unique within the file")
    df = df.copy()
    ids = df["id"].astype(object).to_numpy()
    sp = df["species"].astype(object).to_numpy() + ":"
    bare = np.array([i[len(s) :] if i.startswith(s) else i for i, s in zip(ids, sp, strict=True)], dtype=object)
    new = sp + bare
    dup = pd.Series(new).duplicated(keep=False).to_numpy()
    for with_folder in (False, True):
        if not dup.any():
            break
        stems = np.array([_source_tag(str(s), with_folder) + ":" for s in df["source"]], dtype=object)
        new = np.where(dup, sp + stems + bare, new)
        dup = pd.Series(new).duplicated(keep=False).to_numpy()
    df["id"] = pd.array(new, dtype="str")
    if dup.any():
        first = df["id"][dup].iloc[0]
        files = sorted(set(df["source"][dup & (df["id"] == first).to_numpy()]))
        raise InputError(f"dataset: id {first!r} stands in {' and '.join(files)}: is one file given twice? "
                         "Give each file once, or make their ids distinct")
    return df


def _check_files_given_once(sources: Sequence[Source]) -> None:
    """A FASTA/table/BED file read twice would duplicate its records (under two labels, say)."""
    seen: dict[Path, str] = {}
    for src in sources:
        if src.kind == "cohn":  # one archive may be read for several species
            continue
        role = ("the positives" if src.negative is not None or src.label == 1
                else "the negatives" if src.label == 0 else f"a {src.kind} input")
        for path, as_what in ((src.path, role), (src.negative, "the negatives")):
            if path is None:
                continue
            key = Path(path).resolve()
            if key in seen:
                raise InputError(f"{path}: given twice (already read as {seen[key]}); give each file once")
            seen[key] = as_what


def import_sources(
    sources: Sequence[Source],
    *,
    mask_iupac: bool = False,
    min_length: int = 1,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Read every source into one dataset table (unsplit), ids made unique.

    Parameters
    ----------
    sources : sequence of Source
        Inputs, read in order.
    mask_iupac : bool, default False
        Turn IUPAC ambiguity codes into N instead of failing.
    min_length : int, default 1
        Shortest accepted sequence.
    progress : callable or None
        Called with the number of records read so far, every 10,000 records and at the end.

    Returns
    -------
    DataFrame
        The dataset table, see the module docstring.
    """
    if not sources:
        raise ConfigError("no data sources given; pass at least one input file")
    _check_files_given_once(sources)

    def stream() -> Iterable[Record]:
        n = 0
        for src in sources:
            for rec in src.records(mask_iupac=mask_iupac, min_length=min_length):
                n += 1
                if progress is not None and n % 10_000 == 0:
                    progress(n)
                yield rec
        if progress is not None:
            progress(n)

    df = records_to_frame(stream())
    bad = df["label"] == UNLABELED
    if bad.any():
        src = df.loc[bad, "source"].iloc[0]
        raise InputError(f"{src}: records have no label; give a label column or a label for the file")
    return make_ids_unique(df)


# ----------------------------------------------------------------------------- validation, hash


def validate_dataset(df: pd.DataFrame, where: str = "dataset", *, require_label: bool = True) -> pd.DataFrame:
    """Check the columns and values of a dataset table; return it with canonical dtypes.

    Raises
    ------
    InputError
        Missing columns, labels outside {0, 1}, unknown split names, duplicate ids.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"{where}: not a genomic-ulmfit dataset (missing column(s) {', '.join(missing)}); "
            "create one with `genomic-ulmfit data import`"
        )
    out = df.reset_index(drop=True)
    for c in ("id", "species", "sequence", "split", "source"):
        out[c] = out[c].fillna("").astype("str")
    labels = pd.to_numeric(out["label"], errors="coerce")
    allowed = [0, 1] if require_label else [0, 1, UNLABELED]
    bad = ~labels.isin(allowed)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{where}: row {i} (id {out['id'][i]!r}): label {out['label'][i]} is not 0 or 1")
    out["label"] = labels.astype(np.int8)
    bad_split = ~out["split"].isin(("", *SPLITS))
    if bad_split.any():
        i = int(np.flatnonzero(bad_split.to_numpy())[0])
        raise InputError(f"{where}: row {i}: split {out['split'][i]!r} is not one of train, valid, test or empty")
    if "fold" in out.columns:
        out["fold"] = pd.to_numeric(out["fold"], errors="coerce").fillna(-1).astype(np.int16)
    if not out["id"].is_unique:
        first = out["id"][out["id"].duplicated()].iloc[0]
        raise InputError(f"{where}: duplicate id {first!r}; ids must be unique")
    cols = [*COLUMNS, *(["fold"] if "fold" in out.columns else []), *[c for c in out.columns if c not in (*COLUMNS, "fold")]]
    return out[cols]


def dataset_hash(df: pd.DataFrame) -> str:
    """SHA-256 (hex) over ``species``, ``label`` and ``sequence`` in row order.

    Ids, splits and sources do not change the hash: it identifies the content.
    """
    h = hashlib.sha256()
    sp = df["species"].astype(object).to_numpy()
    lab = df["label"].to_numpy()
    seq = df["sequence"].astype(object).to_numpy()
    step = 65_536
    for a in range(0, len(df), step):
        b = min(a + step, len(df))
        h.update("".join(f"{s}\t{int(y)}\t{q}\n" for s, y, q in zip(sp[a:b], lab[a:b], seq[a:b], strict=True)).encode())
    return h.hexdigest()


def no_base_note(df: pd.DataFrame) -> str | None:
    """``"N sequence(s) have no A/C/G/T base (first: ID [from SOURCE])"`` for the sequences of ``df``
    made of N (or other masked) letters only, or None when every sequence has a base. Such
    sequences get a score from any model, but it says nothing about them."""
    blank = ~df["sequence"].str.contains("[ACGT]", regex=True)
    if not blank.any():
        return None
    first = df[blank].iloc[0]
    source = f" from {first['source']}" if "source" in df.columns else ""
    return f"{int(blank.sum())} sequence(s) have no A/C/G/T base (first: {first['id']}{source})"


def dataset_counts(df: pd.DataFrame) -> dict[str, Any]:
    """Counts per species, label and split: ``{"n", "species": {sp: {"0", "1"}}, "split": {...}}``."""
    by_sp = df.groupby(["species", "label"]).size()
    species: dict[str, dict[str, int]] = {}
    for (sp, lab), n in by_sp.items():
        species.setdefault(str(sp), {"0": 0, "1": 0})[str(int(lab))] = int(n)
    splits = {str(k or "unsplit"): int(v) for k, v in df["split"].value_counts(sort=False).items()}
    out: dict[str, Any] = {"n": int(len(df)), "species": species, "split": splits}
    if "fold" in df.columns:
        out["fold"] = {str(int(k)): int(v) for k, v in df["fold"].value_counts().sort_index().items()}
    return out


# ----------------------------------------------------------------------------- storage


def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON sidecar of a dataset file: ``<path>.json``."""
    return Path(str(path) + ".json")


def save_dataset(
    df: pd.DataFrame,
    path: str | os.PathLike,
    sources: Sequence[Source | dict | str] | None = None,
) -> Path:
    """Write ``df`` as Parquet plus its JSON sidecar, each atomically (temp file + rename).

    Parameters
    ----------
    df : DataFrame
        A dataset table (validated first).
    path : path-like
        Output ``.parquet`` file.
    sources : sequence or None
        What the data came from (Source objects, dicts or strings), recorded in the sidecar.

    Returns
    -------
    Path
        ``path``.
    """
    from genomic_ulmfit import __version__

    path = Path(path)
    df = validate_dataset(df, str(path))
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    meta = {
        "format": "genomic-ulmfit dataset",
        "version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "n_rows": int(len(df)),
        "hash": dataset_hash(df),
        "sources": [s.to_dict() if isinstance(s, Source) else s for s in (sources or [])],
        "counts": dataset_counts(df),
    }
    write_json_atomic(sidecar_path(path), meta)
    return path


def read_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """The sidecar metadata of a dataset, or ``{}`` when there is none."""
    import json

    side = sidecar_path(path)
    if not side.is_file():
        return {}
    try:
        return json.loads(side.read_text())
    except ValueError as exc:
        raise InputError(f"{side}: invalid JSON ({exc}); delete the sidecar or re-save the dataset") from exc


def _is_parquet(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == PARQUET_MAGIC


def load_dataset(path: str | os.PathLike) -> pd.DataFrame:
    """Read a dataset written by :func:`save_dataset` and validate it.

    Raises
    ------
    InputError
        Missing file, not Parquet, or not a dataset table.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: dataset not found; create it with `genomic-ulmfit data import`")
    if not _is_parquet(path):
        raise InputError(f"{path}: not a Parquet dataset; create one with `genomic-ulmfit data import`")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"{path}: cannot read Parquet file ({exc}); re-create the dataset") from exc
    return validate_dataset(df, str(path))


SNIFF_BYTES = 1 << 16  # how much of a raw file is read to tell FASTA, bare sequences and tables apart
_IUPAC_LETTERS = b"ACGTNRYSWKMBDHVUacgtnryswkmbdhvu"
_LABEL_FIX = ("give it labels with `genomic-ulmfit data import --positive POS --negative NEG --out data.parquet` "
              "and use that dataset")


def read_table_or_dataset(
    path: str | os.PathLike,
    *,
    species: str | None = None,
    label: int | None = None,
    require_label: bool = True,
    mask_iupac: bool = False,
    min_length: int = 1,
) -> pd.DataFrame:
    """Read a dataset Parquet file or a raw TSV/CSV/FASTA (sniffed by content) into a table.

    Parameters
    ----------
    path : path-like
        Dataset ``.parquet``, TSV/CSV (``sequence`` and optionally ``label`` columns) or FASTA.
    species : str or None
        Species for raw files (default ``"unknown"``).
    label : int or None
        Label for every record of a raw file without labels (FASTA, table without ``label``).
    require_label : bool, default True
        When False, raw records without a label get label -1 (for prediction and leakage checks).
    mask_iupac, min_length
        See :func:`~genomic_ulmfit.data.sequences.clean_sequence`.

    Returns
    -------
    DataFrame
        A dataset table (``split`` empty for raw files).
    """
    from genomic_ulmfit.data.readers import UTF8_BOM, binary_kind, open_binary, read_head

    p = Path(path)
    head = read_head(p, SNIFF_BYTES)
    text = head.removeprefix(UTF8_BOM).lstrip()  # type sniffing starts at the first non-blank line
    if not text.strip():
        raise InputError(f"{p}: empty file; expected FASTA, a TSV/CSV table with a 'sequence' column, "
                         "one sequence per line, or a dataset .parquet")
    if head[:4] == PARQUET_MAGIC:
        return load_dataset(p)
    if (kind := binary_kind(head)) is not None:
        raise InputError(f"{p}: this is {kind}")
    kw = {"mask_iupac": mask_iupac, "min_length": min_length}
    if text[:1] in (b">", b";"):  # ';': an old-style FASTA comment line
        if label is None and require_label:
            raise InputError(f"{p}: a FASTA file carries no labels; {_LABEL_FIX}")
        lab = UNLABELED if label is None else int(label)
        df = records_to_frame(read_fasta(p, label=lab, species=species or "unknown", **kw))
    elif _looks_like_sequence_lines(text):
        # One bare sequence per line: the Cohn positive_samples/negative_samples layout.
        if label is None and require_label:
            raise InputError(f"{p}: a file of bare sequences carries no labels; {_LABEL_FIX}")
        from genomic_ulmfit.data.readers import read_sequence_lines

        lab = UNLABELED if label is None else int(label)
        with open_binary(p) as fh:
            df = records_to_frame(read_sequence_lines(fh, name=str(p), label=lab, species=species or "unknown",
                                                      id_prefix=f"{p.name}:", **kw))
    else:
        df = records_to_frame(read_table(p, species=species, label=label, require_label=require_label, **kw))
    return validate_dataset(make_ids_unique(df), str(p), require_label=require_label)


def _looks_like_sequence_lines(text: bytes) -> bool:
    """True when the first line is only bases (no header, no delimiter): one sequence per line.

    Bases are A/C/G/T/N, or any IUPAC letter in a line of 20 or more (so that an ambiguity code is
    reported as such, while a one-word table header such as ``DNA`` is still read as a header).
    """
    first = text.split(b"\n", 1)[0].strip()
    if not first:
        return False
    return not first.strip(b"ACGTNacgtn") or (len(first) >= 20 and not first.strip(_IUPAC_LETTERS))
