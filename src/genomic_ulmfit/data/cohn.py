"""The Cohn et al. (2018) layout: one folder per species with ``positive_samples`` and
``negative_samples`` (one 500-bp sequence per line), as in ``Enhancers_vs_negative.tgz``.

:func:`read_cohn` reads the extracted folder or the archive itself (streaming its members with
:mod:`tarfile`, nothing written to disk), with or without a top-level folder above the species
folders. Record ids are ``"{Species}:pos:{line}"`` / ``"{Species}:neg:{line}"`` (1-based lines),
records come species by species (sorted by name), positives first.

``peaks_fasta_files/`` folders are ignored unless ``include_peaks=True``: their FASTA files are then
read as extra positives (best effort: the species is the species folder above them, or the file
name up to its first ``.`` or ``_`` for a top-level peaks folder, which must then name a species
folder; ids ``"{Species}:peak:{id}"``).

:func:`safe_extract` extracts an archive after refusing absolute paths, ``..`` components, links
and device files, and extracts only the expected members.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

from genomic_ulmfit.data.readers import (
    BZIP2_MAGIC,
    GZIP_MAGIC,
    XZ_MAGIC,
    Record,
    read_fasta_stream,
    read_sequence_lines,
)
from genomic_ulmfit.errors import InputError

POSITIVE_FILE = "positive_samples"
NEGATIVE_FILE = "negative_samples"
PEAKS_DIR = "peaks_fasta_files"
SAMPLE_FILES = {POSITIVE_FILE: (1, "pos"), NEGATIVE_FILE: (0, "neg")}
_FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")


# ----------------------------------------------------------------------------- folders


def find_species_dirs(root: str | os.PathLike) -> dict[str, Path]:
    """Map species name -> folder holding ``positive_samples``/``negative_samples``.

    ``root`` may be the folder of species folders, a single top-level folder above it (the
    archive's own folder), or one species folder.

    Raises
    ------
    InputError
        No species folder found, or a species folder missing one of its two files.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder or a .tgz archive of the Cohn et al. layout")
    found = _species_in(root)
    if not found:
        subdirs = [d for d in root.iterdir()
                   if d.is_dir() and not d.name.startswith(".") and d.name not in (PEAKS_DIR, "__MACOSX")]
        if len(subdirs) == 1:
            found = _species_in(subdirs[0])
    if not found:
        raise InputError(
            f"{root}: no species folders with {POSITIVE_FILE}/{NEGATIVE_FILE} found; "
            "give the folder extracted from Enhancers_vs_negative.tgz (or the .tgz itself)"
        )
    for sp, d in found.items():
        for fname in SAMPLE_FILES:
            if not (d / fname).is_file():
                raise InputError(f"{d}: species folder {sp!r} has no {fname} file; the Cohn layout needs both files")
    return dict(sorted(found.items()))


def _species_in(folder: Path) -> dict[str, Path]:
    _check_sample_names(folder)
    if any((folder / f).exists() for f in SAMPLE_FILES):
        return {folder.name: folder}
    found = {}
    for d in folder.iterdir():
        if d.is_dir():
            _check_sample_names(d)
            if any((d / f).exists() for f in SAMPLE_FILES):
                found[d.name] = d
    return found


def _check_sample_names(folder: Path) -> None:
    """Refuse ``positive_samples.txt`` and the like where ``positive_samples`` itself is missing:
    skipping that species would be silent data loss."""
    for f in folder.iterdir():
        stem = _misnamed_sample(f.name)
        if stem is not None and f.is_file() and not (folder / stem).exists():
            raise _misnamed_error(str(f), stem)


def _misnamed_error(where: str, stem: str) -> InputError:
    return InputError(f"{where}: the Cohn layout names this file {stem!r}, without a suffix; rename it "
                      "(or import it with --positive/--negative)")


def _select_species(available: Sequence[str], species: Sequence[str] | None, where: str) -> list[str]:
    if not species:
        return sorted(available)
    missing = [s for s in species if s not in available]
    if missing:
        raise InputError(
            f"{where}: species {', '.join(missing)} not found; available: {', '.join(sorted(available))}"
        )
    return sorted(species)


def _peak_species(path: PurePosixPath, species_names: set[str]) -> str:
    """The species folder a peaks FASTA belongs to: the one above it, or its file name's first word.

    Raises InputError when neither names a species folder: its peaks would become a species with
    positives only, which no classifier can learn from.
    """
    parent = path.parent.parent.name  # <Species>/peaks_fasta_files/<file>
    if parent in species_names:
        return parent
    guess = path.name.split(".")[0].split("_")[0]
    if guess not in species_names:
        raise InputError(f"{path}: no species folder matches this peaks file (its name starts with {guess!r}; "
                         f"folders: {', '.join(sorted(species_names))}); import without --include-peaks, or give "
                         f"the file as --positive {path.name}:SPECIES")
    return guess


def _is_fasta_name(name: str) -> bool:
    """A FASTA file name, not a macOS AppleDouble file (``._x.fa``) beside one."""
    return name.lower().endswith(_FASTA_SUFFIXES) and not name.startswith("._")


def _read_cohn_dir(root: Path, species: Sequence[str] | None, include_peaks: bool, **kw) -> Iterator[Record]:
    dirs = find_species_dirs(root)
    for sp in _select_species(list(dirs), species, str(root)):
        for fname, (label, tag) in SAMPLE_FILES.items():
            path = dirs[sp] / fname
            with open(path, "rb", buffering=1 << 20) as fh:
                yield from read_sequence_lines(
                    fh, name=str(path), label=label, species=sp, id_prefix=f"{sp}:{tag}:", **kw
                )
    if include_peaks:
        names = set(dirs)
        peak_dirs = sorted({p for d in dirs.values() for p in (d / PEAKS_DIR, d.parent / PEAKS_DIR) if p.is_dir()})
        for pdir in peak_dirs:
            for f in sorted(pdir.iterdir()):
                if not (f.is_file() and _is_fasta_name(f.name)):
                    continue
                sp = _peak_species(PurePosixPath(f.as_posix()), names)
                if species and sp not in species:
                    continue
                with open(f, "rb") as fh:
                    yield from read_fasta_stream(fh, name=str(f), label=1, species=sp, id_prefix=f"{sp}:peak:", **kw)


# ----------------------------------------------------------------------------- archives


def member_parts(member: tarfile.TarInfo, archive: str) -> tuple[str, ...]:
    """Path components of a tar member after refusing unsafe entries.

    Raises
    ------
    InputError
        Absolute paths, ``..`` components, symbolic or hard links, devices and FIFOs.
    """
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise InputError(f"{archive}: refusing member {name!r} with an absolute path; the archive is unsafe")
    parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", "."))
    if ".." in parts:
        raise InputError(f"{archive}: refusing member {name!r} that points outside the folder ('..'); the archive is unsafe")
    if member.issym() or member.islnk():
        raise InputError(f"{archive}: refusing link member {name!r} -> {member.linkname!r}; the archive is unsafe")
    if not (member.isfile() or member.isdir()):
        raise InputError(f"{archive}: refusing special member {name!r} (device or FIFO); the archive is unsafe")
    return parts


def _member_kind(parts: tuple[str, ...], member: tarfile.TarInfo) -> str | None:
    """``"sample"``, ``"peak"``, ``"dir"``, ``"misnamed"`` (``positive_samples.txt``) or None."""
    if member.isdir():
        return "dir"
    if len(parts) >= 2 and parts[-1] in SAMPLE_FILES:
        return "sample"
    if len(parts) >= 2 and _misnamed_sample(parts[-1]) is not None:
        return "misnamed"
    if PEAKS_DIR in parts[:-1] and _is_fasta_name(parts[-1]):
        return "peak"
    return None


def _no_samples_error(archive: str) -> InputError:
    """The error for an archive without any ``<Species>/positive_samples``/``negative_samples``."""
    return InputError(
        f"{archive}: no <Species>/{POSITIVE_FILE} and {NEGATIVE_FILE} members found; "
        "is this Enhancers_vs_negative.tgz?"
    )


def _open_decompressed(archive: Path):
    """The archive's tar bytes as a binary file object: through gzip, bz2 or xz when compressed."""
    with open(archive, "rb") as fh:
        head = fh.read(6)
    for magic, opener in ((GZIP_MAGIC, gzip.open), (BZIP2_MAGIC, bz2.open), (XZ_MAGIC, lzma.open)):
        if head.startswith(magic):
            return opener(archive, "rb")
    return open(archive, "rb")


@contextlib.contextmanager
def tar_stream(archive: Path) -> Iterator[tarfile.TarFile]:
    """A tar archive (plain, gzip, bzip2 or xz) read member by member; on leaving the block, the
    rest of the archive is read and a cut archive refused (:func:`_check_end`), in the same pass
    through the decompressor."""
    with _open_decompressed(archive) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        yield tar
        _check_end(raw, archive, tar.offset)


def _check_tar_end(archive: Path, offset: int) -> None:
    """:func:`_check_end` for an archive already read elsewhere (a second pass through it)."""
    with _open_decompressed(archive) as raw:
        _check_end(raw, archive, offset)


def _cut_message(archive: Path) -> str:
    return f"{archive}: the archive ends early, so members may be missing; re-download it or check it with `tar tf`"


def _check_end(raw, archive: Path, offset: int) -> None:
    """Refuse a tar archive that was cut off: tarfile reads a cut archive without error.

    tarfile takes a short or missing header for the end of the archive, so a tar or ``.tgz`` cut
    between members (or inside a header) reads as a whole archive with members missing. A whole tar
    ends with two zero blocks (1,024 bytes) after the last member, at ``offset``, and a whole
    compressed stream ends with its end-of-stream marker. ``raw`` (the archive's tar bytes, from
    :func:`_open_decompressed`) is read from where it stands to its end to check both.
    """
    cut = _cut_message(archive)
    try:
        while raw.read(1 << 20):
            pass
        size = raw.tell()
    except (EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        raise InputError(f"{cut} ({exc})") from None
    if size - offset < 2 * tarfile.BLOCKSIZE:
        raise InputError(cut)


def _misnamed_sample(fname: str) -> str | None:
    """The expected sample file name when ``fname`` is one with a suffix added (``positive_samples.txt``)."""
    stem = fname.split(".", 1)[0]
    return stem if stem in SAMPLE_FILES and fname != stem else None


def _read_cohn_tar(
    archive: Path, species: Sequence[str] | None, include_peaks: bool, **kw
) -> Iterator[Record]:
    name = str(archive)
    samples: dict[tuple[str, str], list[Record]] = {}
    seen: set[str] = set()  # every species folder in the archive, kept or not
    present: set[tuple[str, str]] = set()  # (species, sample file) of every sample member
    misnamed: dict[tuple[str, str], str] = {}  # (species, sample file) -> a member such as positive_samples.txt
    peaks: list[tuple[str, PurePosixPath, list[Record]]] = []
    try:
        with tar_stream(archive) as tar:
            for member in tar:
                parts = member_parts(member, name)
                kind = _member_kind(parts, member)
                if kind == "misnamed":
                    misnamed.setdefault((parts[-2], _misnamed_sample(parts[-1])), member.name)
                elif kind == "sample":
                    sp, fname = parts[-2], parts[-1]
                    seen.add(sp)
                    present.add((sp, fname))
                    if species and sp not in species:
                        continue
                    if (sp, fname) in samples:
                        raise InputError(f"{name}: two members for {sp}/{fname}; the archive has two layouts")
                    label, tag = SAMPLE_FILES[fname]
                    fh = tar.extractfile(member)
                    samples[(sp, fname)] = list(
                        read_sequence_lines(
                            fh, name=f"{name}!{member.name}", label=label, species=sp,
                            id_prefix=f"{sp}:{tag}:", **kw,
                        )
                    )
                elif kind == "peak" and include_peaks:
                    fh = tar.extractfile(member)
                    path = PurePosixPath(*parts)
                    recs = list(read_fasta_stream(fh, name=f"{name}!{member.name}", label=1, **kw))
                    peaks.append((member.name, path, recs))
    except EOFError as exc:  # the compressed stream stopped between or inside tar headers
        raise InputError(f"{_cut_message(archive)} ({exc})") from exc
    except (tarfile.TarError, zlib.error, lzma.LZMAError, OSError) as exc:
        raise InputError(f"{name}: cannot read the archive ({exc}); re-download it or check it with `tar tzf`") from exc
    for key, member_name in misnamed.items():
        if key not in present:
            raise _misnamed_error(f"{name}!{member_name}", key[1])
    if not seen:
        raise _no_samples_error(name)
    for sp in _select_species(sorted(seen), species, name):
        for fname in SAMPLE_FILES:
            if (sp, fname) not in samples:
                raise InputError(f"{name}: species folder {sp!r} has no {fname} member; the Cohn layout needs both files")
            yield from samples.pop((sp, fname))
    names = seen
    for _, path, recs in sorted(peaks, key=lambda t: t[0]):
        sp = _peak_species(path, names)
        if species and sp not in species:
            continue
        for r in recs:
            yield r._replace(id=f"{sp}:peak:{r.id}", species=sp)


def read_cohn(
    path: str | os.PathLike,
    *,
    species: str | Sequence[str] | None = None,
    include_peaks: bool = False,
    mask_iupac: bool = False,
    min_length: int = 1,
) -> Iterator[Record]:
    """Stream the records of a Cohn et al. folder or ``.tgz`` archive.

    Parameters
    ----------
    path : path-like
        Extracted folder (species folders, possibly under one top-level folder) or the archive
        (any compression :mod:`tarfile` reads).
    species : str, sequence of str or None
        Keep only these species (folder names, e.g. ``["Human", "Mouse"]`` or ``"Human"``); None
        keeps all.
    include_peaks : bool, default False
        Also read ``peaks_fasta_files/*.fa`` as positives (see the module docstring).
    mask_iupac, min_length
        See :func:`~genomic_ulmfit.data.sequences.clean_sequence`.

    Yields
    ------
    Record
        Species by species (sorted), positives then negatives, in file order.
    """
    if isinstance(species, str):
        species = [species]
    p = Path(path)
    kw = {"mask_iupac": mask_iupac, "min_length": min_length}
    if p.is_dir():
        yield from _read_cohn_dir(p, species, include_peaks, **kw)
    elif p.is_file():
        if not _is_tar(p):
            raise InputError(f"{p}: not a folder or a tar archive; give the Cohn et al. folder or Enhancers_vs_negative.tgz")
        yield from _read_cohn_tar(p, species, include_peaks, **kw)
    else:
        raise InputError(f"{p}: not found; give the Cohn et al. folder or Enhancers_vs_negative.tgz")


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, EOFError, zlib.error):
        return False


def safe_extract(archive: str | os.PathLike, out_dir: str | os.PathLike, *, include_peaks: bool = True) -> Path:
    """Extract a Cohn et al. archive safely and return the folder holding the species folders.

    Every member is checked first (see :func:`member_parts`): one unsafe member refuses the whole
    archive and nothing is written. Only folders, ``<Species>/positive_samples``,
    ``<Species>/negative_samples`` and (when ``include_peaks``) FASTA files under
    ``peaks_fasta_files/`` are extracted; anything else is skipped.

    Parameters
    ----------
    archive : path-like
        The ``.tgz`` (or any tar).
    out_dir : path-like
        Destination folder (created).
    include_peaks : bool, default True
        Extract the peaks FASTA files too.

    Raises
    ------
    InputError
        Unreadable or unsafe archive, or no sample files in it.
    """
    archive = Path(archive)
    out = Path(out_dir)
    name = str(archive)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            selected: list[tarfile.TarInfo] = []
            roots: set[tuple[str, ...]] = set()
            for m in members:
                parts = member_parts(m, name)
                kind = _member_kind(parts, m)
                if kind == "sample":
                    roots.add(parts[:-2])
                if kind in ("sample", "dir", "misnamed") or (kind == "peak" and include_peaks):
                    selected.append(m)
            if not roots:
                raise _no_samples_error(name)
            _check_tar_end(archive, tar.offset)
            out.mkdir(parents=True, exist_ok=True)
            tar.extractall(out, members=selected, filter="data")
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise InputError(f"{name}: cannot extract the archive ({exc}); re-download it") from exc
    root = out.joinpath(*min(roots, key=len))
    find_species_dirs(root)  # checks both files exist for every species
    return root
