"""Simulated enhancer data in the exact layout of Cohn et al. 2018, plus background genomes.

Nothing here is real biology data; species are called ``SimHuman``, ``SimMouse``, ... so that no
number measured on simulated data is mistaken for a result on a real species. The generator is
built to be *biologically shaped* so that models behave on it roughly as on real enhancer sets:

* **Backgrounds** are order-3 Markov chains, one per species, with their own GC content, CpG
  depletion (observed/expected CpG ≈ 0.2–0.3, as in mammalian genomes), a poly-A/T tract bias and
  species-specific 4-mer preferences (strand symmetric). The opossum-like species is AT-rich.
  Chains are calibrated so that their stationary GC and CpG o/e hit the requested values.
* **Repeats**: each species has soft-masked (lower-case) repeat families — SINE-, LINE- and
  DNA-transposon-like consensus sequences shared by all species but diverged per species, plus a
  species-specific family and micro-satellites — copied with 3–25 % substitutions. Genomes also get
  rare runs of ``N``.
* **Enhancers** (positives) are drawn from a slightly GC-richer, less CpG-depleted chain and carry
  clusters of liver transcription-factor sites sampled from JASPAR matrices (HNF4A, CEBPA, FOXA2,
  HNF1A, ONECUT1, NR2F2, PPARA::RXRA, TEAD1; :mod:`genomic_ulmfit.data.motifs`), on either strand,
  with positions concentrated near the centre. Each species weighs the factors differently (some
  are nearly absent in some species: motif turnover), and has its own site count and spread.
  Counts are over-dispersed and a fraction of enhancers are "weak" (few sites).
* **Negatives** are background sequence with occasional sites at random positions and more
  repeats, so that neither GC nor a single motif separates the classes.

The difficulty is calibrated with a quick proxy: a logistic regression (C = 0.003, standardised
features) on k-mer frequencies (k = 1..5, both strands) at 2,000 sequences per class reaches
AUROC ≈ 0.84–0.88 within a species (4-fold CV) and 0.04–0.06 less, on average, when trained on
another species; a small CNN reaches ≈ 0.85 within SimHuman after 12 epochs. Composition alone
(k <= 2) gives ≈ 0.7, so motifs carry most of the signal.

Layout written by :func:`simulate_cohn_layout`::

    out_dir/SimHuman/positive_samples     one sequence per line, no header
    out_dir/SimHuman/negative_samples
    out_dir/genomes/SimHuman.fa.gz        background genome (a few records), for LM pretraining
    out_dir/simulation.json               parameters and summary
"""

from __future__ import annotations

import gzip
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from genomic_ulmfit.data.motifs import MOTIF_NAMES, MOTIFS, reverse_complement_codes, sample_sites
from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.utils import atomic_path, check_seed, write_json_atomic

ORDER = 3  # Markov order of the backgrounds
N_CONTEXTS = 4**ORDER
_LETTERS = np.frombuffer(b"ACGTacgt", dtype=np.uint8)
_GC_BASE = np.array([0.0, 1.0, 1.0, 0.0])  # A C G T

SPECIES_NAMES: tuple[str, ...] = (
    "SimHuman", "SimMouse", "SimDog", "SimOpossum", "SimCow", "SimRat",
    "SimMacaque", "SimPig", "SimCat", "SimHorse", "SimRabbit", "SimMarmoset",
)  # fmt: skip


@dataclass(frozen=True)
class SpeciesParams:
    """Generative parameters of one simulated species.

    Attributes
    ----------
    name : str
        Species name (``Sim...``).
    gc, cpg_oe : float
        GC fraction and CpG observed/expected ratio of the background chain.
    enhancer_gc, enhancer_cpg_oe : float
        The same for the chain that enhancer sequence is drawn from.
    motif_weights : dict[str, float]
        Relative use of each motif in enhancers (normalised when sampling).
    sites_per_enhancer : float
        Mean number of planted sites per enhancer (over-dispersed, see ``dispersion``).
    site_spread : float
        Standard deviation (bp) of site centres around the enhancer centre.
    weak_fraction : float
        Fraction of enhancers with only ``weak_scale`` times the usual number of sites.
    sites_per_negative : float
        Mean number of sites at random positions in a negative sequence.
    repeat_fraction : float
        Fraction of the background genome in soft-masked repeats.
    repeat_prob_positive, repeat_prob_negative : float
        Probability that a positive / negative sequence holds one repeat fragment.
    exapted_fraction : float
        Fraction of enhancers built on a copy of the species' own repeat family (which carries
        two of its favourite sites): lineage-specific, transposon-derived enhancers.
    kmer_sigma : float
        Strength (log scale) of the species' own 4-mer preferences.
    context_seed : int
        Fixed seed for those preferences and the species' repeat families.
    """

    name: str
    gc: float
    cpg_oe: float
    enhancer_gc: float
    enhancer_cpg_oe: float
    motif_weights: dict[str, float] = field(default_factory=dict)
    sites_per_enhancer: float = 4.0
    site_spread: float = 80.0
    weak_fraction: float = 0.15
    weak_scale: float = 0.15
    dispersion: float = 3.0
    sites_per_negative: float = 0.6
    repeat_fraction: float = 0.2
    repeat_prob_positive: float = 0.1
    repeat_prob_negative: float = 0.3
    exapted_fraction: float = 0.12
    kmer_sigma: float = 0.15
    context_seed: int = 0


