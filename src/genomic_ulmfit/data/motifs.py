"""Transcription-factor motifs (JASPAR position frequency matrices), PWM scanning, and motif features.

The count matrices below are copied from **JASPAR 2024, CORE collection, vertebrates** (the SQLite
release bundled with the ``pyjaspar`` 4.0.0 package, table ``MATRIX_DATA``), one row per base in
the order A, C, G, T, one column per motif position. They were transcribed by a script, not by
hand, so the numbers are the database's; what is a choice is *which version* of each profile is used
(several exist per factor; the newer ChIP-seq ones are trimmed to the core):

==============  ==========  ===========  =========================================
factor          JASPAR ID   source       consensus (upper case = > 50 % of sites)
==============  ==========  ===========  =========================================
HNF4A           MA0114.4    ChIP-seq     tcCAAAGTCCAaa (DR1: TGGACTTTG on the other strand)
CEBPA           MA0102.4    ChIP-seq     ttATTGCACAATat
FOXA2           MA0047.3    ChIP-seq     atGTAAACAta
HNF1A           MA0046.2    HT-SELEX     agTTAATgATTAACt
ONECUT1         MA0679.2    ChIP-seq     aaaAAATCAATAaata
NR2F2           MA1111.1    ChIP-seq     caAAGGTCAaa
PPARA::RXRA     MA1148.1    SMiLE-seq    AtgTaGGTcAAAGGTCAt (DR1 heterodimer)
TEAD1           MA0090.3    ChIP-seq     ccACATTCCAGgc
==============  ==========  ===========  =========================================

They are used by :mod:`genomic_ulmfit.data.simulate` to plant motif instances in simulated
enhancers, and by :func:`count_hits` to check that simulated positives are enriched for them.

Whole collections come from the same SQLite files (:func:`jaspar_collection`; the ``pyjaspar``
package ships JASPAR 2014–2026, so nothing is downloaded) or from a JASPAR-format file
(:func:`read_jaspar`); :func:`max_motif_scores` gives each motif's best score in each sequence, the
features of the ``kmer:motifs`` and ``gkm:motifs`` models (:class:`UsesMotifs`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genomic_ulmfit.data.sequences import BASE_CODES
from genomic_ulmfit.errors import ConfigError, InputError

BASES = "ACGT"


@dataclass(frozen=True)
class Motif:
    """A position frequency matrix.

    Attributes
    ----------
    name : str
        Transcription factor, e.g. ``"HNF4A"``.
    jaspar_id : str
        JASPAR matrix ID with version, e.g. ``"MA0114.4"``.
    counts : tuple of 4 tuples of float
        Site counts, rows A, C, G, T; columns are motif positions.
    """

    name: str
    jaspar_id: str
    counts: tuple[tuple[float, ...], ...]

    @property
    def length(self) -> int:
        """Number of positions."""
        return len(self.counts[0])

    def probs(self, pseudocount: float = 0.01) -> np.ndarray:
        """Base probabilities per position, shape (length, 4), rows summing to 1.

        ``pseudocount`` is a fraction of each column's total added to every base (so no
        probability is exactly 0).
        """
        c = np.asarray(self.counts, dtype=np.float64).T  # (length, 4)
        c = c + pseudocount * c.sum(axis=1, keepdims=True) / 4
        return c / c.sum(axis=1, keepdims=True)

    def log_odds(self, background: Sequence[float] = (0.25, 0.25, 0.25, 0.25), pseudocount: float = 0.01):
        """Log2-odds scoring matrix against ``background`` (A, C, G, T), shape (length, 4)."""
        bg = np.asarray(background, dtype=np.float64)
        return np.log2(self.probs(pseudocount) / bg[None, :])

    @property
    def consensus(self) -> str:
        """Most frequent base per position; lower case when it is at most half of the sites."""
        p = self.probs(0.0)
        best = p.argmax(axis=1)
        return "".join(BASES[b] if p[i, b] > 0.5 else BASES[b].lower() for i, b in enumerate(best))


def _motif(name: str, jaspar_id: str, a, c, g, t) -> Motif:
    assert len(a) == len(c) == len(g) == len(t)
    return Motif(name, jaspar_id, (tuple(a), tuple(c), tuple(g), tuple(t)))


# JASPAR 2024 CORE vertebrates, rows A, C, G, T (see the module docstring).
MOTIFS: dict[str, Motif] = {
    m.name: m
    for m in (
        _motif(
            "HNF4A", "MA0114.4",
            [10046, 9788, 1468, 43321, 40217, 43264, 716, 927, 2770, 1363, 36654, 13574, 15279],
            [7136, 14435, 41443, 1257, 1370, 544, 916, 695, 37804, 42341, 2782, 9863, 9070],
            [13905, 9294, 1237, 1061, 3615, 1897, 43528, 2184, 1826, 643, 2936, 13014, 11714],
            [15417, 12987, 2356, 865, 1302, 799, 1344, 42698, 4104, 2157, 4132, 10053, 10441],
        ),
        _motif(
            "CEBPA", "MA0102.4",
            [24010, 17688, 54374, 869, 1002, 9252, 1148, 62409, 6095, 71916, 75177, 4506, 28052, 21658],
            [14823, 12801, 7284, 826, 282, 936, 75124, 3535, 61538, 5655, 1034, 16193, 17396, 17147],
            [15847, 20062, 12772, 722, 2365, 57887, 678, 6751, 1583, 340, 1381, 7312, 12932, 16045],
            [24323, 28452, 4573, 76586, 75354, 10928, 2053, 6308, 9787, 1092, 1411, 50992, 20623, 24153],
        ),
        _motif(
            "FOXA2", "MA0047.3",
            [112241, 93740, 18770, 3737, 243805, 223061, 248214, 2411, 246665, 76950, 85410],
            [34080, 12432, 2928, 2037, 9424, 22429, 3329, 196969, 3086, 50576, 53633],
            [63806, 38538, 236311, 1890, 2641, 6484, 2805, 3603, 2984, 50527, 56632],
            [52026, 117443, 4144, 254489, 6283, 10179, 7805, 59170, 9418, 84100, 66478],
        ),
        _motif(
            "HNF1A", "MA0046.2",
            [5209, 6981, 376, 2914, 14149, 14149, 1274, 3340, 14149, 711, 42, 14149, 14149, 1488, 3972],
            [2441, 415, 1060, 2170, 3, 633, 423, 3750, 9, 13, 228, 237, 695, 14149, 3427],
            [3490, 7168, 903, 544, 246, 8, 7, 4540, 339, 845, 4, 1337, 1095, 655, 2275],
            [3009, 636, 14149, 14149, 14, 364, 14149, 2518, 651, 14149, 14149, 1638, 174, 914, 4475],
        ),
        _motif(
            "ONECUT1", "MA0679.2",
            [26518, 28608, 30060, 37926, 52146, 60015, 482, 1345, 59595, 60870, 225, 48524, 31039, 25104, 18744, 19932],
            [10013, 8237, 8478, 7555, 1011, 358, 294, 60181, 438, 247, 356, 3451, 10186, 10401, 10389, 11847],
            [11814, 12368, 9656, 6149, 7794, 1166, 241, 278, 1226, 366, 162, 6072, 7660, 8008, 10129, 11206],
            [13874, 13006, 14025, 10589, 1268, 680, 61202, 415, 960, 736, 61476, 4172, 13334, 18706, 22957, 19234],
        ),
        _motif(
            "NR2F2", "MA1111.1",
            [488, 1027, 1788, 2084, 37, 33, 17, 30, 2111, 633, 847],
            [692, 456, 37, 15, 16, 12, 22, 1978, 16, 503, 384],
            [418, 320, 173, 82, 2108, 2132, 30, 26, 43, 544, 572],
            [606, 401, 206, 23, 43, 27, 2135, 170, 34, 524, 401],
        ),
        _motif(
            "PPARA::RXRA", "MA1148.1",
            [548, 431, 247, 61, 492, 68, 80, 42, 131, 887, 669, 807, 111, 18, 17, 90, 689, 222],
            [140, 73, 211, 94, 95, 19, 15, 157, 445, 16, 24, 25, 16, 14, 49, 598, 37, 237],
            [108, 60, 332, 238, 370, 843, 856, 245, 201, 67, 208, 143, 862, 784, 115, 146, 230, 243],
            [204, 437, 210, 608, 42, 71, 49, 556, 223, 30, 99, 25, 11, 184, 818, 166, 43, 298],
        ),
        _motif(
            "TEAD1", "MA0090.3",
            [17689, 16651, 58030, 6096, 68106, 535, 4976, 1348, 702, 57190, 9124, 13252, 19194],
            [19272, 22059, 1248, 61276, 646, 700, 622, 66953, 67635, 1729, 6215, 20002, 21358],
            [14429, 12053, 9179, 1923, 946, 646, 1210, 765, 374, 2051, 47856, 26525, 16344],
            [19008, 19635, 1941, 1103, 700, 68517, 63590, 1332, 1687, 9428, 7203, 10619, 13502],
        ),
    )
}  # fmt: skip

MOTIF_NAMES: tuple[str, ...] = tuple(MOTIFS)

_CODE_LUT = BASE_CODES


def dna_codes(sequences: Sequence[str]) -> np.ndarray:
    """Equal-length DNA strings as base codes, shape (n, L) uint8: A/C/G/T (any case) → 0..3, else 4."""
    if not sequences:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(sequences[0])
    if any(len(s) != length for s in sequences):
        raise ValueError("dna_codes needs sequences of equal length")
    raw = np.frombuffer("".join(sequences).encode("ascii", "replace"), dtype=np.uint8)
    return _CODE_LUT[raw].reshape(len(sequences), length)


def sample_sites(motif: Motif, n: int, rng: np.random.Generator, *, pseudocount: float = 0.01) -> np.ndarray:
    """Draw ``n`` binding sites from the motif's base probabilities (forward strand).

    Returns
    -------
    np.ndarray of uint8, shape (n, motif.length), codes 0..3 (A, C, G, T).
    """
    cum = np.cumsum(motif.probs(pseudocount), axis=1)[:, :3]  # (length, 3)
    u = rng.random((n, motif.length, 1))
    return (u > cum[None, :, :]).sum(axis=2).astype(np.uint8)


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of base codes 0..3 along the last axis (codes 4 stay 4)."""
    rc = codes[..., ::-1].copy()
    valid = rc < 4
    rc[valid] = 3 - rc[valid]
    return rc


