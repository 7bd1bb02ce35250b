"""k-mer spectrum + logistic regression: the classic fast baseline.

Features: for every k in ``k_min..k_max`` the frequency of each *canonical* k-mer (a k-mer and its
reverse complement share one column), so ``features(x) == features(revcomp(x))``. Windows that
contain ``N`` (or any non-ACGT letter) are skipped. Counting is vectorized: sequences are joined
with ``N`` separators into one 2-bit code array, k-mer indices come from shifted-slice arithmetic,
and one ``np.bincount`` per chunk of sequences (offset ``row * n_features + column``) builds the
count matrix. Frequencies are square-root transformed (variance stabilising, like the Hellinger
distance) and standardised before a scikit-learn ``LogisticRegression`` whose ``C`` is picked by
stratified internal cross-validation (or on the validation set when one is given).

With ``copies_genome`` (the ``kmer:copies`` model) the spectra get eight more columns: how often
the sequence's 20-mers occur in that genome (:mod:`genomic_ulmfit.data.copies`: repeat content,
which 5k training sequences cannot teach), weighted ``copies_weight`` times after standardisation
so that the strong L2 penalty the 2,772 spectrum columns need does not silence them.

With ``motifs`` (the ``kmer:motifs`` model) they get one more column per transcription-factor
motif, its best log-odds score in the sequence (:func:`~genomic_ulmfit.data.motifs.max_motif_scores`;
by default the 879 JASPAR 2024 CORE vertebrate profiles): what is known of binding sites, which the
k-mer spectra only see blurred. The matrices are saved with the model, so predicting needs
neither the motif file nor pyjaspar.

Saved as ``model.json`` (kind, hyperparameters, feature spec, chosen C, the genome's digest) plus
``weights.safetensors`` (coef, intercept, feature mean and scale); no pickle.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from genomic_ulmfit.data.copies import (
    FEATURE_NAMES,
    UsesCopies,
    check_copies_params,
    copy_features,
    genome_paths,
    saved_digest,
)
from genomic_ulmfit.data.motifs import UsesMotifs
from genomic_ulmfit.data.sequences import BASE_CODES
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.base import (
    WEIGHTS_FILE,
    SequenceModel,
    batch_or,
    check_binary_labels,
    check_sequences,
    read_model_json,
    register_model,
    restore_arrays,
    save_arrays,
)
from genomic_ulmfit.utils import write_json_atomic

_CODES = BASE_CODES  # anything that is not ACGT (N, separators) -> 4
_BASES = np.array(list("ACGT"))
_CHUNK_CELLS = 8_000_000  # rows x features counted per np.bincount call
TRANSFORMS = ("freq", "sqrt", "log")
FORMAT_VERSION = 1


def _best_C(scores: dict[float, float]) -> float:
    """The C with the highest score; ties (up to float noise from averaging folds) go to the smallest C."""
    return max(sorted(scores), key=lambda c: round(scores[c], 12))


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def canonical_columns(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column of every k-mer after merging reverse complements.

    Parameters
    ----------
    k : int
        k-mer length (1..12).

    Returns
    -------
    col_of : int32 array, shape (4**k,)
        ``col_of[i]`` is the column of the k-mer with 2-bit index ``i`` (A=0, C=1, G=2, T=3, first
        base most significant); ``col_of[i] == col_of[index(revcomp)]``.
    canon : int64 array, shape (n_columns,)
        The canonical (smaller) k-mer index of each column, sorted.
    """
    idx = np.arange(4**k, dtype=np.int64)
    digits = (idx[:, None] >> (2 * np.arange(k - 1, -1, -1))) & 3  # (4**k, k) first base first
    rc = ((3 - digits) << (2 * np.arange(k))).sum(axis=1)  # reversed complement, same encoding
    can = np.minimum(idx, rc)
    canon = np.unique(can)
    return np.searchsorted(canon, can).astype(np.int32), canon


def kmer_names(k: int) -> list[str]:
    """The canonical k-mers (strings) in column order of :func:`canonical_columns`."""
    _, canon = canonical_columns(k)
    digits = (canon[:, None] >> (2 * np.arange(k - 1, -1, -1))) & 3
    return ["".join(row) for row in _BASES[digits]]


