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


def window_starts(n: int, width: int, step: int) -> list[int]:
    """Window starts along a sequence of ``n`` bases, the last one aligned to its end ([] if n < width)."""
    if n < width:
        return []
    starts = list(range(0, n - width + 1, step))
    if starts[-1] != n - width:
        starts.append(n - width)
    return starts


def windows(seq: str, width: int, step: int, max_n: float = 0.1) -> Iterator[tuple[int, str]]:
    """(start, window) pairs along ``seq``; windows with a fraction of N above ``max_n`` are skipped.

    The last window is aligned to the end of the sequence so the tail is covered.
    """
    starts = window_starts(len(seq), width, step)
    if not starts:
        return
    raw = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
    isn = (raw == ord("N")) | (raw == ord("n"))
    # N counts up to each position, int32 (a chromosome fits): 4 bytes per base, not 16 (int64, copied)
    cum = np.zeros(len(seq) + 1, dtype=np.int32 if len(seq) < 2**31 else np.int64)
    np.cumsum(isn, out=cum[1:])
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


def training_width(run_dir: str | os.PathLike) -> int | None:
    """Median length of the sequences a run was trained on, or None if unrecorded.

    Read from the run's ``run.json``; an ensemble (no ``run.json``) takes its first member's.
    """
    from genomic_ulmfit.utils import read_json

    def field(path: Path, *keys: str):
        try:
            value = read_json(path)
        except (OSError, ValueError, InputError):
            return None
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    run_dir = Path(run_dir)
    median = field(run_dir / "run.json", "data", "length", "median")
    model = field(run_dir / "model.json") if median is None else None
    if isinstance(model, dict) and model.get("kind") == "ensemble":
        from genomic_ulmfit.models.ensemble import member_places

        # where the members are now (relative to the ensemble) first, then where they were saved from
        saved = (model.get("params") or {}).get("members") or []
        members = [member_places(run_dir, path, f)[0] for path, f in zip(saved, model.get("member_files") or [])
                   if isinstance(f, dict) and isinstance(f.get("relative"), str)] + saved
        median = next((m for m in (training_width(d) for d in members) if m is not None), None)
    return int(median) if isinstance(median, (int, float)) else None


def regions_path(out: str | os.PathLike) -> Path:
    """Where :func:`scan_fasta` writes the regions BED for windows TSV ``out`` (a .gz suffix dropped)."""
    out = Path(out)
    name = out.name[:-3] if out.name.endswith(".gz") else out.name
    return out.with_name(name + ".regions.bed")


def scan_fasta(run_dir: str | os.PathLike, fasta: str | os.PathLike, out: str | os.PathLike, *,
               width: int | None = None, step: int | None = None, batch_size: int = 256, max_n: float = 0.1,
               threshold: float = 0.5, rc_average: bool = False, progress: bool = True) -> dict:
    """Scan every record of ``fasta``; write ``out`` (windows TSV, gzipped when it ends in .gz) and
    :func:`regions_path` (BED: chrom, start, end, name, score = 1000 × the region's best window score).

    ``width`` defaults to the median length of the run's training sequences (``run.json``; 500
    when not recorded), ``step`` to half the width. Returns a summary dict: records, windows
    scored, windows skipped for N, records shorter than ``width``, regions called, width, step,
    the fraction of windows at or above ``threshold`` (``called_fraction``) and the scores above
    which the top 5% and 1% of windows lie (``top5_score``, ``top1_score``). Regions come record by
    record in the FASTA's order, sorted within each record.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from genomic_ulmfit.data.readers import read_fasta
    from genomic_ulmfit.models.base import load_model
    from genomic_ulmfit.predict.predict import predict_sequences
    from genomic_ulmfit.utils import open_text_atomic, write_text_atomic

    width = width if width is not None else (training_width(run_dir) or 500)
    step = step if step is not None else max(1, width // 2)
    if width < 1 or step < 1:
        raise InputError(f"scan: width and step must be positive, got width={width}, step={step}")
    if not 0 <= threshold <= 1:
        raise InputError(f"scan: threshold {threshold} is not a score; give a value between 0 and 1")
    if not 0 <= max_n < 1:
        raise InputError(f"scan: max_n {max_n} is not a fraction below 1; give e.g. 0.1 (windows with more N "
                         "are skipped)")
    model = load_model(run_dir)
    out = Path(out)
    bed = regions_path(out)
    n_records = n_windows = n_skipped = n_short = 0
    regions: list[tuple[str, int, int, float]] = []
    all_scores: list[np.ndarray] = []
    columns = (TextColumn("scanning {task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("windows"),
               TimeRemainingColumn())
    with open_text_atomic(out) as fh, Progress(*columns, disable=not progress, transient=True) as bar:
        fh.write("chrom\tstart\tend\tscore\n")
        for rec in read_fasta(fasta, mask_iupac=True):
            n_records += 1
            total = len(window_starts(len(rec.sequence), width, step))
            if not total:
                n_short += 1
                continue
            task = bar.add_task(rec.id, total=total)
            starts, scores = [], []
            for batch in _batched(windows(rec.sequence, width, step, max_n), batch_size * 4):
                starts += [s for s, _ in batch]
                scores.append(predict_sequences(model, [w for _, w in batch], rc_average=rc_average,
                                                batch_size=batch_size))
                bar.update(task, completed=len(starts))
            bar.remove_task(task)
            n_skipped += total - len(starts)
            if not starts:
                continue
            st = np.asarray(starts)
            sc = np.concatenate(scores)
            n_windows += len(st)
            all_scores.append(sc)
            for s, p in zip(st, sc):
                fh.write(f"{rec.id}\t{s}\t{s + width}\t{p:.6f}\n")
            regions += merge_regions(rec.id, st, sc, width, threshold)
    write_text_atomic(bed, "".join(f"{c}\t{a}\t{b}\tregion{i + 1}\t{round(1000 * m)}\n"
                                   for i, (c, a, b, m) in enumerate(regions)))
    every = np.concatenate(all_scores) if all_scores else np.empty(0)
    return {"records": n_records, "windows": n_windows, "skipped_n": n_skipped, "short_records": n_short,
            "regions": len(regions), "width": width, "step": step, "out": str(out), "regions_bed": str(bed),
            # how much the threshold calls, and the scores that would call the top 5% / 1% of windows
            "called_fraction": float((every >= threshold).mean()) if every.size else 0.0,
            "top5_score": float(np.quantile(every, 0.95)) if every.size else None,
            "top1_score": float(np.quantile(every, 0.99)) if every.size else None}