def _weights(**w: float) -> dict[str, float]:
    out = dict.fromkeys(MOTIF_NAMES, 0.0)
    out.update({k.replace("PPARA_RXRA", "PPARA::RXRA"): v for k, v in w.items()})
    return out


# Ancestral motif usage; later species (index >= 4) perturb it.
_ANCESTRAL_WEIGHTS = _weights(HNF4A=1.0, CEBPA=0.9, FOXA2=0.9, HNF1A=0.6, ONECUT1=0.4, NR2F2=0.3,
                              PPARA_RXRA=0.2, TEAD1=0.3)  # fmt: skip

# Calibrated (see the module docstring): k-mer logistic regression AUROC ~0.84-0.88 within a species.
_PRESETS: dict[str, SpeciesParams] = {
    "SimHuman": SpeciesParams(
        "SimHuman", gc=0.41, cpg_oe=0.24, enhancer_gc=0.435, enhancer_cpg_oe=0.29,
        motif_weights=_weights(HNF4A=1.5, CEBPA=0.8, FOXA2=0.6, HNF1A=0.6, ONECUT1=0.4,
                               NR2F2=0.03, PPARA_RXRA=0.2, TEAD1=0.6),
        sites_per_enhancer=8.0, site_spread=75.0, context_seed=101,
    ),
    "SimMouse": SpeciesParams(
        "SimMouse", gc=0.42, cpg_oe=0.21, enhancer_gc=0.445, enhancer_cpg_oe=0.26,
        motif_weights=_weights(HNF4A=1.0, CEBPA=1.0, FOXA2=1.4, HNF1A=0.5, ONECUT1=0.03,
                               NR2F2=0.3, PPARA_RXRA=0.35, TEAD1=0.1),
        sites_per_enhancer=8.0, site_spread=90.0, context_seed=102,
    ),
    "SimDog": SpeciesParams(
        "SimDog", gc=0.43, cpg_oe=0.28, enhancer_gc=0.455, enhancer_cpg_oe=0.33,
        motif_weights=_weights(HNF4A=0.9, CEBPA=1.5, FOXA2=0.6, HNF1A=0.03, ONECUT1=0.5,
                               NR2F2=0.2, PPARA_RXRA=0.2, TEAD1=0.5),
        sites_per_enhancer=8.3, site_spread=60.0, context_seed=103,
    ),
    "SimOpossum": SpeciesParams(
        "SimOpossum", gc=0.38, cpg_oe=0.20, enhancer_gc=0.41, enhancer_cpg_oe=0.25,
        motif_weights=_weights(HNF4A=0.7, CEBPA=0.03, FOXA2=1.0, HNF1A=1.2, ONECUT1=1.0,
                               NR2F2=0.4, PPARA_RXRA=0.1, TEAD1=0.3),
        sites_per_enhancer=8.7, site_spread=100.0, repeat_fraction=0.3, context_seed=104,
    ),
}  # fmt: skip