def scan_scores(
    codes: np.ndarray, motif: Motif, *, background: Sequence[float] = (0.25, 0.25, 0.25, 0.25)
) -> np.ndarray:
    """Best-strand log2-odds score of ``motif`` at every offset.

    Parameters
    ----------
    codes : np.ndarray of uint8, shape (n, L)
        Base codes (see :func:`dna_codes`); invalid bases (4) score the column minimum.
    motif : Motif
        The motif to score.
    background : sequence of 4 floats, default uniform
        Base frequencies A, C, G, T of the log-odds background.

    Returns
    -------
    np.ndarray of float64, shape (n, L - motif.length + 1): the maximum over both strands.
    """
    lo = motif.log_odds(background)  # (m, 4)
    m = motif.length
    n_pos = codes.shape[1] - m + 1
    if n_pos <= 0:
        return np.zeros((codes.shape[0], 0))
    fwd = np.concatenate([lo, lo.min(axis=1, keepdims=True)], axis=1)  # (m, 5): code 4 → min
    rev_lo = lo[::-1, ::-1]  # reverse complement matrix
    rev = np.concatenate([rev_lo, rev_lo.min(axis=1, keepdims=True)], axis=1)
    s_f = np.zeros((codes.shape[0], n_pos))
    s_r = np.zeros((codes.shape[0], n_pos))
    for j in range(m):
        window = codes[:, j : j + n_pos]
        s_f += fwd[j][window]
        s_r += rev[j][window]
    return np.maximum(s_f, s_r)


