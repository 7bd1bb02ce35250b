"""Liver transcription-factor motifs (JASPAR position frequency matrices) and PWM scanning.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genomic_ulmfit.data.sequences import BASE_CODES

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
