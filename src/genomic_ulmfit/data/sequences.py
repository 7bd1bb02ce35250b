"""One validation path for DNA sequences and labels, plus strand helpers.

Every reader funnels sequences through :func:`clean_sequence` and labels through
:func:`parse_label`, so messages look the same whatever the file format.
"""

from __future__ import annotations

import numpy as np

from genomic_ulmfit.errors import InputError

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")

BASE_CODES = np.full(256, 4, dtype=np.uint8)
"""Byte → 2-bit base code lookup table: A/C/G/T (either case) → 0..3, any other byte → 4."""
for _i, _b in enumerate("ACGT"):
    BASE_CODES[ord(_b)] = _i
    BASE_CODES[ord(_b.lower())] = _i
BASE_CODES.flags.writeable = False
IUPAC_AMBIGUOUS = frozenset("RYSWKMBDHVU")
_VALID = frozenset("ACGTN")


def revcomp(seq: str) -> str:
    """Reverse complement of an upper/lower-case ACGTN string."""
    return seq.translate(_COMPLEMENT)[::-1]


def canonical(seq: str) -> str:
    """The lexicographically smaller of a sequence and its reverse complement (upper case)."""
    s = seq.upper()
    r = revcomp(s)
    return s if s <= r else r


def clean_sequence(seq: str, *, where: str, mask_iupac: bool = False, min_length: int = 1) -> str:
    """Validate one sequence and return it upper-cased.

    Parameters
    ----------
    seq : str
        The raw sequence (any case; surrounding white space and a trailing ``\\r`` are removed).
    where : str
        Location for messages, e.g. ``"pos.fa: record 12 (chr1:100-600)"`` or ``"x.tsv: line 7"``.
    mask_iupac : bool, default False
        Replace IUPAC ambiguity codes (R, Y, S, W, K, M, B, D, H, V) by ``N`` instead of failing.
    min_length : int, default 1
        Shortest allowed length (e.g. the k of the tokenizer).

    Raises
    ------
    InputError
        One line naming ``where``, the problem and the fix.
    """
    s = seq.strip().upper()
    if not s:
        raise InputError(f"{where}: empty sequence; remove the record or give its bases")
    bad = set(s) - _VALID
    if bad:
        if mask_iupac and bad <= IUPAC_AMBIGUOUS:
            s = "".join("N" if c in IUPAC_AMBIGUOUS else c for c in s)
        else:
            shown = "".join(sorted(bad))[:10]
            pos = next(i for i, c in enumerate(s) if c in bad) + 1
            hint = (
                "use --mask-iupac to turn IUPAC codes into N"
                if bad <= IUPAC_AMBIGUOUS
                else "only A, C, G, T and N are allowed"
            )
            raise InputError(f"{where}: invalid character(s) {shown!r} (first at position {pos}); {hint}")
    if len(s) < min_length:
        raise InputError(
            f"{where}: sequence of length {len(s)} is shorter than the minimum {min_length}; "
            "remove it or lower the minimum length"
        )
    return s


def parse_label(value: object, *, where: str) -> int:
    """Parse a class label; only 0 and 1 (as int, float 0.0/1.0 or string) are accepted."""
    text = str(value).strip()
    if text in ("0", "1", "0.0", "1.0"):
        return int(float(text))
    raise InputError(f"{where}: label {text!r} is not 0 or 1; use 1 for enhancer, 0 for non-enhancer")


def gc_content(sequences: list[str] | np.ndarray) -> np.ndarray:
    """Fraction of G+C among the non-N bases of each sequence, shape (n,). NaN for all-N."""
    out = np.empty(len(sequences), dtype=np.float64)
    for i, s in enumerate(sequences):
        b = np.frombuffer(s.upper().encode("ascii"), dtype=np.uint8)
        gc = np.count_nonzero((b == ord("G")) | (b == ord("C")))
        acgt = gc + np.count_nonzero((b == ord("A")) | (b == ord("T")))
        out[i] = gc / acgt if acgt else np.nan
    return out