def relative_cut(motif: Motif, threshold: float, background: Sequence[float] = (0.25, 0.25, 0.25, 0.25)) -> float:
    """The log-odds score ``threshold`` of the way from ``motif``'s minimum to its maximum score."""
    lo = motif.log_odds(background)
    lo_min, lo_max = lo.min(axis=1).sum(), lo.max(axis=1).sum()
    return float(lo_min + threshold * (lo_max - lo_min))


def count_hits(
    sequences: Sequence[str] | np.ndarray,
    motif: Motif,
    *,
    threshold: float = 0.85,
    background: Sequence[float] = (0.25, 0.25, 0.25, 0.25),
) -> np.ndarray:
    """Number of motif hits per sequence (either strand).

    A hit is an offset whose log-odds score reaches ``threshold`` of the way from the motif's
    minimum to its maximum possible score (the "relative score" of MOODS/HOMER-style scanners).

    Parameters
    ----------
    sequences : sequence of str (equal length) or np.ndarray of uint8, shape (n, L)
        DNA strings or base codes.
    motif : Motif
        The motif to count.
    threshold : float, default 0.85
        Relative score cut-off in [0, 1].
    background : sequence of 4 floats, default uniform
        Base frequencies A, C, G, T of the log-odds background.

    Returns
    -------
    np.ndarray of int64, shape (n,).
    """
    codes = sequences if isinstance(sequences, np.ndarray) else dna_codes(list(sequences))
    cut = relative_cut(motif, threshold, background)
    return (scan_scores(codes, motif, background=background) >= cut).sum(axis=1)