def species_params(which: int | str) -> SpeciesParams:
    """Parameters of a simulated species by index (0-based) or name.

    The first four (SimHuman, SimMouse, SimDog, SimOpossum) are hand-set presets; later species
    are drawn from a fixed generator, so a species is the same whatever the sample seed.
    """
    if isinstance(which, str):
        if which not in SPECIES_NAMES:
            raise ConfigError(f"unknown simulated species {which!r}; known: {', '.join(SPECIES_NAMES)}")
        which = SPECIES_NAMES.index(which)
    if not 0 <= which < len(SPECIES_NAMES):
        raise ConfigError(f"species index {which} out of range; use 0..{len(SPECIES_NAMES) - 1}")
    name = SPECIES_NAMES[which]
    if name in _PRESETS:
        return _PRESETS[name]
    rng = np.random.default_rng([7919, which])
    base = _ANCESTRAL_WEIGHTS
    weights = {m: float(w * rng.lognormal(0.0, 0.5)) for m, w in base.items()}
    weights[MOTIF_NAMES[int(rng.integers(len(MOTIF_NAMES)))]] *= 0.03  # one factor nearly lost
    gc = float(rng.uniform(0.395, 0.44))
    cpg = float(rng.uniform(0.2, 0.3))
    return SpeciesParams(
        name,
        gc=round(gc, 3),
        cpg_oe=round(cpg, 3),
        enhancer_gc=round(gc + rng.uniform(0.03, 0.045), 3),
        enhancer_cpg_oe=round(cpg + rng.uniform(0.04, 0.07), 3),
        motif_weights=weights,
        sites_per_enhancer=float(rng.uniform(7.5, 8.7)),
        site_spread=float(rng.uniform(60, 100)),
        repeat_fraction=float(rng.uniform(0.15, 0.3)),
        context_seed=100 + which + 1,
    )


# ----------------------------------------------------------------------------- Markov backgrounds
def _revcomp_index(n_bases: int) -> np.ndarray:
    """Index of the reverse complement of every n-mer (n-mers as base-4 numbers), shape (4**n,)."""
    idx = np.arange(4**n_bases)
    digits = [(idx >> (2 * (n_bases - 1 - j))) & 3 for j in range(n_bases)]
    rc = np.zeros_like(idx)
    for d in reversed(digits):
        rc = rc * 4 + (3 - d)
    return rc


def _kmer_preferences(params: SpeciesParams) -> np.ndarray:
    """Log preferences of the 4-mers (context + next base), shape (256,), strand symmetric.

    A component shared by all species (seed 0), a species-specific one (``context_seed``) and a
    bonus for homopolymer runs (poly-A/T tracts are over-represented in mammalian genomes).
    """
    rc = _revcomp_index(ORDER + 1)
    shared = np.random.default_rng(0).normal(0.0, 0.25, 4 ** (ORDER + 1))
    own = np.random.default_rng(params.context_seed).normal(0.0, params.kmer_sigma, 4 ** (ORDER + 1))
    idx = np.arange(4 ** (ORDER + 1))
    same_last = ((idx >> 2) & 3) == (idx & 3)
    same_run = same_last & (((idx >> 4) & 3) == (idx & 3))
    pref = shared + own + 0.15 * same_last + 0.2 * same_run
    return (pref + pref[rc]) / 2  # strand symmetric


def _stationary(trans: np.ndarray) -> np.ndarray:
    """Stationary distribution of the context chain defined by ``trans`` (64, 4), shape (64,)."""
    nxt = (np.arange(N_CONTEXTS)[:, None] * 4 + np.arange(4)[None, :]) % N_CONTEXTS  # (64, 4)
    P = np.zeros((N_CONTEXTS, N_CONTEXTS))
    P[np.repeat(np.arange(N_CONTEXTS), 4), nxt.ravel()] = trans.ravel()  # context → context
    # Solve pi (P - I) = 0 with sum(pi) = 1 (replace one equation by the normalisation).
    A = P.T - np.eye(N_CONTEXTS)
    A[-1] = 1.0
    b = np.zeros(N_CONTEXTS)
    b[-1] = 1.0
    return np.linalg.solve(A, b)


def _chain_stats(trans: np.ndarray) -> tuple[float, float, np.ndarray]:
    """GC fraction, CpG observed/expected and the stationary context distribution of a chain."""
    pi = _stationary(trans)
    last = np.arange(N_CONTEXTS) & 3
    f_c = pi[last == 1].sum()
    f_g = pi[last == 2].sum()
    f_cg = (pi[last == 1] * trans[last == 1, 2]).sum()
    return float(f_c + f_g), float(f_cg / (f_c * f_g)), pi


