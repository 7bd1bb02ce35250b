"""Score sequences with a saved run: P(enhancer) per sequence, optionally averaged over strands."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from genomic_ulmfit.data.sequences import revcomp
from genomic_ulmfit.errors import InputError
from genomic_ulmfit.models.base import check_sequences


def predict_sequences(model, sequences: Sequence[str], *, rc_average: bool = False,
                      batch_size: int | None = None) -> np.ndarray:
    """P(enhancer) of each sequence, float64 (n,); ``rc_average`` averages both strands.

    Works for any :class:`~genomic_ulmfit.models.base.SequenceModel`; models that already average
    strands internally (ULMFiT by default, the modern CNN by construction) give the same numbers.
    """
    seqs = check_sequences(sequences, "prediction")
    p = np.asarray(model.predict_proba(seqs, batch_size=batch_size), dtype=np.float64)
    if rc_average:
        p = (p + np.asarray(model.predict_proba([revcomp(s) for s in seqs], batch_size=batch_size))) / 2
    return p


def predict_file(run_dir: str | os.PathLike, input_path: str | os.PathLike, out: str | os.PathLike | None = None,
                 *, rc_average: bool = False, batch_size: int | None = None, mask_iupac: bool = False,
                 warn: Callable[[str], None] | None = None):
    """Score a FASTA, TSV/CSV (``sequence`` column, optional ``id``/``label``) or dataset file.

    Returns a DataFrame ``id, score[, label]`` and writes it as TSV to ``out`` when given.
    ``warn`` (a callable taking a string), when given, is told about sequences without a single
    A/C/G/T base (they get a score, but it says nothing about them) and about sequences the run
    was trained on (their scores, and an AUROC over them, are optimistic).
    """
    from genomic_ulmfit.data.dataset import no_base_note, read_table_or_dataset
    from genomic_ulmfit.models.base import load_model
    from genomic_ulmfit.utils import write_text_atomic

    model = load_model(run_dir)
    df = read_table_or_dataset(input_path, require_label=False, mask_iupac=mask_iupac)
    if warn is not None and (note := no_base_note(df[["id", "sequence"]])):  # the file is named already
        warn(f"{input_path}: {note}; their scores carry no sequence information")
    try:
        scores = predict_sequences(model, df["sequence"].tolist(), rc_average=rc_average, batch_size=batch_size)
    except InputError as exc:  # "sequence i" is the file's i-th record: say which file
        raise InputError(f"{input_path}: {exc}") from exc
    if warn is not None:
        from genomic_ulmfit.training.runs import warn_if_unlike_training

        warn_if_unlike_training(run_dir, df["sequence"].tolist(), str(input_path), warn)
    table = df[["id"]].copy()
    table["score"] = scores
    if "label" in df.columns and (df["label"] >= 0).all():
        table["label"] = df["label"].astype(int).to_numpy()
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, table.to_csv(sep="\t", index=False, float_format="%.6f"))
    return table
