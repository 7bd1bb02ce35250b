"""Genome scanning: score sliding windows along FASTA records and call enhancer regions.

Windows of ``width`` bases every ``step`` bases are scored in batches with any saved model;
windows with more than ``max_n`` N bases are skipped. Output is BED-like: ``chrom, start, end,
score`` (0-based, half-open), plus merged regions where the score stays ≥ ``threshold``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from genomic_ulmfit.errors import InputError


def windows(seq: str, width: int, step: int, max_n: float = 0.1) -> Iterator[tuple[int, str]]:
    """(start, window) pairs along ``seq``; windows with a fraction of N above ``max_n`` are skipped.

    The last window is aligned to the end of the sequence so the tail is covered.
    """
    n = len(seq)
    if n < width:
        return
    starts = list(range(0, n - width + 1, step))
    if starts[-1] != n - width:
        starts.append(n - width)
    isn = np.frombuffer(seq.upper().encode("ascii"), dtype=np.uint8) == ord("N")
    cum = np.concatenate([[0], np.cumsum(isn)])
    limit = max_n * width
    for s in starts:
        if cum[s + width] - cum[s] <= limit:
            yield s, seq[s : s + width]


def _batched(items, n: int):
    """Lists of up to ``n`` consecutive items."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def merge_regions(chrom: str, starts: np.ndarray, scores: np.ndarray, width: int, threshold: float):
    """Merge overlapping/adjacent windows scoring ≥ threshold → list of (chrom, start, end, max score)."""
    out: list[tuple[str, int, int, float]] = []
    for s, p in zip(starts, scores):
        if p < threshold:
            continue
        e = int(s) + width
        if out and s <= out[-1][2]:
            c, a, b, m = out[-1]
            out[-1] = (c, a, max(b, e), max(m, float(p)))
        else:
            out.append((chrom, int(s), e, float(p)))
    return out


def scan_fasta(run_dir: str | os.PathLike, fasta: str | os.PathLike, out: str | os.PathLike, *,
               width: int = 500, step: int = 250, batch_size: int = 256, max_n: float = 0.1,
               threshold: float = 0.5, rc_average: bool = False, progress: bool = True) -> dict:
    """Scan every record of ``fasta``; write ``out`` (windows TSV) and ``out`` + ``.regions.bed``.

    Returns a summary dict (records, windows scored, regions called).
    """
    from rich.progress import Progress

    from genomic_ulmfit.data.readers import read_fasta
    from genomic_ulmfit.models.base import load_model
    from genomic_ulmfit.predict.predict import predict_sequences
    from genomic_ulmfit.utils import atomic_path

    if width < 1 or step < 1:
        raise InputError(f"scan: width and step must be positive, got width={width}, step={step}")
    model = load_model(run_dir)
    out = Path(out)
    regions_path = out.with_name(out.name + ".regions.bed")
    n_records = n_windows = 0
    regions: list[tuple[str, int, int, float]] = []
    with atomic_path(out) as tmp, open(tmp, "w") as fh, Progress(disable=not progress, transient=True) as bar:
        fh.write("chrom\tstart\tend\tscore\n")
        task = bar.add_task("scanning", total=None)
        for rec in read_fasta(fasta, mask_iupac=True):
            n_records += 1
            starts, scores = [], []
            for batch in _batched(windows(rec.sequence, width, step, max_n), batch_size * 4):
                starts += [s for s, _ in batch]
                scores.append(predict_sequences(model, [w for _, w in batch], rc_average=rc_average,
                                                batch_size=batch_size))
                bar.advance(task, len(batch))
            if not starts:
                continue
            st = np.asarray(starts)
            sc = np.concatenate(scores)
            n_windows += len(st)
            for s, p in zip(st, sc):
                fh.write(f"{rec.id}\t{s}\t{s + width}\t{p:.6f}\n")
            regions += merge_regions(rec.id, st, sc, width, threshold)
    with atomic_path(regions_path) as tmp:
        tmp.write_text("".join(f"{c}\t{a}\t{b}\tregion{i + 1}\t{m:.4f}\n" for i, (c, a, b, m) in enumerate(regions)))
    return {"records": n_records, "windows": n_windows, "regions": len(regions), "out": str(out),
            "regions_bed": str(regions_path)}