def _encode_joined(sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Join sequences with one separator and encode to codes 0..3 (ACGT) / 4 (other).

    Returns
    -------
    codes : uint8 array, shape (sum(len) + n,)
    row : int32 array, same shape; the sequence each position belongs to (separators: previous).
    """
    text = "\n".join(sequences) + "\n"
    codes = _CODES[np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)]
    lengths = np.fromiter((len(s) + 1 for s in sequences), dtype=np.int64, count=len(sequences))
    row = np.repeat(np.arange(len(sequences), dtype=np.int32), lengths)
    return codes, row


def kmer_counts(sequences: Sequence[str], k_min: int = 1, k_max: int = 6) -> np.ndarray:
    """Canonical k-mer counts for k in ``k_min..k_max`` (windows with N skipped).

    Parameters
    ----------
    sequences : sequence of str, length n
        DNA strings; upper or lower case; letters other than ACGT break windows.
    k_min, k_max : int, default 1 and 6

    Returns
    -------
    float32 array, shape (n, n_features): blocks of :func:`canonical_columns` columns for
    k = k_min, ..., k_max, each counting windows of the forward strand by canonical k-mer (so the
    row of ``revcomp(x)`` equals the row of ``x``).
    """
    n = len(sequences)
    tables = [canonical_columns(k)[0] for k in range(k_min, k_max + 1)]
    widths = [int(t.max()) + 1 for t in tables]
    offsets = np.concatenate([[0], np.cumsum(widths)])
    n_feat = int(offsets[-1])
    out = np.zeros((n, n_feat), dtype=np.float32)
    step = max(1, _CHUNK_CELLS // n_feat)
    for start in range(0, n, step):
        chunk = sequences[start : start + step]
        codes, row = _encode_joined(chunk)
        bad = np.concatenate([[0], np.cumsum(codes == 4)])  # (T+1,) running count of non-ACGT
        c = np.where(codes == 4, 0, codes).astype(np.int64)
        total = c.size
        for k, table, off in zip(range(k_min, k_max + 1), tables, offsets[:-1], strict=True):
            w = total - k + 1
            if w <= 0:
                continue
            idx = np.zeros(w, dtype=np.int64)
            for j in range(k):  # shifted slices: idx = sum_j c[i + j] * 4**(k - 1 - j)
                idx = (idx << 2) | c[j : j + w]
            ok = bad[k : k + w] == bad[:w]  # no N / separator inside the window
            key = row[:w][ok].astype(np.int64) * n_feat + (table[idx[ok]] + off)
            out[start : start + len(chunk)] += np.bincount(key, minlength=len(chunk) * n_feat).reshape(
                len(chunk), n_feat
            )
    return out


def kmer_features(
    sequences: Sequence[str], k_min: int = 1, k_max: int = 6, transform: str = "sqrt"
) -> np.ndarray:
    """Per-sequence canonical k-mer frequencies (each k block sums to 1), then ``transform``.

    Parameters
    ----------
    sequences : sequence of str, length n
    k_min, k_max : int
    transform : {"freq", "sqrt", "log"}, default "sqrt"
        ``sqrt(f)``, ``f`` as is, or ``log(f + 1e-3)``.

    Returns
    -------
    float32 array, shape (n, n_features). A sequence without any valid window of some k gets
    zeros in that block.
    """
    counts = kmer_counts(sequences, k_min, k_max)
    start = 0
    for k in range(k_min, k_max + 1):
        width = int(canonical_columns(k)[1].size)
        block = counts[:, start : start + width]
        total = block.sum(axis=1, keepdims=True)
        block /= np.maximum(total, 1.0)
        start += width
    if transform == "sqrt":
        np.sqrt(counts, out=counts)
    elif transform == "log":
        counts = np.log(counts + np.float32(1e-3))
    return counts


def feature_names(k_min: int = 1, k_max: int = 6) -> list[str]:
    """Column names of :func:`kmer_features`: the canonical k-mers, shortest k first."""
    return [name for k in range(k_min, k_max + 1) for name in kmer_names(k)]


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


@register_model
class KmerLogistic(UsesCopies, UsesMotifs, SequenceModel):
    """Logistic regression on canonical k-mer spectra (k = ``k_min..k_max``).

    Parameters
    ----------
    k_min, k_max : int, default 1 and 6
        Range of k-mer lengths (1 <= k_min <= k_max <= 8). 1..6 gives 2,772 features. Test AUROC on
        a seeded 80/20 split of cohn_human_dev (5,229 x 500 bp): 1..4 0.797, 1..5 0.803,
        1..6 0.808, 1..7 0.805 (and 4x slower).
    transform : {"sqrt", "freq", "log"}, default "sqrt"
        Transform of the per-k frequencies before standardisation.
    Cs : tuple of float, default (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
        Inverse L2 strengths tried (with warm starts, smallest first); the best mean AUROC over
        ``cv`` stratified folds (or on the validation set when ``fit`` gets one) wins. Standardised
        spectra need strong regularisation: C = 3e-4 won on Cohn human (4,183 training sequences).
    cv : int, default 3
    max_iter : int, default 1000
    random_state : int, default 0
        Seeds the cross-validation folds.
    copies_genome : tuple of str, default ()
        Genome FASTA files (gzip or plain) of the training sequences' species; when given, the
        features include the genome copy numbers of each sequence's k-mers
        (:func:`~genomic_ulmfit.data.copies.copy_features`; the index is built once, ~25 s and
        ~5 GB peak for 92 Mbp, and cached). Predicting needs the same files (same contents).
        Cohn human 5-fold CV: 0.801 -> 0.811 with ~92 Mbp of the human genome (RESULTS.md).
    copies_k : int, default 20
    copies_weight : float, default 10.0
        Factor on the standardised copy-number columns (1 penalises them like any k-mer column).
    motifs : str, optional
        Motif source for one column per motif, its best score in the sequence: ``"jaspar"`` (JASPAR
        2024 CORE vertebrates, 879 profiles; needs the pyjaspar package at fit time), ``"jaspar2022"``
        etc., ``"liver"`` (eight liver factors) or a JASPAR-format file
        (:func:`~genomic_ulmfit.data.motifs.load_motifs`). 5-fold CV with JASPAR: Cohn human 0.801
        -> 0.809, NHLF (with the copies) 0.861 -> 0.877, iEnhancer unchanged (RESULTS.md).
    motifs_weight : float, default 1.0
        Factor on the standardised motif columns (0.3 and 3 scored 0.004 lower on Cohn).

    Attributes (after ``fit``)
    --------------------------
    coef_ : float64 (n_features,); intercept_ : float; mean_, scale_ : float64 (n_features,);
    C_ : float, the chosen C; cv_scores_ : dict str(C) -> AUROC (JSON keys). With ``motifs``:
    motif_names_ : list of str; motif_pwm_ : float32 (m, 4, W), motif_widths_ : int64 (m,)
    (:func:`~genomic_ulmfit.data.motifs.pwm_stack`).
    """

    kind: ClassVar[str] = "kmer"

    def __init__(
        self,
        k_min: int = 1,
        k_max: int = 6,
        transform: str = "sqrt",
        Cs: Sequence[float] = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
        cv: int = 3,
        max_iter: int = 1000,
        random_state: int = 0,
        copies_genome: Sequence[str] = (),
        copies_k: int = 20,
        copies_weight: float = 10.0,
        motifs: str | None = None,
        motifs_weight: float = 1.0,
    ):
        self.k_min = k_min
        self.k_max = k_max
        self.transform = transform
        self.Cs = tuple(Cs)
        self.cv = cv
        self.max_iter = max_iter
        self.random_state = random_state
        self.copies_genome = genome_paths(copies_genome)
        self.copies_k = copies_k
        self.copies_weight = copies_weight
        self.motifs = None if motifs is None else str(motifs)
        self.motifs_weight = motifs_weight

    def _validate_params(self) -> None:
        whole = all(isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in (self.k_min, self.k_max))
        if not (whole and 1 <= self.k_min <= self.k_max <= 8):
            raise ConfigError(
                f"kmer: need integers 1 <= k_min <= k_max <= 8; got k_min={self.k_min}, k_max={self.k_max}"
            )
        if self.transform not in TRANSFORMS:
            raise ConfigError(f"kmer: transform must be one of {TRANSFORMS}; got {self.transform!r}")
        # numbers.Real / Integral: numpy scalars count (np.int64(3) is a whole number), bools do not
        if len(self.Cs) == 0 or any(not (isinstance(c, numbers.Real) and not isinstance(c, bool) and c > 0)
                                    for c in self.Cs):
            raise ConfigError(f"kmer: Cs must be positive numbers; got {list(self.Cs)}")
        if not (isinstance(self.cv, numbers.Integral) and not isinstance(self.cv, bool) and self.cv >= 2):
            raise ConfigError(f"kmer: cv must be an integer >= 2; got {self.cv}")
        if self.copies_genome:
            check_copies_params(self.kind, self.copies_k, self.copies_weight)
        self._check_motifs_weight()

    def _blocks(self) -> list[tuple[int, float]]:
        """(columns, weight) of the feature blocks after the spectra: copy numbers, then motifs."""
        blocks = [(len(FEATURE_NAMES), self.copies_weight)] if self.copies_genome else []
        if self.motifs is not None:
            blocks.append((len(self.motif_names_), self.motifs_weight))
        return blocks

    def _block_weights(self) -> np.ndarray:
        """Factor of every column after the spectra (see :meth:`_blocks`)."""
        return np.concatenate([np.full(n, w) for n, w in self._blocks()] or [np.empty(0)])

    def features(self, sequences: Sequence[str]) -> np.ndarray:
        """Unstandardised features, float (n, n_features): the spectra, then the copy-number
        columns, then the motif columns."""
        seqs = list(sequences)
        parts = [kmer_features(seqs, self.k_min, self.k_max, self.transform)]
        if self.copies_genome:
            parts.append(copy_features(seqs, self._copies_index()).astype(np.float32))
        if self.motifs is not None:
            parts.append(self._motif_scores(seqs).astype(np.float32))
        return parts[0] if len(parts) == 1 else np.hstack(parts)

    def fit(
        self,
        sequences: Sequence[str],
        labels: np.ndarray,
        valid_sequences: Sequence[str] | None = None,
        valid_labels: np.ndarray | None = None,
        *,
        out_dir: str | Path | None = None,
        progress: bool = True,
    ) -> KmerLogistic:
        """Pick C (internal CV, or the validation set when given), fit on ``sequences``; returns self.

        ``out_dir`` (optional) receives ``fit_log.json`` with the score of every C.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        self._validate_params()
        t0 = time.perf_counter()
        sequences = check_sequences(sequences)
        y = check_binary_labels(sequences, labels)
        on_valid = valid_sequences is not None and len(valid_sequences := check_sequences(valid_sequences, "validation")) > 0
        if self.copies_genome:
            self._copies_fit_index()  # a refit takes the files as they are now
        if self.motifs is not None:
            self._fit_motifs()
        X = self.features(sequences)
        self.mean_ = X.mean(axis=0, dtype=np.float64)
        self.scale_ = X.std(axis=0, dtype=np.float64)
        self.scale_[self.scale_ < 1e-12] = 1.0
        Z = self._standardise(X)

        Cs = sorted(float(c) for c in self.Cs)

        def path(Ztr: np.ndarray, ytr: np.ndarray, Zva: np.ndarray, yva: np.ndarray) -> dict[float, tuple]:
            # One warm-started model walks the C path (strongest regularisation first).
            clf = LogisticRegression(
                C=Cs[0], max_iter=self.max_iter, warm_start=True, random_state=self.random_state
            )
            out = {}
            for C in Cs:
                clf.set_params(C=C).fit(Ztr, ytr)
                auc = float(roc_auc_score(yva, clf.decision_function(Zva)))
                out[C] = (auc, clf.coef_[0].copy(), float(clf.intercept_[0]))
            return out

        scores: dict[float, float] = {}
        if on_valid:
            yv = check_binary_labels(valid_sequences, valid_labels, "validation")
            fits = path(Z, y, self._standardise(self.features(valid_sequences)), yv)
            scores = {C: fits[C][0] for C in Cs}
            best = _best_C(scores)
            coef, intercept = fits[best][1], fits[best][2]
        else:
            n_min = int(np.bincount(y).min())
            if len(Cs) > 1 and n_min >= 2:
                folds = StratifiedKFold(min(self.cv, n_min), shuffle=True, random_state=self.random_state)
                per_fold = [path(Z[tr], y[tr], Z[va], y[va]) for tr, va in folds.split(Z, y)]
                scores = {C: float(np.mean([f[C][0] for f in per_fold])) for C in Cs}
                best = _best_C(scores)
            else:
                best = Cs[0]
            clf = LogisticRegression(C=best, max_iter=self.max_iter, random_state=self.random_state).fit(Z, y)
            coef, intercept = clf.coef_[0], float(clf.intercept_[0])
        self.C_ = float(best)
        self.cv_scores_ = {str(c): s for c, s in scores.items()}
        self.coef_ = np.asarray(coef, dtype=np.float64)
        self.intercept_ = intercept
        self.fit_seconds_ = time.perf_counter() - t0
        if out_dir is not None:
            write_json_atomic(
                Path(out_dir) / "fit_log.json",
                {
                    "kind": self.kind,
                    "C": self.C_,
                    "scores_by_C": self.cv_scores_,
                    "seconds": self.fit_seconds_,
                    "selected_on": "validation" if on_valid else f"{self.cv}-fold CV",
                },
            )
        return self

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        Z = (X - self.mean_) / self.scale_
        extra = self._block_weights()
        if extra.size:
            Z[:, -extra.size:] *= extra
        return Z

    def _feature_names(self) -> list[str]:
        return (feature_names(self.k_min, self.k_max) + (list(FEATURE_NAMES) if self.copies_genome else [])
                + ([f"motif:{name}" for name in self.motif_names_] if self.motifs is not None else []))

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise InputError("kmer model is not fitted; call fit() or load a saved model first")

    def decision_function(self, sequences: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """Logit of P(enhancer), float64 (n,)."""
        self._check_fitted()
        seqs = check_sequences(sequences, "prediction")
        step = batch_or(batch_size, 4096)
        out = np.empty(len(seqs), dtype=np.float64)
        for start in range(0, len(seqs), step):
            Z = self._standardise(self.features(seqs[start : start + step]))  # (b, n_features)
            out[start : start + step] = (Z * self.coef_).sum(axis=1) + self.intercept_
        return out

    def predict_proba(self, sequences: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """P(enhancer) for each sequence, float64 (n,)."""
        z = self.decision_function(sequences, batch_size=batch_size)
        return 1.0 / (1.0 + np.exp(-z))

    def top_kmers(self, n: int = 20) -> list[tuple[str, float]]:
        """The ``n`` k-mers with the largest |coefficient|, as (k-mer, coefficient). With
        ``copies_genome`` the copy-number columns (``copies:...``) and with ``motifs`` the motif
        columns (``motif:NAME/ID``) take part, on the spectra's scale (their coefficient times
        ``copies_weight`` or ``motifs_weight``)."""
        self._check_fitted()
        names = self._feature_names()
        coef = self.coef_.copy()
        extra = self._block_weights()
        if extra.size:
            coef[-extra.size:] *= extra
        order = np.argsort(-np.abs(coef))[:n]
        return [(names[i], float(coef[i])) for i in order]

    def save(self, directory: str | Path) -> None:
        """Write ``model.json`` and ``weights.safetensors`` to ``directory``."""
        self._check_fitted()
        arrays = {
            "coef": self.coef_,
            "intercept": np.array([self.intercept_]),
            "mean": self.mean_,
            "scale": self.scale_,
        }
        if self.motifs is not None:
            arrays |= self._motif_arrays()
        save_arrays(
            directory,
            {
                "kind": self.kind,
                "format_version": FORMAT_VERSION,
                "params": self.get_params(),
                "features": {
                    "type": "canonical k-mer frequencies per k, windows with N skipped",
                    "k_min": self.k_min,
                    "k_max": self.k_max,
                    "transform": self.transform,
                    "standardised": True,
                    "n_features": int(self.coef_.size),
                    **({"copies": {"names": list(FEATURE_NAMES), "genome_digest": self.copies_digest_}}
                       if self.copies_genome else {}),
                    **({"motifs": self._motif_meta()} if self.motifs is not None else {}),
                },
                "C": self.C_,
                "scores_by_C": self.cv_scores_,
            },
            {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()},
        )

    @classmethod
    def load(cls, directory: str | Path) -> KmerLogistic:
        """Rebuild a model written by :meth:`save`."""
        meta = read_model_json(directory, kind=cls.kind)
        model, w = restore_arrays(cls, directory, meta)
        model.coef_ = w["coef"]
        model.intercept_ = float(w["intercept"][0])
        model.mean_ = w["mean"]
        model.scale_ = w["scale"]
        model.C_ = float(meta.get("C", model.Cs[0]))
        model.cv_scores_ = dict(meta.get("scores_by_C", {}))
        if model.copies_genome:
            model.copies_digest_ = saved_digest(meta, directory)
            model._copies_check_files(directory)
        if model.motifs is not None:
            model._restore_motifs(meta.get("features", {}).get("motifs"), w, directory)
        expected = len(model._feature_names())
        path = Path(directory) / meta.get("weights", WEIGHTS_FILE)
        for name in ("coef", "mean", "scale"):
            arr = w[name]
            if arr.shape != (expected,) or arr.dtype.kind != "f":
                raise InputError(f"{path}: {name!r} is {arr.dtype} of shape {arr.shape}, but k={model.k_min}.."
                                 f"{model.k_max} needs {expected} floats; train the model again")
        return model