def markov_chain(params: SpeciesParams, *, enhancer: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Order-3 transition probabilities calibrated to the species' GC and CpG o/e.

    Parameters
    ----------
    params : SpeciesParams
        The species.
    enhancer : bool, default False
        Use ``enhancer_gc``/``enhancer_cpg_oe`` instead of the background values.

    Returns
    -------
    (trans, init): np.ndarray of shape (64, 4), rows P(next base | previous 3 bases), and the
    stationary distribution of 3-base contexts, shape (64,).
    """
    target_gc = params.enhancer_gc if enhancer else params.gc
    target_oe = params.enhancer_cpg_oe if enhancer else params.cpg_oe
    pref = _kmer_preferences(params).reshape(N_CONTEXTS, 4)
    is_cg = np.zeros((N_CONTEXTS, 4), dtype=bool)
    is_cg[(np.arange(N_CONTEXTS) & 3) == 1, 2] = True
    log_gc, log_cpg = 0.0, math.log(target_oe)
    for _ in range(60):
        logits = pref + log_gc * _GC_BASE[None, :] + log_cpg * is_cg
        trans = np.exp(logits - logits.max(axis=1, keepdims=True))
        trans /= trans.sum(axis=1, keepdims=True)
        gc, oe, pi = _chain_stats(trans)
        err_gc = math.log(target_gc / (1 - target_gc)) - math.log(gc / (1 - gc))
        err_oe = math.log(target_oe / oe)
        if abs(err_gc) < 1e-6 and abs(err_oe) < 1e-6:
            break
        log_gc += err_gc
        log_cpg += err_oe
    return trans, pi


def sample_markov(
    trans: np.ndarray, init: np.ndarray, n: int, length: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``n`` independent sequences from an order-3 chain, vectorized over sequences.

    Parameters
    ----------
    trans : np.ndarray, shape (64, 4)
        Transition probabilities from :func:`markov_chain`.
    init : np.ndarray, shape (64,)
        Distribution of the first 3 bases (the stationary one).
    n, length : int
        Number and length of sequences.
    rng : np.random.Generator
        Source of randomness.

    Returns
    -------
    np.ndarray of uint8, shape (n, length), base codes 0..3.
    """
    out = np.empty((length, n), dtype=np.uint8)  # time-major: each step writes one row
    state = rng.choice(N_CONTEXTS, size=n, p=init / init.sum())
    for j in range(min(ORDER, length)):
        out[j] = (state >> (2 * (ORDER - 1 - j))) & 3
    cum = np.cumsum(trans, axis=1)[:, :3]  # (64, 3)
    u = rng.random((max(0, length - ORDER), n, 1), dtype=np.float32)
    for t in range(ORDER, length):
        x = (u[t - ORDER] > cum[state]).sum(axis=1)  # (n,)
        out[t] = x
        state = ((state << 2) | x) & (N_CONTEXTS - 1)
    return np.ascontiguousarray(out.T)


# ----------------------------------------------------------------------------- repeats
@dataclass(frozen=True)
class RepeatFamily:
    """A repeat consensus (base codes) and how its copies look."""

    name: str
    consensus: np.ndarray  # (L,) uint8
    weight: float  # share of repeat copies
    full_length_prob: float  # chance that a copy is complete (else a 3' fragment)


def _deplete_cpg(seq: np.ndarray, prob: float, rng: np.random.Generator) -> np.ndarray:
    """Turn each CpG into TpG or CpA with probability ``prob`` (methyl-cytosine deamination)."""
    seq = seq.astype(np.uint8).copy()
    cg = np.flatnonzero((seq[:-1] == 1) & (seq[1:] == 2) & (rng.random(seq.size - 1) < prob))
    top = rng.random(cg.size) < 0.5
    seq[cg[top]] = 3  # C→T on this strand
    seq[cg[~top] + 1] = 0  # G→A (C→T on the other strand)
    return seq


def repeat_families(params: SpeciesParams) -> list[RepeatFamily]:
    """The species' repeat families: three shared (diverged per species), one own, micro-satellites."""
    anc = np.random.default_rng(12345)
    own = np.random.default_rng([params.context_seed, 1])

    def diverge(seq: np.ndarray, rate: float) -> np.ndarray:
        seq = seq.copy()
        hit = own.random(seq.size) < rate
        seq[hit] = (seq[hit] + own.integers(1, 4, hit.sum())) % 4
        return _deplete_cpg(seq, 0.7, own)

    # SINE-like: GC-rich body ending in an A-rich tail (Alu/B1-like shape).
    sine = np.concatenate(
        [anc.choice(4, 260, p=[0.2, 0.3, 0.3, 0.2]), anc.choice(4, 30, p=[0.85, 0.05, 0.05, 0.05])]
    )
    line = anc.choice(4, 900, p=[0.32, 0.18, 0.18, 0.32])  # LINE-like, AT-rich
    dna_tp = anc.choice(4, 220, p=[0.28, 0.22, 0.22, 0.28])  # DNA transposon-like
    own_family = _deplete_cpg(
        own.choice(4, int(own.integers(150, 400)), p=[0.27, 0.23, 0.23, 0.27]), 0.7, own
    )
    # The species' own family carries sites of its two favourite factors (TE-borne binding sites).
    w = _motif_weight_vector(params)
    for m, at in zip(np.argsort(-w)[:2], (0.3, 0.6), strict=True):
        site = sample_sites(MOTIFS[MOTIF_NAMES[m]], 1, own)[0]
        start = int(at * own_family.size)
        own_family[start : start + site.size] = site[: own_family.size - start]
    unit = own.choice(4, int(own.integers(2, 5)))
    micro = np.tile(unit, 60 // unit.size + 1)[:60]
    ca = np.tile(np.array([1, 0], dtype=np.int64), 30)  # (CA)n, shared
    return [
        RepeatFamily("SimSINE", diverge(sine, 0.08).astype(np.uint8), 0.4, 0.6),
        RepeatFamily("SimLINE", diverge(line, 0.1).astype(np.uint8), 0.25, 0.1),
        RepeatFamily("SimDNA", diverge(dna_tp, 0.12).astype(np.uint8), 0.12, 0.5),
        RepeatFamily(f"{params.name}Rep1", own_family.astype(np.uint8), 0.15, 0.5),
        RepeatFamily("(CA)n", ca.astype(np.uint8), 0.04, 1.0),
        RepeatFamily("microsat", micro.astype(np.uint8), 0.04, 1.0),
    ]


def _repeat_copy(families: list[RepeatFamily], rng: np.random.Generator, max_len: int) -> np.ndarray:
    """One diverged copy (or fragment) of a randomly chosen family, on a random strand, (L,) uint8."""
    w = np.array([f.weight for f in families])
    fam = families[int(rng.choice(len(families), p=w / w.sum()))]
    cons = fam.consensus
    if rng.random() >= fam.full_length_prob and cons.size > 40:
        frag = int(rng.integers(40, cons.size))
        cons = cons[cons.size - frag :]  # 3' fragments, like 5'-truncated retrotransposons
    cons = cons[:max_len]
    seq = cons.copy()
    hit = rng.random(seq.size) < rng.uniform(0.03, 0.25)
    seq[hit] = (seq[hit] + rng.integers(1, 4, hit.sum())) % 4
    return reverse_complement_codes(seq) if rng.random() < 0.5 else seq


def _add_repeat_fragments(
    codes: np.ndarray,
    lower: np.ndarray,
    prob: float,
    families: list[RepeatFamily],
    rng: np.random.Generator,
    *,
    centre_sd: float | None = None,
) -> None:
    """With probability ``prob`` per row, overwrite a stretch with a lower-case repeat copy.

    The copy starts uniformly at random, or is centred near the middle (normal with standard
    deviation ``centre_sd`` bp) when ``centre_sd`` is given.
    """
    length = codes.shape[1]
    for row in np.flatnonzero(rng.random(codes.shape[0]) < prob):
        rep = _repeat_copy(families, rng, max_len=min(300, length))
        if centre_sd is None:
            start = int(rng.integers(0, length - rep.size + 1))
        else:
            start = int(np.clip(rng.normal(length / 2, centre_sd) - rep.size / 2, 0, length - rep.size))
        codes[row, start : start + rep.size] = rep
        lower[row, start : start + rep.size] = True


# ----------------------------------------------------------------------------- motif planting
def _plant_sites(
    codes: np.ndarray,
    lower: np.ndarray,
    counts: np.ndarray,
    weights: np.ndarray,
    rng: np.random.Generator,
    *,
    centre_sd: float | None,
) -> np.ndarray:
    """Plant ``counts[i]`` sites into row ``i`` of ``codes`` (in place); returns per-motif counts (n, M).

    Motifs are drawn with probabilities ``weights`` (M,); positions are normal around the centre
    with standard deviation ``centre_sd`` (bp), or uniform when ``centre_sd`` is None.
    """
    n, length = codes.shape
    total = int(counts.sum())
    per_motif = np.zeros((n, len(MOTIF_NAMES)), dtype=np.int64)
    if total == 0:
        return per_motif
    rows = np.repeat(np.arange(n), counts)
    which = rng.choice(len(MOTIF_NAMES), size=total, p=weights / weights.sum())
    np.add.at(per_motif, (rows, which), 1)
    centre_u = (
        rng.uniform(0, length, total) if centre_sd is None else rng.normal(length / 2, centre_sd, total)
    )
    strands = rng.random(total) < 0.5
    for m, name in enumerate(MOTIF_NAMES):
        sel = which == m
        if not sel.any():
            continue
        motif = MOTIFS[name]
        sites = sample_sites(motif, int(sel.sum()), rng)  # (k, L_m)
        rc = strands[sel]
        sites[rc] = reverse_complement_codes(sites[rc])
        starts = np.clip(np.rint(centre_u[sel] - motif.length / 2), 0, length - motif.length).astype(np.int64)
        cols = starts[:, None] + np.arange(motif.length)[None, :]
        codes[rows[sel][:, None], cols] = sites
        lower[rows[sel][:, None], cols] = False
    return per_motif


def _motif_weight_vector(params: SpeciesParams) -> np.ndarray:
    return np.array([params.motif_weights.get(m, 0.0) for m in MOTIF_NAMES], dtype=np.float64)


def simulate_enhancers(
    params: SpeciesParams,
    n: int,
    length: int,
    rng: np.random.Generator,
    *,
    chains: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` enhancer sequences: GC-richer background, repeats, clustered motif sites.

    Parameters
    ----------
    params : SpeciesParams
        The species (see :func:`species_params`).
    n, length : int
        Number and length (bp) of sequences.
    rng : np.random.Generator
        Source of randomness.
    chains : (trans, init), optional
        A precomputed ``markov_chain(params, enhancer=True)``.

    Returns
    -------
    (codes, lower, sites): uint8 (n, length) base codes 0..3, bool (n, length) soft-mask, and
    int64 (n, M) planted sites per motif (M = len(MOTIF_NAMES), in that order).
    """
    trans, init = chains or markov_chain(params, enhancer=True)
    codes = sample_markov(trans, init, n, length, rng)
    lower = np.zeros_like(codes, dtype=bool)
    families = repeat_families(params)
    _add_repeat_fragments(codes, lower, params.repeat_prob_positive, families, rng)
    own = [f for f in families if f.name == f"{params.name}Rep1"]
    _add_repeat_fragments(codes, lower, params.exapted_fraction, own, rng, centre_sd=params.site_spread / 2)
    shape = params.dispersion
    rate = params.sites_per_enhancer * rng.gamma(shape, 1 / shape, n)
    rate[rng.random(n) < params.weak_fraction] *= params.weak_scale
    counts = rng.poisson(rate)
    sites = _plant_sites(
        codes, lower, counts, _motif_weight_vector(params), rng, centre_sd=params.site_spread
    )
    return codes, lower, sites


def simulate_negatives(
    params: SpeciesParams,
    n: int,
    length: int,
    rng: np.random.Generator,
    *,
    chains: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` non-enhancer (background) sequences; arguments and returns as
    :func:`simulate_enhancers` (``chains`` = ``markov_chain(params)``).

    Negatives hold more repeat fragments, and a few sites (``sites_per_negative`` on average) at
    uniform positions, drawn from an even mix of the species' motif usage and a uniform one.
    """
    trans, init = chains or markov_chain(params)
    codes = sample_markov(trans, init, n, length, rng)
    lower = np.zeros_like(codes, dtype=bool)
    _add_repeat_fragments(codes, lower, params.repeat_prob_negative, repeat_families(params), rng)
    w = _motif_weight_vector(params)
    w = 0.5 * w / w.sum() + 0.5 / w.size
    counts = rng.poisson(params.sites_per_negative, n)
    sites = _plant_sites(codes, lower, counts, w, rng, centre_sd=None)
    return codes, lower, sites


def _to_strings(codes: np.ndarray, lower: np.ndarray) -> list[str]:
    """Rows of codes (n, L) as strings, lower case where ``lower``."""
    letters = _LETTERS[codes + 4 * lower.astype(np.uint8)]
    length = codes.shape[1]
    flat = letters.tobytes().decode("ascii")
    return [flat[i * length : (i + 1) * length] for i in range(codes.shape[0])]


# ----------------------------------------------------------------------------- genomes
def simulate_genome(params: SpeciesParams, length: int, rng: np.random.Generator) -> str:
    """A background "genome" string for a species: Markov background, soft-masked repeats
    (about ``repeat_fraction``), enhancer-like elements (one per ~20 kb) and rare N runs.

    Parameters
    ----------
    params : SpeciesParams
        The species (see :func:`species_params`).
    length : int
        Number of bases.
    rng : np.random.Generator
        Source of randomness.

    Returns
    -------
    str of ``length`` characters from ``ACGTacgtN``.
    """
    if length <= 0:
        return ""
    trans, init = markov_chain(params)
    # Sample sqrt(length) chunks in parallel; chunk seams are not Markov-consistent (3 bases).
    chunk = max(ORDER + 1, math.isqrt(length))
    n_chunks = -(-length // chunk)
    codes = sample_markov(trans, init, n_chunks, chunk, rng).reshape(-1)[:length].copy()
    lower = np.zeros(length, dtype=bool)

    # Enhancer-like elements (unlabelled: for the language model to see motif grammar).
    n_enh = rng.poisson(length / 20_000) if length >= 2_000 else 0
    if n_enh:
        e_codes, e_lower, _ = simulate_enhancers(params, n_enh, 500 if length >= 5_000 else 100, rng)
        for i, pos in enumerate(rng.integers(0, length - e_codes.shape[1] + 1, n_enh)):
            codes[pos : pos + e_codes.shape[1]] = e_codes[i]
            lower[pos : pos + e_codes.shape[1]] = e_lower[i]

    # Repeats until the soft-masked share reaches repeat_fraction.
    families = repeat_families(params)
    target = params.repeat_fraction * length
    masked = 0
    while masked < target:
        rep = _repeat_copy(families, rng, max_len=length)
        pos = int(rng.integers(0, length - rep.size + 1))
        masked += int(rep.size - lower[pos : pos + rep.size].sum())
        codes[pos : pos + rep.size] = rep
        lower[pos : pos + rep.size] = True

    letters = _LETTERS[codes + 4 * lower.astype(np.uint8)]
    # Rare assembly gaps.
    for _ in range(rng.poisson(length / 300_000)):
        run = int(min(length, rng.integers(100, 3_000)))
        pos = int(rng.integers(0, length - run + 1))
        letters[pos : pos + run] = ord("N")
    return letters.tobytes().decode("ascii")


def _write_fasta_gz(path: Path, records: list[tuple[str, str]], width: int = 60) -> None:
    """Write (header, sequence) records as gzipped FASTA, byte-identical for identical input."""
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
            for header, seq in records:
                gz.write(f">{header}\n".encode())
                lines = [seq[i : i + width] for i in range(0, len(seq), width)]
                gz.write(("\n".join(lines) + "\n").encode("ascii"))


def _write_lines(path: Path, sequences: list[str]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(("\n".join(sequences) + "\n").encode("ascii"))


# ----------------------------------------------------------------------------- the layout
def _check_nothing_stale(out: Path, names: list[str], write_genomes: bool) -> None:
    """Refuse an ``out`` holding species folders or genomes this simulation would not replace.

    Importing the folder (or pretraining on its genomes) would silently mix them in.
    """
    if not out.is_dir():
        return
    stale = [f"{d.name}/" for d in sorted(out.iterdir())
             if d.is_dir() and d.name not in names and any((d / f).exists() for f in ("positive_samples", "negative_samples"))]
    keep = {f"{n}.fa.gz" for n in names} if write_genomes else set()
    stale += [f"genomes/{g.name}" for g in sorted((out / "genomes").glob("*.fa.gz")) if g.name not in keep]
    if stale:
        shown = ", ".join(stale[:4]) + (f" and {len(stale) - 4} more" if len(stale) > 4 else "")
        raise ConfigError(f"{out} already holds {shown} from an earlier simulation, which this one would not "
                          "replace (importing the folder would mix them in); give an empty or new folder")


def simulate_cohn_layout(
    out_dir: str | Path,
    n_species: int = 4,
    per_class: int = 2000,
    length: int = 500,
    seed: int = 0,
    genome_length: int = 1_000_000,
    write_genomes: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Write a simulated data set in the layout of Cohn et al. 2018 and return its summary.

    Parameters
    ----------
    out_dir : str or Path
        Output directory (created; existing files of the same names are replaced).
    n_species : int, default 4
        Number of species, taken in order from :data:`SPECIES_NAMES`.
    per_class : int, default 2000
        Positive and negative sequences per species.
    length : int, default 500
        Sequence length (bp), at least 50.
    seed : int, default 0
        Seed; the same seed gives byte-identical files. Species ``i`` draws its positives,
        negatives and genome from ``default_rng([seed, i, 0|1|2])``, so adding species or
        skipping genomes leaves the other files unchanged.
    genome_length : int, default 1_000_000
        Bases of each background genome (split into up to three records).
    write_genomes : bool, default True
        Also write ``genomes/<Species>.fa.gz``.
    progress : bool, default False
        Show a rich progress bar.

    Returns
    -------
    dict (JSON-able), also written to ``out_dir/simulation.json``.
    """
    if (
        isinstance(n_species, bool)
        or not isinstance(n_species, int)
        or not 1 <= n_species <= len(SPECIES_NAMES)
    ):
        raise ConfigError(f"number of species (--species) {n_species!r} is not allowed; use 1 to {len(SPECIES_NAMES)}")
    if not isinstance(per_class, int) or per_class < 1:
        raise ConfigError(f"sequences per class (--per-class) {per_class!r} is not allowed; use a positive integer")
    if not isinstance(length, int) or length < 50:
        raise ConfigError(f"sequence length (--length) {length!r} is too short; use at least 50 bp")
    check_seed(seed)
    if write_genomes and (not isinstance(genome_length, int) or genome_length < 1_000):
        raise ConfigError(f"genome length (--genome-length) {genome_length!r} is too short; use at least 1000 bp")
    out = Path(out_dir)
    species = [species_params(i) for i in range(n_species)]
    _check_nothing_stale(out, [sp.name for sp in species], write_genomes)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "generator": "genomic_ulmfit.data.simulate.simulate_cohn_layout",
        "note": "SIMULATED data: species names are fictitious (Sim*); do not report results as real species",
        "parameters": {
            "n_species": n_species,
            "per_class": per_class,
            "length": length,
            "seed": seed,
            "genome_length": genome_length if write_genomes else None,
            "write_genomes": write_genomes,
        },
        "motifs": {name: MOTIFS[name].jaspar_id for name in MOTIF_NAMES},
        "species": {},
    }

    tasks = n_species * (3 if write_genomes else 2)
    bar, task = _progress(progress, tasks)
    try:
        for i, sp in enumerate(species):
            sp_dir = out / sp.name
            sp_dir.mkdir(exist_ok=True)
            pos_c, pos_l, pos_sites = simulate_enhancers(
                sp, per_class, length, np.random.default_rng([seed, i, 0])
            )
            _write_lines(sp_dir / "positive_samples", _to_strings(pos_c, pos_l))
            _advance(bar, task)
            neg_c, neg_l, neg_sites = simulate_negatives(
                sp, per_class, length, np.random.default_rng([seed, i, 1])
            )
            _write_lines(sp_dir / "negative_samples", _to_strings(neg_c, neg_l))
            _advance(bar, task)
            entry: dict[str, Any] = {
                "params": asdict(replace(sp, motif_weights=dict(sp.motif_weights))),
                "counts": {"positive": per_class, "negative": per_class},
                "paths": {
                    "positive_samples": f"{sp.name}/positive_samples",
                    "negative_samples": f"{sp.name}/negative_samples",
                },
                "observed": {
                    "gc_positive": round(float(np.isin(pos_c, (1, 2)).mean()), 4),
                    "gc_negative": round(float(np.isin(neg_c, (1, 2)).mean()), 4),
                    "soft_masked_positive": round(float(pos_l.mean()), 4),
                    "soft_masked_negative": round(float(neg_l.mean()), 4),
                    "sites_per_positive": round(float(pos_sites.sum(1).mean()), 3),
                    "sites_per_negative": round(float(neg_sites.sum(1).mean()), 3),
                    "positives_with_at_most_one_site": round(float((pos_sites.sum(1) <= 1).mean()), 4),
                },
                "motif_usage": {
                    name: {"positive": int(pos_sites[:, m].sum()), "negative": int(neg_sites[:, m].sum())}
                    for m, name in enumerate(MOTIF_NAMES)
                },
            }
            if write_genomes:
                g_rng = np.random.default_rng([seed, i, 2])
                records = []
                for r, rec_len in enumerate(_record_lengths(genome_length)):
                    seq = simulate_genome(sp, rec_len, g_rng)
                    header = (
                        f"simchr{r + 1} {sp.name} simulated background genome (genomic-ulmfit, seed={seed})"
                    )
                    records.append((f"simchr{r + 1}", header, seq))
                path = out / "genomes" / f"{sp.name}.fa.gz"
                _write_fasta_gz(path, [(h, s) for _, h, s in records])
                entry["paths"]["genome"] = f"genomes/{sp.name}.fa.gz"
                entry["genome"] = {
                    "records": {name: len(s) for name, _, s in records},
                    "soft_masked": round(_fraction_lower([s for _, _, s in records]), 4),
                }
                _advance(bar, task)
            summary["species"][sp.name] = entry
    finally:
        if bar is not None:
            bar.stop()
    summary["out_dir"] = str(out.resolve())
    write_json_atomic(out / "simulation.json", summary)
    return summary


def _fraction_lower(seqs: list[str]) -> float:
    """Fraction of lower-case (soft-masked) characters in ``seqs``."""
    raw = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)
    return float((raw >= ord("a")).mean()) if raw.size else 0.0


def _record_lengths(total: int) -> list[int]:
    """Split a genome of ``total`` bases into up to three records (50 %, 30 %, 20 %)."""
    if total < 30_000:
        return [total]
    a, b = total // 2, (total * 3) // 10
    return [a, b, total - a - b]


def _progress(enabled: bool, total: int):
    if not enabled:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar.start()
    return bar, bar.add_task("simulate", total=total)


def _advance(bar, task) -> None:
    if bar is not None:
        bar.advance(task)
