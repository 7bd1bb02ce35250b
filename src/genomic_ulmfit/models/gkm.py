"""Gapped k-mer kernel SVM, computed natively: explicit gapped k-mer counts and dense matrix products.

The gapped k-mer (gkm) kernel of Ghandi et al. 2014 compares two sequences by the gapped k-mers
they share: k informative bases spread over at most ``l`` positions, the rest gaps. Here a gapped
k-mer is identified by its *shape* (the offsets of its k bases, the first at 0, the last < l:
``C(l-1, k-1)`` shapes) and its bases, so the feature vector of a sequence is, per shape, a
``4**k`` count vector over both strands. The kernel is

    K(x, y) = sum_shapes c_s * X_s(x) . X_s(y),    c_s = l - span_s + 1,

where ``c_s`` is the number of l-long windows that hold a gapped k-mer of span ``span_s``: this
is LS-GKM's full gapped k-mer kernel (``-t 0``) except within l - 1 bp of the sequence ends and
of N bases (an occurrence counts when its own span is N-free).
Optional centre weighting (LS-GKM's ``wgkm``) weights each occurrence by
``2 ** (-D / half_life)``, D its distance in bp from the sequence centre; the kernel is then
normalised, ``Kn(x, y) = K(x, y) / sqrt(K(x, x) K(y, y))``, and optionally made an RBF kernel,
``exp(-gamma * (2 - 2 Kn))`` (LS-GKM's ``gkmrbf``, on the normalised kernel).

Each shape's contribution to the (n, m) kernel is one dense (n, 4**k) x (4**k, m) product in
torch (CUDA when present): on two CPU cores the 35 shapes of l = 8, k = 5 took 35 s for 5.2k
sequences, the 126 of l = 10, k = 6 12 min (both with other jobs running; time grows as
n**2 C(l-1, k-1) 4**k).

:class:`GkmSVM` fits scikit-learn's ``SVC`` on the precomputed kernel, choosing C and gamma by
internal cross-validation on that one kernel matrix; a validation set calibrates it. A
linear-kernel model is saved as its weight on every gapped k-mer (``n_shapes x 4**k`` floats;
:meth:`GkmSVM.top_gapped_kmers` reads them); an RBF model keeps its support sequences.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

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
from genomic_ulmfit.data.sequences import revcomp
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.base import (
    SequenceModel,
    batch_or,
    check_binary_labels,
    check_sequences,
    read_model_json,
    register_model,
    restore_arrays,
    save_arrays,
)
from genomic_ulmfit.models.kmer import _encode_joined
from genomic_ulmfit.utils import write_json_atomic

FORMAT_VERSION = 1
_BASES = np.array(list("ACGT"))


# --------------------------------------------------------------------------------------------
# Features and kernel
# --------------------------------------------------------------------------------------------


def gkm_shapes(l: int, k: int) -> list[tuple[int, ...]]:  # noqa: E741 - LS-GKM's name
    """Every gapped k-mer shape within ``l`` positions: k increasing offsets, the first 0, the last < l.

    There are ``C(l-1, k-1)`` of them, in lexicographic order (the ungapped k-mer first).
    """
    return [(0, *rest) for rest in itertools.combinations(range(1, l), k - 1)]


def shape_weights(l: int, k: int) -> np.ndarray:  # noqa: E741
    """``c_s = l - span_s + 1`` for each shape of :func:`gkm_shapes`, float64 (n_shapes,)."""
    return np.array([l - s[-1] for s in gkm_shapes(l, k)], dtype=np.float64)


class _Encoded:
    """Sequences and their reverse complements joined and 2-bit encoded once, for every shape.

    With ``keep`` the count matrix of each (shape, half_life) is kept after its first use: an RBF
    model's support sequences are counted once, not once per scoring batch.
    """

    def __init__(self, sequences: Sequence[str], keep: bool = False):
        self.kept: dict[tuple, np.ndarray] | None = {} if keep else None
        self.n = len(sequences)
        self.lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=self.n)
        starts = np.concatenate([[0], np.cumsum(self.lengths + 1)[:-1]])  # each sequence's first position
        self.strands = []
        for seqs in (sequences, [revcomp(s) for s in sequences]):
            codes, row = _encode_joined(seqs)  # (T,) codes 0..4, row of each position
            bad = np.concatenate([[0], np.cumsum(codes == 4)])  # running count of non-ACGT
            self.strands.append((np.where(codes == 4, 0, codes).astype(np.int64), row.astype(np.int64), bad))
        self.offset = np.arange(self.strands[0][0].size) - np.repeat(starts, self.lengths + 1)  # position in its sequence

    def counts(self, shape: tuple[int, ...], half_life: float | None = None) -> np.ndarray:
        """Counts of every gapped k-mer of ``shape`` on both strands, float32 (n, 4**k).

        Occurrences whose span holds an N are skipped; with ``half_life`` each occurrence counts
        ``2 ** (-D / half_life)``, D the distance (bp) of its centre from the sequence centre.
        """
        if self.kept is None:
            return self._count(shape, half_life)
        if (shape, half_life) not in self.kept:
            self.kept[shape, half_life] = self._count(shape, half_life)
        return self.kept[shape, half_life]

    def sq_norms(self, shape: tuple[int, ...], half_life: float | None, x: np.ndarray) -> np.ndarray:
        """Each sequence's squared count norm, float64 (n,), from its counts ``x`` for ``shape``; kept
        like the counts."""
        key = ("norm", shape, half_life)
        if self.kept is not None and key in self.kept:
            return self.kept[key]
        out = np.einsum("ij,ij->i", x, x, dtype=np.float64)
        if self.kept is not None:
            self.kept[key] = out
        return out

    def _count(self, shape: tuple[int, ...], half_life: float | None) -> np.ndarray:
        k, span = len(shape), shape[-1] + 1
        n_cols = 4**k
        keys, weights = [], []
        for codes, row, bad in self.strands:
            w = codes.size - span + 1
            if w <= 0:
                continue
            idx = np.zeros(w, dtype=np.int64)
            for j in shape:  # shifted slices: idx = sum_j codes[i + shape_j] * 4**(k - 1 - j)
                idx = (idx << 2) | codes[j : j + w]
            ok = bad[span : span + w] == bad[:w]  # no N / separator inside the span
            keys.append(row[:w][ok] * n_cols + idx[ok])
            if half_life:
                r = row[:w][ok]
                # the reverse strand's positions mirror the forward ones, and |D| is symmetric
                weights.append(np.exp2(-np.abs(self.offset[:w][ok] + (span - 1) / 2 - (self.lengths[r] - 1) / 2)
                                       / half_life))
        if not keys:
            return np.zeros((self.n, n_cols), dtype=np.float32)
        out = np.bincount(np.concatenate(keys), weights=np.concatenate(weights) if half_life else None,
                          minlength=self.n * n_cols)
        return out.reshape(self.n, n_cols).astype(np.float32)


def gkm_kernel(
    a: Sequence[str],
    b: Sequence[str] | None = None,
    *,
    l: int = 8,  # noqa: E741
    k: int = 5,
    half_life: float | None = None,
    device: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gapped k-mer kernel between two sets of DNA strings, unnormalised.

    Parameters
    ----------
    a : sequence of str, length n
    b : sequence of str, length m, or None
        None: the kernel of ``a`` with itself (one feature pass, a symmetric product). Internally
        also an ``_Encoded`` (whose kept counts are reused).
    l, k : int, default 8 and 5
        Gapped k-mers have k bases within at most l positions (``1 <= k <= l <= 16``, ``k <= 8``).
    half_life : float or None, default None
        Centre weighting (see the module docstring); None weights every occurrence 1.
    device : str or None
        Where the products run (None: CUDA when present, else CPU).
    progress : callable (done, total) or None
        Called after each shape.

    Returns
    -------
    K : float64 (n, m)
    norm_a, norm_b : float64 (n,), (m,)
        ``K(x, x)`` of each sequence (0 for a sequence without k consecutive A/C/G/T bases).
    """
    import torch

    from genomic_ulmfit.utils import resolve_device

    dev = resolve_device(device)
    m = len(a) if b is None else (b.n if isinstance(b, _Encoded) else len(b))
    if not len(a) or not m:
        return np.zeros((len(a), m)), np.zeros(len(a)), np.zeros(m)
    shapes, c = gkm_shapes(l, k), shape_weights(l, k)
    ea = _Encoded(a)
    eb = ea if b is None else b if isinstance(b, _Encoded) else _Encoded(b)
    K = torch.zeros(ea.n, eb.n, dtype=torch.float64, device=dev)
    norm_a = np.zeros(ea.n)
    norm_b = norm_a if b is None else np.zeros(eb.n)  # the same array when b is a
    for i, (shape, cs) in enumerate(zip(shapes, c, strict=True)):
        xa = ea.counts(shape, half_life)
        xb = xa if b is None else eb.counts(shape, half_life)
        norm_a += cs * ea.sq_norms(shape, half_life, xa)
        if b is not None:
            norm_b += cs * eb.sq_norms(shape, half_life, xb)
        ta = torch.from_numpy(xa).to(dev)
        tb = ta if b is None else torch.from_numpy(xb).to(dev)
        K.add_((ta @ tb.T).double(), alpha=float(cs))  # (n, 4**k) x (4**k, m)
        if progress is not None:
            progress(i + 1, len(shapes))
    return K.cpu().numpy(), norm_a, norm_b


