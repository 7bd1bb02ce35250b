"""The model names the CLI, the benchmarks and :func:`~genomic_ulmfit.models.estimators.model_from_name`
accept, with their variants: one table, so a new variant is added in one place.

A name is ``model`` or ``model:variant``. Most variants set the model itself (``cnn:cohn``,
``gkm:linear``); ULMFiT's *encoder* variants (:data:`ENCODER_VARIANTS`) instead choose which
encoder its classifier starts from, which :func:`~genomic_ulmfit.evaluation.benchmark.fit_for`
resolves. This module imports nothing heavy, so the CLI can use it for its help text.
"""

from __future__ import annotations

VARIANTS: dict[str, dict[str, str]] = {
    "kmer": {
        "": "k-mer spectrum logistic regression",
        "copies": "with the genome copy numbers of its 20-mers (repeat content; needs --copies-genome)",
        "motifs": "with the best score of each JASPAR 2024 vertebrate motif (879; needs pyjaspar to fit)",
        "copies+motifs": "with both",
    },
    "cnn": {
        "": "the preset's architecture",
        "cohn": "Cohn et al. 2018",
        "modern": "dilated residual, RC-symmetric",
    },
    "ulmfit": {
        "": "genome-pretrained LM (--lm) fine-tuned on the training sequences",
        "scratch": "no genome pretraining: LM trained on the training sequences only",
        "noft": "genome-pretrained LM without fine-tuning",
        "nolm": "no language model at all: random encoder",
        "comp": "as the default, with the composition head (mean input embedding)",
    },
    "gkm": {
        "": "gapped k-mer kernel SVM (native, l=8, k=5)",
        "linear": "its linear kernel only: ~6x faster scoring (genome scans), gapped k-mer weights",
        "copies": "plus a kernel on the genome copy numbers of its 20-mers (needs --copies-genome)",
        "motifs": "plus a kernel on the best score of each JASPAR 2024 vertebrate motif",
        "copies+motifs": "with both",
    },
    "gkmsvm": {"": "gapped k-mer SVM (gkmsvm-lite)"},
}

ENCODER_VARIANTS = ("scratch", "noft", "nolm")
"""ULMFiT variants that choose its encoder rather than set the model."""

WITHOUT_GENOME_LM = ("scratch", "nolm")
"""ULMFiT variants that never read the genome LM (``scratch`` trains its own, ``nolm`` has none)."""


def split_name(name: str) -> tuple[str, str]:
    """``"cnn:cohn"`` → ``("cnn", "cohn")``; ``"kmer"`` → ``("kmer", "")``."""
    base, _, variant = name.partition(":")
    return base, variant


def model_variants(base: str) -> tuple[str, ...]:
    """The variants of ``base`` that set the model itself (not ULMFiT's encoder variants)."""
    return tuple(v for v in VARIANTS.get(base, {}) if v and v not in ENCODER_VARIANTS)


def known_names() -> list[str]:
    """Every accepted name, variants included: ``kmer, cnn, cnn:cohn, …``."""
    return [f"{base}:{v}" if v else base for base, variants in VARIANTS.items() for v in variants]


def names_help(encoder_variants: bool = True) -> str:
    """The names for a help text: ``kmer, cnn[:cohn|:modern], …, gkmsvm``; without
    ``encoder_variants`` only the variants that set the model itself (what ``train --model`` takes)."""
    parts = []
    for base, variants in VARIANTS.items():
        shown = variants if encoder_variants else ("", *model_variants(base))
        extra = "|".join(f":{v}" for v in shown if v)
        parts.append(f"{base}[{extra}]" if extra else base)
    return ", ".join(parts)


def variant_parts(name: str) -> set[str]:
    """The parts of a model name's variant joined by ``+``: ``"kmer:copies+motifs"`` → ``{"copies", "motifs"}``."""
    return set(filter(None, split_name(name)[1].split("+")))


def uses_copies_genome(name: str) -> bool:
    """Whether the model ``name`` reads genome FASTA files for k-mer copy numbers (``--copies-genome``)."""
    return split_name(name)[0] in ("kmer", "gkm") and "copies" in variant_parts(name)


def uses_motifs(name: str) -> bool:
    """Whether the model ``name`` has motif-score features (``kmer:motifs``, ``gkm:copies+motifs``, …)."""
    return split_name(name)[0] in ("kmer", "gkm") and "motifs" in variant_parts(name)


def uses_genome_lm(name: str) -> bool:
    """Whether the model ``name`` reads the genome LM (``--lm``): ULMFiT, except scratch and nolm."""
    base, variant = split_name(name)
    return base == "ulmfit" and variant not in WITHOUT_GENOME_LM