def read_jaspar(path: str | os.PathLike) -> dict[str, Motif]:
    """Motifs of a JASPAR-format file (``>ID NAME`` then rows ``A [ counts ]`` … ``T [ … ]``; gzip ok).

    The brackets and the base letters are optional (JASPAR's ``.pfm`` flavour has four bare rows).
    Returns {name: Motif} in file order; a name given twice (two versions of one factor) is kept
    as ``NAME/ID`` for each. A bad line is a one-line InputError naming it.
    """
    import gzip

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: motif file not found")
    try:
        raw = path.read_bytes()
        text_all = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable JASPAR text file ({exc.__class__.__name__})") from None
    found: list[Motif] = []
    header, rows, header_line = None, [], 0

    def finish() -> None:
        if header is None:
            return
        if len(rows) != 4 or not rows[0][1]:
            raise InputError(f"{path}: line {header_line}: motif {header[1]!r} needs four rows (A, C, G, T)")
        for line_no, row in rows[1:]:
            if len(row) != len(rows[0][1]):
                raise InputError(f"{path}: line {line_no}: {len(row)} counts, the motif's A row has {len(rows[0][1])}")
        if any(sum(col) <= 0 for col in zip(*(r for _, r in rows))):
            raise InputError(f"{path}: line {header_line}: motif {header[1]!r} has a column without counts")
        found.append(Motif(header[1], header[0], tuple(tuple(r) for _, r in rows)))

    for i, line in enumerate(text_all.splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        if text.startswith(">"):
            finish()
            parts = text[1:].split()
            if not parts:
                raise InputError(f"{path}: line {i}: empty motif header; write '>ID NAME'")
            header, rows, header_line = (parts[0], parts[1] if len(parts) > 1 else parts[0]), [], i
            continue
        if header is None:
            raise InputError(f"{path}: line {i}: counts before any '>ID NAME' header")
        fields = text.replace("[", " ").replace("]", " ").split()
        if fields and fields[0].upper() in BASES:
            if fields[0].upper() != BASES[len(rows) % 4]:
                raise InputError(f"{path}: line {i}: row {fields[0]!r} out of order; rows go A, C, G, T")
            fields = fields[1:]
        try:
            counts = [float(x) for x in fields]
        except ValueError:
            raise InputError(f"{path}: line {i}: {text[:40]!r} is not a row of counts") from None
        if not all(np.isfinite(c) and c >= 0 for c in counts) or len(rows) == 4:
            raise InputError(f"{path}: line {i}: counts must be finite and >= 0, four rows per motif")
        rows.append((i, counts))
    finish()
    if not found:
        raise InputError(f"{path}: no motifs found; expected JASPAR format ('>ID NAME' and four count rows)")
    names = [m.name for m in found]
    return {(m.name if names.count(m.name) == 1 else f"{m.name}/{m.jaspar_id}"): m for m in found}


# Motif collections and per-sequence motif scores (the ``kmer:motifs`` features)
# --------------------------------------------------------------------------------------------

JASPAR_RELEASES = ("2014", "2016", "2018", "2020", "2022", "2024", "2026")
"""JASPAR releases the ``pyjaspar`` package (4.0) bundles as SQLite files."""
_JASPAR_NAME = re.compile(r"jaspar(\d{4})?")  # load_motifs' names of whole JASPAR releases
FEATURE_BACKGROUND = (0.3, 0.2, 0.2, 0.3)
"""Base frequencies (A, C, G, T) of the log-odds in :func:`pwm_stack`: roughly the human genome's."""


def jaspar_collection(release: str = "2024", tax_group: str = "vertebrates") -> dict[str, Motif]:
    """The newest version of every CORE profile of ``tax_group`` in JASPAR ``release``.

    Read from the SQLite file the ``pyjaspar`` package ships (``pip install pyjaspar``; nothing is
    downloaded). JASPAR 2024 CORE vertebrates: 879 profiles. Keys are ``"NAME/ID"`` (e.g.
    ``"HNF4A/MA0114.5"``), sorted by matrix ID.
    """
    import importlib.util
    import sqlite3

    if release not in JASPAR_RELEASES:
        raise InputError(f"JASPAR {release}: not a release the pyjaspar package holds; use one of "
                         f"{', '.join(JASPAR_RELEASES)}")
    spec = importlib.util.find_spec("pyjaspar")  # its files only: importing it would load Biopython
    if spec is None or not spec.submodule_search_locations:
        raise InputError("JASPAR motifs need the pyjaspar package (its database files): pip install pyjaspar, "
                         "or give a JASPAR-format motif file instead")
    db = Path(next(iter(spec.submodule_search_locations))) / "data" / f"JASPAR{release}.sqlite"
    if not db.is_file():
        raise InputError(f"{db}: this pyjaspar has no JASPAR {release} database; pip install 'pyjaspar>=4'")
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        rows = con.execute(
            "SELECT m.ID, m.BASE_ID, m.VERSION, m.NAME FROM MATRIX m JOIN MATRIX_ANNOTATION a ON a.ID = m.ID "
            "WHERE m.COLLECTION = 'CORE' AND a.TAG = 'tax_group' AND a.VAL = ?", (tax_group,)).fetchall()
        newest: dict[str, tuple[int, int, str]] = {}
        for mid, base, version, name in rows:
            if base not in newest or version > newest[base][1]:
                newest[base] = (mid, version, name)
        found = {}
        for base, (mid, version, name) in sorted(newest.items()):
            cells = con.execute('SELECT "row", col, val FROM MATRIX_DATA WHERE ID = ?', (mid,)).fetchall()
            width = max(col for _, col, _ in cells)
            counts = np.zeros((4, width))
            for row, col, val in cells:
                counts[BASES.index(row.upper()), col - 1] = val
            found[f"{name}/{base}.{version}"] = Motif(name, f"{base}.{version}", tuple(map(tuple, counts.tolist())))
    if not found:
        raise InputError(f"JASPAR {release}: no CORE profiles of tax group {tax_group!r}")
    return found


def load_motifs(source: str | os.PathLike) -> dict[str, Motif]:
    """Motifs by name: ``"jaspar"`` (JASPAR 2024 CORE vertebrates) or ``"jaspar2022"`` etc.
    (:func:`jaspar_collection`), ``"liver"`` (the eight liver factors of :data:`MOTIFS`), or the
    path of a JASPAR-format file (:func:`read_jaspar`)."""
    text = str(source)
    if text == "liver":
        return dict(MOTIFS)
    if match := _JASPAR_NAME.fullmatch(text.lower()):
        return jaspar_collection(match.group(1) or "2024")
    return read_jaspar(source)


def is_named_collection(source: str | os.PathLike) -> bool:
    """Whether :func:`load_motifs` reads ``source`` as a collection name (``liver``, ``jaspar``,
    ``jaspar2022`` …) rather than as a file path."""
    text = str(source)
    return text == "liver" or _JASPAR_NAME.fullmatch(text.lower()) is not None


def pwm_stack(motifs: Sequence[Motif], background: Sequence[float] = FEATURE_BACKGROUND,
              pseudocount: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Log2-odds matrices of ``motifs`` stacked for :func:`max_motif_scores`.

    Returns
    -------
    pwm : float32 (m, 4, W)
        Motif j in ``pwm[j, :, :widths[j]]`` (rows A, C, G, T), zeros after it; W the widest.
    widths : int64 (m,)
    """
    widths = np.array([m.length for m in motifs], dtype=np.int64)
    pwm = np.zeros((len(motifs), 4, int(widths.max(initial=1))), dtype=np.float32)
    for j, m in enumerate(motifs):
        pwm[j, :, : m.length] = m.log_odds(background, pseudocount).T
    return pwm, widths


def max_motif_scores(sequences: Sequence[str], pwm: np.ndarray, widths: np.ndarray, *,
                     max_cells: int = 1 << 25) -> np.ndarray:
    """Best log-odds score of each motif in each sequence, either strand: float64 (n, m).

    ``pwm``, ``widths`` from :func:`pwm_stack`. Only windows wholly inside the sequence count; a
    base other than ACGT scores 0 (the background); a sequence shorter than a motif gets that
    motif's lowest possible score. The score of a sequence equals its reverse complement's (up to
    float32 rounding: the same terms summed in another order).
    Sequences are scored in batches of similar length of at most ``max_cells`` motif × position
    cells (one convolution each; ~1 s per 200 sequences of 500 bp for 879 motifs on one core).
    """
    import torch

    pwm = np.asarray(pwm, dtype=np.float32)
    widths = np.asarray(widths, dtype=np.int64)
    m, _, width = pwm.shape
    rc = np.zeros_like(pwm)
    for j, w in enumerate(widths):  # reverse complement: bases and positions reversed
        rc[j, :, :w] = pwm[j, ::-1, :w][:, ::-1]
    kernel = torch.from_numpy(np.concatenate([pwm, rc]))
    floor = np.minimum(pwm.min(axis=1), 0).sum(axis=1)  # the lowest score a window can have
    seqs = list(sequences)
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    out = np.empty((len(seqs), m), dtype=np.float64)
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and (stop - start + 1) * 2 * m * (int(lengths[order[stop]]) + width) <= max_cells:
            stop += 1
        rows = order[start:stop]
        longest = max(int(lengths[rows].max()), 1)
        x = np.zeros((len(rows), 4, longest + width - 1), dtype=np.float32)
        for r, i in enumerate(rows):
            codes = BASE_CODES[np.frombuffer(seqs[i].encode("ascii", "replace"), dtype=np.uint8)]
            ok = np.flatnonzero(codes < 4)
            x[r, codes[ok], ok] = 1.0
        with torch.inference_mode():
            s = torch.nn.functional.conv1d(torch.from_numpy(x), kernel)  # (b, 2m, longest)
            s = torch.maximum(s[:, :m], s[:, m:])
            pos = torch.arange(s.shape[-1])
            last = torch.from_numpy(lengths[rows])[:, None] - torch.from_numpy(widths)[None, :]  # (b, m)
            s = s.masked_fill(pos[None, None, :] > last[:, :, None], float("-inf"))
            best = s.max(dim=-1).values.double().numpy()
        out[rows] = np.where(np.isfinite(best), best, floor[None, :])
        start = stop
    return out


_SCORES: dict[bytes, dict[str, np.ndarray]] = {}
_CACHE_CELLS = 50_000_000  # float32 motif scores kept per process (200 MB)


def cached_motif_scores(sequences: Sequence[str], pwm: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """:func:`max_motif_scores`, remembering each sequence's row for these matrices in this process.

    A cross-validation scores every sequence once per fold and model (train, validation and test
    parts); with the cache each distinct sequence is scanned once. At most ``_CACHE_CELLS`` scores
    are kept: past that the cache starts again, and a call with more new sequences than that (a
    genome scan) is scored without it.
    """
    import hashlib

    pwm = np.ascontiguousarray(pwm, dtype=np.float32)
    widths = np.ascontiguousarray(widths, dtype=np.int64)
    key = hashlib.sha256(pwm.tobytes() + widths.tobytes() + str(pwm.shape).encode()).digest()
    known = _SCORES.setdefault(key, {})
    todo = list(dict.fromkeys(s for s in sequences if s not in known))
    if len(todo) * pwm.shape[0] > _CACHE_CELLS:
        return max_motif_scores(sequences, pwm, widths)
    if todo:
        if (sum(map(len, _SCORES.values())) + len(todo)) * pwm.shape[0] > _CACHE_CELLS:
            _SCORES.clear()
            known = _SCORES.setdefault(key, {})
        known.update(zip(todo, max_motif_scores(todo, pwm, widths).astype(np.float32), strict=True))
    if not sequences:
        return np.empty((0, pwm.shape[0]))
    return np.stack([known[s] for s in sequences]).astype(np.float64)


class UsesMotifs:
    """For a model with ``motifs`` (a :func:`load_motifs` source or None) and ``motifs_weight``
    parameters and a ``kind``: the motif matrices it was fitted with, kept with the model (so
    prediction reads neither the source nor pyjaspar), and their best scores in sequences."""

    motifs: str | None
    motifs_weight: float
    kind: str

    def _check_motifs_weight(self) -> None:
        w = self.motifs_weight
        if self.motifs is not None and not (isinstance(w, (int, float, np.floating)) and not isinstance(w, bool)
                                            and np.isfinite(w) and w > 0):
            raise ConfigError(f"{self.kind}: motifs_weight must be a positive number; got {w!r}")

    def _fit_motifs(self) -> None:
        """At the start of ``fit``: the motifs of ``self.motifs`` as they are now."""
        found = load_motifs(self.motifs)
        self.motif_names_ = list(found)
        self.motif_pwm_, self.motif_widths_ = pwm_stack(list(found.values()))

    def _motif_scores(self, sequences: Sequence[str]) -> np.ndarray:
        """Best score of each fitted motif in each sequence, float64 (n, m); rows this process scored
        before with the same matrices are reused (see :func:`cached_motif_scores`)."""
        return cached_motif_scores(list(sequences), self.motif_pwm_, self.motif_widths_)

    def _motif_arrays(self) -> dict[str, np.ndarray]:
        """The matrices to save beside the weights."""
        return {"motif_pwm": self.motif_pwm_, "motif_widths": self.motif_widths_}

    def _motif_meta(self) -> dict:
        """What ``model.json`` says of the motif columns."""
        return {"source": self.motifs, "names": self.motif_names_,
                "scoring": "best log2-odds over both strands, background A, C, G, T "
                           + ", ".join(f"{b:g}" for b in FEATURE_BACKGROUND)}

    def _restore_motifs(self, meta: dict | None, arrays: dict[str, np.ndarray], directory) -> None:
        """At load: the saved matrices and names (one-line InputError when missing or inconsistent)."""
        names = (meta or {}).get("names")
        pwm, widths = arrays.get("motif_pwm"), arrays.get("motif_widths")
        if not isinstance(names, list) or pwm is None or widths is None or pwm.ndim != 3 \
                or pwm.shape[:2] != (len(names), 4) or widths.shape != (len(names),):
            raise InputError(f"{directory}: a {self.kind}:motifs model without its motif matrices (or with other "
                             "names than matrices); train the model again")
        self.motif_names_ = names
        self.motif_pwm_, self.motif_widths_ = pwm.astype(np.float32), widths.astype(np.int64)