def normalise(K: np.ndarray, norm_a: np.ndarray, norm_b: np.ndarray) -> np.ndarray:
    """``K / sqrt(norm_a norm_b^T)``; rows or columns of zero norm become 0. Float64, K's shape."""
    def inverse_root(norm: np.ndarray) -> np.ndarray:
        root = np.sqrt(norm)
        return np.divide(1.0, root, out=np.zeros_like(root), where=root > 0)

    out = K * inverse_root(norm_a)[:, None]  # one (n, m) array, not three
    out *= inverse_root(norm_b)[None, :]
    return out


def rbf(Kn: np.ndarray, gamma: float) -> np.ndarray:
    """The RBF kernel on a normalised kernel: ``exp(-gamma * ||phi(x) - phi(y)||^2) = exp(-gamma (2 - 2 Kn))``.

    ``gamma = 0`` returns ``Kn`` itself (the linear kernel), so one grid can hold both.
    """
    return Kn if gamma == 0 else np.exp(-gamma * (2.0 - 2.0 * Kn))


def _check_memory(n: int) -> None:
    """A one-line ConfigError when fitting on ``n`` sequences would need more memory than the machine has:
    the kernel matrix, its RBF form and a fold's copy (~3 x 8 n**2 bytes)."""
    import os

    need = 3 * 8 * n**2
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on this platform: do not guess
        return
    if need > have:
        raise ConfigError(f"gkm: {n:,} training sequences need ~{need / 2**30:.0f} GiB for the kernel matrix and this "
                          f"machine has {have / 2**30:.0f} GiB; subsample the training set (the kernel grows as n**2) "
                          "or use --model kmer")


def shape_names(l: int, k: int) -> list[str]:  # noqa: E741
    """Each shape as a pattern of ``N`` (base) and ``.`` (gap), e.g. ``NN.N.NN``."""
    return ["".join("N" if i in s else "." for i in range(s[-1] + 1)) for s in gkm_shapes(l, k)]


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

KEEP_BYTES = 2**30  # an RBF model keeps its support sequences' counts when they fit in this (float32)


def _standardised(F: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, scale, standardised F) of features F (n, d); a constant feature gets scale 1 (stays 0)."""
    mean, scale = F.mean(axis=0), F.std(axis=0)
    scale[scale < 1e-12] = 1.0
    return mean, scale, (F - mean) / scale


def _linear_term(arrays: dict[str, np.ndarray], prefix: str, n: int, what: str) -> tuple[np.ndarray, ...]:
    """The saved ``PREFIX_mean``, ``PREFIX_scale`` and ``PREFIX_coef`` of a linear kernel term on n
    features, float64 (one-line InputError when one has another shape)."""
    out = tuple(arrays[f"{prefix}_{name}"].astype(np.float64) for name in ("mean", "scale", "coef"))
    if not all(a.shape == (n,) for a in out):
        raise InputError(f"{what} of the wrong shape; re-save the model")
    return out


@register_model
class GkmSVM(UsesCopies, UsesMotifs, SequenceModel):
    """Support vector machine on the native gapped k-mer kernel (:func:`gkm_kernel`).

    Parameters
    ----------
    l : int, default 8
        Longest span of a gapped k-mer (k <= l <= 16).
    k : int, default 5
        Bases per gapped k-mer (1..8). In a 5-fold CV on Cohn human (5.2k sequences) l = 8, k = 5
        scored as well as l = 7, k = 4 and l = 9, k = 5 (0.810) and l = 10, k = 6 (0.808), whose
        kernel takes ~20x as long (RESULTS.md, twelfth session).
    half_life : float or None, default None
        Centre weighting of occurrences (bp); None: none.
    Cs : tuple of float, default (0.25, 0.5, 1, 2, 4)
        SVM regularisation values tried.
    gammas : tuple of float, default (0, 1, 2)
        RBF widths tried on the normalised kernel; 0 is the linear (normalised gkm) kernel.
    cv : int, default 3
        Folds of the internal cross-validation that picks (C, gamma) (see :meth:`fit`).
    random_state : int, default 0
        Seeds the internal folds.
    device : str or None, default None
        Where the kernel products run (None: CUDA when present, else CPU).
    copies_genome : tuple of str, default ()
        Genome FASTA files of the sequences' species (the ``gkm:copies`` model): the kernel gets a
        linear kernel on the eight standardised genome copy-number features of each sequence's
        20-mers (:func:`~genomic_ulmfit.data.copies.copy_features`) added to it, times
        ``copies_weight`` / 8. 5-fold CV: Cohn human 0.809 -> 0.8175, iEnhancer 0.858 -> 0.869,
        VISTA 0.919 -> 0.930 (RESULTS.md, twenty-fourth session). Predicting needs the same files.
    copies_k : int, default 20
    copies_weight : float, default 1.0
        Weight of the copy-number kernel (0.1 to 3 scored alike on Cohn and iEnhancer).
    motifs : str, optional
        Motif source (the ``gkm:motifs`` model; :func:`~genomic_ulmfit.data.motifs.load_motifs`,
        ``"jaspar"``: the 879 JASPAR 2024 CORE vertebrate profiles): the kernel gets a linear kernel
        on the standardised best score of each motif in each sequence added to it, times
        ``motifs_weight`` / (number of motifs). The matrices are saved with the model. 5-fold CV
        (with the copies): Cohn human 0.8175 -> 0.8235, NHLF 0.873 -> 0.888, iEnhancer unchanged.
    motifs_weight : float, default 0.1
        Weight of the motif kernel (0.03 and 0.3 scored within 0.002 of 0.1 on Cohn, 1 0.006 lower).

    Attributes (after ``fit``)
    --------------------------
    C_, gamma_ : the chosen values; scores_ : dict "C,gamma" -> AUROC; bias_ : float;
    platt_ : (a, b) with P(enhancer) = sigmoid(a f + b); n_support_ : int. A linear model holds
    ``weights_`` float32 (n_shapes, 4**k); an RBF one ``support_`` (list of str), ``dual_`` float64
    (n_support,) and ``support_norm_`` float64 (n_support,). With ``copies_genome``: ``copies_mean_``,
    ``copies_scale_`` (the features' standardisation) and ``copies_coef_`` float64 (8,), the
    copy-number kernel's part of f(x) as a linear function of the standardised features; with
    ``motifs`` likewise ``motif_mean_``, ``motif_scale_``, ``motif_coef_`` (m,), and the matrices
    ``motif_names_``, ``motif_pwm_``, ``motif_widths_``.
    """

    kind: ClassVar[str] = "gkm"
    not_params = ("device",)  # it changes no result

    def __init__(
        self,
        l: int = 8,  # noqa: E741
        k: int = 5,
        half_life: float | None = None,
        Cs: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
        gammas: Sequence[float] = (0.0, 1.0, 2.0),
        cv: int = 3,
        random_state: int = 0,
        device: str | None = None,
        copies_genome: Sequence[str] = (),
        copies_k: int = 20,
        copies_weight: float = 1.0,
        motifs: str | None = None,
        motifs_weight: float = 0.1,
    ):
        self.l = l
        self.k = k
        self.half_life = half_life
        self.Cs = tuple(Cs)
        self.gammas = tuple(gammas)
        self.cv = cv
        self.random_state = random_state
        self.device = device
        self.copies_genome = genome_paths(copies_genome)
        self.copies_k = copies_k
        self.copies_weight = copies_weight
        self.motifs = None if motifs is None else str(motifs)
        self.motifs_weight = motifs_weight

    def _validate_params(self) -> None:
        def whole(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        if not (whole(self.l) and whole(self.k) and 1 <= self.k <= 8 and self.k <= self.l <= 16):
            raise ConfigError(f"gkm: need integers 1 <= k <= 8 and k <= l <= 16; got l={self.l}, k={self.k}")
        if self.half_life is not None and not (isinstance(self.half_life, (int, float)) and self.half_life > 0):
            raise ConfigError(f"gkm: half_life must be a positive number of bp or None; got {self.half_life!r}")
        if not self.Cs or any(not (isinstance(c, (int, float)) and c > 0) for c in self.Cs):
            raise ConfigError(f"gkm: Cs must be positive numbers; got {list(self.Cs)}")
        if not self.gammas or any(not (isinstance(g, (int, float)) and g >= 0) for g in self.gammas):
            raise ConfigError(f"gkm: gammas must be numbers >= 0 (0: linear kernel); got {list(self.gammas)}")
        if not (whole(self.cv) and self.cv >= 2):
            raise ConfigError(f"gkm: cv must be an integer >= 2; got {self.cv}")
        if self.copies_genome:
            check_copies_params(self.kind, self.copies_k, self.copies_weight)
        self._check_motifs_weight()

    def _motif_z(self, sequences: Sequence[str]) -> np.ndarray:
        """Standardised best motif scores (n, m) of ``sequences`` (scaling set by ``fit``)."""
        return (self._motif_scores(sequences) - self.motif_mean_) / self.motif_scale_

    def _copies_z(self, sequences: Sequence[str]) -> np.ndarray:
        """Standardised copy-number features (n, 8) of ``sequences`` (scaling set by ``fit``)."""
        return (copy_features(sequences, self._copies_index()) - self.copies_mean_) / self.copies_scale_

    def _kernel(self, a: Sequence[str], b: Sequence[str] | _Encoded | None = None, *, progress: bool = False,
                what: str = "gkm kernel") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`gkm_kernel` with this model's settings, behind a progress bar when asked."""
        kwargs = {"l": self.l, "k": self.k, "half_life": self.half_life, "device": self.device}
        if not progress:
            return gkm_kernel(a, b, **kwargs)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn(f"{what} (shapes)"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      transient=True) as bar:
            task = bar.add_task(what, total=len(gkm_shapes(self.l, self.k)))
            return gkm_kernel(a, b, **kwargs, progress=lambda done, _: bar.update(task, completed=done))

    def fit(
        self,
        sequences: Sequence[str],
        labels: np.ndarray,
        valid_sequences: Sequence[str] | None = None,
        valid_labels: np.ndarray | None = None,
        *,
        out_dir: str | Path | None = None,
        progress: bool = True,
    ) -> GkmSVM:
        """Pick (C, gamma) by internal CV, fit on ``sequences``, calibrate; returns self.

        (C, gamma) is chosen by ``cv``-fold CV on ``sequences`` even when a validation set is given:
        one kernel matrix serves every fold, and its estimate rests on all training sequences rather
        than on a validation set a ninth of their size (on 471 Cohn validation sequences the grid's
        top settings differ by less than their noise). The validation set, when given, calibrates
        ``predict_proba`` (Platt scaling of the final model); otherwise the chosen setting's
        out-of-fold decision values do. Memory grows as 8 n**2 bytes (the kernel matrix).
        ``out_dir`` (optional) receives ``fit_log.json`` with the score of every (C, gamma).
        """
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold
        from sklearn.svm import SVC

        from genomic_ulmfit.models.gkmsvm import _platt

        self._validate_params()
        t0 = time.perf_counter()
        seqs = check_sequences(sequences, min_length=self.l)
        y = check_binary_labels(seqs, labels)
        _check_memory(len(seqs))
        on_valid = valid_sequences is not None and len(valid_sequences := check_sequences(
            valid_sequences, "validation", min_length=self.l)) > 0
        if on_valid:
            yv = check_binary_labels(valid_sequences, valid_labels, "validation", both_classes=False)
        K, norm, _ = self._kernel(seqs, progress=progress, what="gkm kernel, training")
        Kn = normalise(K, norm, norm)
        del K
        Kc = 0.0  # the copy-number kernel, added to every (C, gamma)'s
        if self.copies_genome:
            F = copy_features(seqs, self._copies_fit_index())  # a refit takes the files as they are now
            self.copies_mean_, self.copies_scale_, Z = _standardised(F)
            Kc = (self.copies_weight / Z.shape[1]) * (Z @ Z.T)
        if self.motifs is not None:  # the motif kernel, likewise
            self._fit_motifs()
            self.motif_mean_, self.motif_scale_, Zm = _standardised(self._motif_scores(seqs))
            Kc = Kc + (self.motifs_weight / Zm.shape[1]) * (Zm @ Zm.T)
        grid = [(float(C), float(g)) for g in sorted(set(self.gammas)) for C in sorted(set(self.Cs))]

        def svc(Ktr: np.ndarray, ytr: np.ndarray, C: float) -> SVC:
            return SVC(kernel="precomputed", C=C, cache_size=1000).fit(Ktr, ytr)

        scores: dict[tuple[float, float], float] = {}
        oof: dict[tuple[float, float], np.ndarray] = {}  # out-of-fold decision values of each setting
        n_min = int(np.bincount(y).min())
        if n_min >= 2:  # with one setting, the folds only give the out-of-fold values to calibrate on
            folds = list(StratifiedKFold(min(self.cv, n_min), shuffle=True,
                                         random_state=self.random_state).split(y, y))
            for C, g in grid:
                Kg = rbf(Kn, g) + Kc
                f = np.zeros(len(y))
                for tr, va in folds:
                    f[va] = svc(Kg[np.ix_(tr, tr)], y[tr], C).decision_function(Kg[np.ix_(va, tr)])
                scores[C, g] = float(np.mean([roc_auc_score(y[va], f[va]) for _, va in folds]))
                oof[C, g] = f
        # the grid runs gamma then C upwards: ties (up to float noise) go to the smallest gamma, then C
        best = max(grid, key=lambda cg: round(scores[cg], 12)) if scores else grid[0]
        selected_on = (f"{len(folds)}-fold CV" if len(grid) > 1 else "the only setting") if scores else \
            "the first setting (a class has one sequence: no CV)"
        self.C_, self.gamma_ = best
        model = svc(rbf(Kn, self.gamma_) + Kc, y, self.C_)
        self.bias_ = float(model.intercept_[0])
        dual = model.dual_coef_[0].astype(np.float64)  # y_i alpha_i of the support vectors
        support = model.support_
        if self.copies_genome:  # sum_i dual_i w/8 z_i . z(x): linear in z(x)
            self.copies_coef_ = (self.copies_weight / Z.shape[1]) * (dual @ Z[support])
        if self.motifs is not None:
            self.motif_coef_ = (self.motifs_weight / Zm.shape[1]) * (dual @ Zm[support])
        self.n_support_ = int(support.size)
        if self.gamma_ == 0:
            self.weights_ = self._weights([seqs[i] for i in support], dual, norm[support])
        else:
            self.support_ = [seqs[i] for i in support]
            self.dual_, self.support_norm_ = dual, norm[support]
            self._support_enc = None  # another model's support sequences may have been kept
        if on_valid and len(set(yv)) > 1:  # calibrate the final model itself
            self.platt_, self.platt_source_ = _platt(self.decision_function(valid_sequences), yv), "validation"
        elif best in oof:
            self.platt_, self.platt_source_ = _platt(oof[best], y), "out-of-fold"
        else:
            self.platt_, self.platt_source_ = (1.0, 0.0), "none"
        self.scores_ = {f"{C:g},{g:g}": s for (C, g), s in scores.items()}
        self.fit_seconds_ = time.perf_counter() - t0
        if out_dir is not None:
            write_json_atomic(Path(out_dir) / "fit_log.json", {
                "kind": self.kind, "C": self.C_, "gamma": self.gamma_, "scores_by_C_gamma": self.scores_,
                "selected_on": selected_on, "n_support": self.n_support_, "platt": list(self.platt_),
                "platt_source": self.platt_source_, "seconds": self.fit_seconds_})
        return self

    def _batch(self, batch_size: int | None, mean_length: float) -> int:
        """Sequences per scoring batch: ``batch_size``, or what keeps a count matrix near 128 MB and the
        encoded bases near 8 M."""
        return batch_or(batch_size, max(64, min(2**24 // 4**self.k, int(2**23 // max(mean_length, 1.0)))))

    def _weights(self, support: list[str], dual: np.ndarray, norm: np.ndarray) -> np.ndarray:
        """The linear model's weight on every gapped k-mer, float32 (n_shapes, 4**k):
        ``W_s = c_s sum_i dual_i X_s(x_i) / sqrt(K(x_i, x_i))`` over the support sequences x_i
        (``norm``: their K(x_i, x_i))."""
        enc = _Encoded(support)
        root = np.sqrt(norm)
        coef = np.divide(dual, root, out=np.zeros_like(dual), where=root > 0)
        shapes, c = gkm_shapes(self.l, self.k), shape_weights(self.l, self.k)
        return np.stack([cs * (coef @ enc.counts(s, self.half_life)) for s, cs in zip(shapes, c, strict=True)]
                        ).astype(np.float32)

    def _support_encoded(self) -> _Encoded:
        """An RBF model's support sequences, encoded once; their counts are kept (from the first
        scoring batch on) when they need at most ``KEEP_BYTES``, so each later batch only counts its own
        sequences (a scan scores thousands of batches)."""
        if getattr(self, "_support_enc", None) is None:
            need = len(self.support_) * 4**self.k * math.comb(self.l - 1, self.k - 1) * 4
            self._support_enc = _Encoded(self.support_, keep=need <= KEEP_BYTES)
        return self._support_enc

    def _check_fitted(self) -> None:
        if not hasattr(self, "bias_"):
            raise InputError("gkm model is not fitted; call fit() or load a saved model first")

    def decision_function(self, sequences: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """SVM decision values f(x), float64 (n,). Sequences need at least ``l`` bases; one
        without k consecutive A/C/G/T bases scores as the zero vector."""
        self._check_fitted()
        seqs = check_sequences(sequences, "prediction", min_length=self.l)
        step = self._batch(batch_size, np.mean([len(x) for x in seqs]) if seqs else 1.0)
        out = np.empty(len(seqs), dtype=np.float64)
        shapes, c = gkm_shapes(self.l, self.k), shape_weights(self.l, self.k)
        for start in range(0, len(seqs), step):
            part = seqs[start : start + step]
            if self.gamma_ == 0:
                enc = _Encoded(part)
                dot, norm = np.zeros(len(part)), np.zeros(len(part))
                for s, cs, w in zip(shapes, c, self.weights_, strict=True):
                    x = enc.counts(s, self.half_life)  # (b, 4**k)
                    dot += x @ w.astype(np.float64)
                    norm += cs * enc.sq_norms(s, self.half_life, x)
                f = np.divide(dot, np.sqrt(norm), out=np.zeros_like(dot), where=norm > 0)
            else:
                K, norm, _ = self._kernel(part, self._support_encoded())
                f = rbf(normalise(K, norm, self.support_norm_), self.gamma_) @ self.dual_
            if self.copies_genome:
                f = f + self._copies_z(part) @ self.copies_coef_
            if self.motifs is not None:
                f = f + self._motif_z(part) @ self.motif_coef_
            out[start : start + step] = f + self.bias_
        return out

    def predict_proba(self, sequences: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """P(enhancer) = sigmoid(a f(x) + b), float64 (n,); (a, b) fitted on the out-of-fold (or validation)
        decision values of the chosen setting."""
        self._check_fitted()
        a, b = self.platt_
        return 1.0 / (1.0 + np.exp(-(a * self.decision_function(sequences, batch_size=batch_size) + b)))

    def top_gapped_kmers(self, n: int = 20) -> list[tuple[str, float]]:
        """The ``n`` gapped k-mers with the largest |weight| (linear kernel only), as (pattern, weight);
        gaps are ``.``, e.g. ``TG.TT.AC``. A gapped k-mer and its reverse complement share the weight.
        A ``gkm:copies`` model's copy-number term and a ``gkm:motifs`` model's motif term are not among
        them (see ``copies_coef_``, ``motif_coef_``)."""
        self._check_fitted()
        if self.gamma_ != 0:
            raise InputError(f"gkm: gapped k-mer weights need the linear kernel and this model chose the RBF kernel "
                             f"(gamma {self.gamma_:g}); train --model gkm:linear for one")
        if n <= 0:
            return []
        flat = self.weights_.ravel()
        shapes = gkm_shapes(self.l, self.k)
        out, seen = [], set()
        for i in np.argsort(-np.abs(flat), kind="stable"):
            s, code = divmod(int(i), 4**self.k)
            bases = _BASES[(code >> (2 * np.arange(self.k - 1, -1, -1))) & 3]
            pattern = ["."] * (shapes[s][-1] + 1)
            for offset, base in zip(shapes[s], bases, strict=True):
                pattern[offset] = base
            text = "".join(pattern)
            rc = revcomp(text.replace(".", "N")).replace("N", ".")
            if rc in seen:
                continue
            seen.add(text)
            out.append((text, float(flat[i])))
            if len(out) == n:
                break
        return out

    def save(self, directory: str | Path) -> None:
        """Write ``model.json`` and ``weights.safetensors`` (gapped k-mer weights, or support sequences)."""
        self._check_fitted()
        if self.gamma_ == 0:
            arrays = {"weights": self.weights_}
        else:
            lengths = np.fromiter((len(s) for s in self.support_), dtype=np.int64, count=len(self.support_))
            arrays = {"support": np.frombuffer("".join(self.support_).encode("ascii"), dtype=np.uint8),
                      "support_lengths": lengths, "dual": self.dual_, "support_norm": self.support_norm_}
        copies = {}
        if self.copies_genome:
            arrays.update(copies_mean=self.copies_mean_, copies_scale=self.copies_scale_, copies_coef=self.copies_coef_)
            copies = {"copies": {"features": list(FEATURE_NAMES), "genome_digest": self.copies_digest_}}
        if self.motifs is not None:
            arrays.update(self._motif_arrays(), motif_mean=self.motif_mean_, motif_scale=self.motif_scale_,
                          motif_coef=self.motif_coef_)
            copies["motifs"] = self._motif_meta()
        save_arrays(directory, {
            "kind": self.kind, "format_version": FORMAT_VERSION, "params": self.get_params(),
            "C": self.C_, "gamma": self.gamma_, "bias": self.bias_, "platt": list(self.platt_),
            "platt_source": self.platt_source_,
            "n_support": self.n_support_, "scores_by_C_gamma": self.scores_, **copies}, arrays)

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None) -> GkmSVM:
        """Rebuild a model written by :meth:`save`."""
        meta = read_model_json(directory, kind=cls.kind)
        model, w = restore_arrays(cls, directory, meta)
        model.device = device
        needed = {"C", "gamma", "bias", "platt", "n_support"} - set(meta)
        arrays = {"weights"} if float(meta.get("gamma", 0)) == 0 else {"support", "support_lengths", "dual",
                                                                         "support_norm"}
        if model.copies_genome:
            arrays |= {"copies_mean", "copies_scale", "copies_coef"}
        if model.motifs is not None:
            arrays |= {"motif_mean", "motif_scale", "motif_coef"}
        if needed or arrays - set(w):
            raise InputError(f"{directory}: model.json or its weights lack {', '.join(sorted(needed | (arrays - set(w))))}"
                             "; re-save the model")
        model.C_, model.gamma_, model.bias_ = float(meta["C"]), float(meta["gamma"]), float(meta["bias"])
        model.platt_, model.platt_source_ = tuple(float(v) for v in meta["platt"]), meta.get("platt_source", "none")
        model.n_support_, model.scores_ = int(meta["n_support"]), dict(meta.get("scores_by_C_gamma", {}))
        if model.copies_genome:
            model.copies_digest_ = saved_digest(meta, directory)
            model._copies_check_files(directory)
            model.copies_mean_, model.copies_scale_, model.copies_coef_ = _linear_term(
                w, "copies", len(FEATURE_NAMES), f"{directory}: copy-number arrays")
        if model.motifs is not None:
            model._restore_motifs(meta.get("motifs"), w, directory)
            model.motif_mean_, model.motif_scale_, model.motif_coef_ = _linear_term(
                w, "motif", len(model.motif_names_), f"{directory}: motif arrays")
        if model.gamma_ == 0:
            model.weights_ = w["weights"]
            expected = (math.comb(model.l - 1, model.k - 1), 4**model.k)
            if model.weights_.shape != expected:
                raise InputError(f"{directory}: gapped k-mer weights of shape {model.weights_.shape}; "
                                 f"l={model.l}, k={model.k} needs {expected}")
        else:
            text = w["support"].tobytes().decode("ascii")
            n_sv = len(w["support_lengths"])
            if int(w["support_lengths"].sum()) != len(text) or not (len(w["dual"]) == len(w["support_norm"]) == n_sv):
                raise InputError(f"{directory}: the support sequences, their lengths and coefficients do not agree "
                                 f"({len(text)} bases, {int(w['support_lengths'].sum())} by the lengths, {n_sv} "
                                 f"sequences, {len(w['dual'])} coefficients); re-save the model")
            ends = np.cumsum(w["support_lengths"])
            model.support_ = [text[e - n : e] for e, n in zip(ends, w["support_lengths"], strict=True)]
            model.dual_, model.support_norm_ = w["dual"], w["support_norm"]
        return model
