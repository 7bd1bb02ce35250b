"""Training runs: pick the rows, fit a model, save it with a run record (``run.json``).

A run directory holds the saved model (``model.json`` + weights; see
:mod:`genomic_ulmfit.models.estimators`), ``run.json`` (config, seed, versions, data hash, git
commit, wall time) and, for neural models, ``checkpoints/`` and ``metrics.jsonl``.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.utils import git_commit, package_versions, write_json_atomic


def training_rows(df, species: list[str] | None = None, *, seed: int = 0):
    """(train rows, valid rows or None) of a dataset, restricted to ``species``.

    A dataset without splits is split 80/10/10 on the fly (seeded); the test rows are then
    simply left unused here.
    """
    from genomic_ulmfit.data.split import assign_splits
    from genomic_ulmfit.evaluation.evaluate import select_split

    part = select_split(df, None, species)
    if "split" not in part.columns or (part["split"] == "").all():
        part = assign_splits(part, seed=seed)
    train = part[part["split"] == "train"]
    valid = part[part["split"] == "valid"]
    if len(train) == 0:
        raise InputError("no training rows (split == 'train'); run 'genomic-ulmfit data split' first")
    return train, (valid if len(valid) else None)


def run_record(kind: str, params: dict[str, Any], *, data: dict[str, Any], seed: int, seconds: float,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON run record every training command writes."""
    return {
        "kind": kind,
        "params": params,
        "seed": seed,
        "data": data,
        "seconds": round(seconds, 1),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **(extra or {}),
    }


def training_overlap(run_dir: str | os.PathLike, sequences: list[str]) -> tuple[int, str] | None:
    """How many of ``sequences`` (as given or reverse-complemented) a run was trained on.

    Reads the dataset named in the run's ``run.json`` and takes its train and valid rows as the run
    did; for an ensemble, the largest count of its members. Returns ``(count, dataset path)``, or
    None when that cannot be told: a run fitted in memory, a dataset file that is gone or has
    changed since (its hash).
    """
    from genomic_ulmfit.data.dataset import dataset_hash, load_dataset
    from genomic_ulmfit.data.sequences import canonical
    from genomic_ulmfit.utils import read_json

    record = Path(run_dir) / "run.json"
    if not record.is_file():  # an ensemble: what its members were trained on
        found = [f for m in ensemble_members(run_dir) if (f := training_overlap(m, sequences))]
        return max(found, key=lambda f: f[0]) if found else None
    meta = read_json(record)
    data = meta.get("data") or {}
    path = data.get("dataset")
    if not path or not Path(path).is_file():
        return None
    try:
        df = load_dataset(path)
        train, valid = training_rows(df, data.get("species"), seed=int(meta.get("seed", 0)))
    except (InputError, ConfigError):
        return None
    ids = set(train["id"]) | (set(valid["id"]) if valid is not None else set())
    used = df[df["id"].isin(ids)]
    if dataset_hash(used) != data.get("hash"):
        return None
    seen = {canonical(s) for s in used["sequence"]}
    return sum(canonical(s) in seen for s in sequences), str(path)


def ensemble_members(run_dir: str | os.PathLike) -> list[Path]:
    """The member run directories of a saved ensemble: those it would load (the same fingerprint,
    :func:`~genomic_ulmfit.models.ensemble.member_places`), skipping any it could not; empty for
    anything but an ensemble."""
    from genomic_ulmfit.models.ensemble import find_member
    from genomic_ulmfit.utils import read_json

    path = Path(run_dir) / "model.json"
    meta = read_json(path) if path.is_file() else {}
    if meta.get("kind") != "ensemble":
        return []
    saved = (meta.get("params") or {}).get("members") or []
    files = meta.get("member_files") or [None] * len(saved)
    found = []
    for member, f in zip(saved, files, strict=False):
        try:
            found.append(Path(find_member(Path(run_dir), member, f) if isinstance(f, dict) else member))
        except InputError:
            continue  # moved, deleted or refitted: the ensemble itself refuses to load then
    return found


def warn_if_unlike_training(run_dir: str | os.PathLike, sequences: list[str], what: str,
                          warn: Callable[[str], None]) -> None:
    """Tell ``warn`` when the run in ``run_dir`` was trained on some of ``sequences``, or on sequences
    of another length (median more than 2× apart); ``what`` says where they come from."""
    found = training_overlap(run_dir, sequences)
    if found and found[0]:
        n, path = found
        warn(f"{run_dir} was trained on {n:,} of the {len(sequences):,} sequences of {what} (train/valid rows of "
             f"{path}, either strand): their scores are optimistic; score sequences it has not seen (such as "
             "the test split)")
    if sequences and (note := length_note(run_dir, float(np.median([len(s) for s in sequences])), what)):
        warn(note)


def fixed_input_length(run_dir: str | os.PathLike) -> int | None:
    """The one input length a run's model reads (the Cohn CNN's ``seq_len``), or None if it reads any."""
    from genomic_ulmfit.utils import read_json

    path = Path(run_dir) / "model.json"
    meta = read_json(path) if path.is_file() else {}
    config = meta.get("config") if meta.get("kind") == "cnn" else None
    return int(config["seq_len"]) if isinstance(config, dict) and config.get("arch") == "cohn" else None


def length_note(run_dir: str | os.PathLike, length: float, what: str) -> str | None:
    """A warning when ``length`` (bp; of ``what``) is more than 2× from the run's median training length,
    or longer than the one length a model reads (the Cohn CNN: the rest is never looked at)."""
    from genomic_ulmfit.predict.scan import training_width

    fixed = fixed_input_length(run_dir)
    if fixed is not None and length > fixed:
        return (f"{run_dir} is a Cohn CNN, which reads exactly {fixed:,} bp: {what} ({length:,.0f} bp) is scored "
                f"on its central {fixed:,} bp only; use windows of {fixed:,} bp (scan --width {fixed})")
    trained = training_width(run_dir)
    if trained is None or trained / 2 <= length <= trained * 2:
        return None
    return (f"{run_dir} was trained on sequences of median length {trained:,} bp, {what} has {length:,.0f} bp: "
            "scores of other lengths are not calibrated alike (accuracy at 0.5 suffers first); compare like with like")


def data_info(df, dataset_path: str | os.PathLike | None, species: list[str] | None) -> dict[str, Any]:
    """What a run was trained on: dataset path and hash, species, row counts, sequence lengths."""
    from genomic_ulmfit.data.dataset import dataset_hash

    lengths = df["sequence"].str.len()
    return {
        "dataset": os.path.abspath(dataset_path) if dataset_path else None,  # found from any working folder
        "hash": dataset_hash(df),
        "species": sorted(map(str, df["species"].unique())) if species is None else species,
        "rows": int(len(df)),
        # what `scan` takes as its default window width
        "length": {"min": int(lengths.min()), "median": int(lengths.median()), "max": int(lengths.max())}
        if len(df) else None,
    }


def train_model(
    model,
    df,
    out_dir: str | os.PathLike,
    *,
    species: list[str] | None = None,
    dataset_path: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
    resume: bool = False,
):
    """Fit ``model`` (an unfitted :class:`SequenceModel`) on the train rows, save it into ``out_dir``.

    Returns the fitted model. ``run.json`` records what was trained on what.
    """
    from genomic_ulmfit.training.loop import amp_name

    out = Path(out_dir)
    if resume and "resume" not in inspect.signature(model.fit).parameters:
        raise ConfigError(f"{out}: a {model.kind} model trains in one step, so there is nothing to resume; "
                          "drop --resume")
    out.mkdir(parents=True, exist_ok=True)
    train, valid = training_rows(df, species, seed=seed)
    t0 = time.time()
    kwargs: dict[str, Any] = {"out_dir": out, "progress": progress}
    if resume:
        kwargs["resume"] = True
    model.fit(
        train["sequence"].tolist(), train["label"].to_numpy(np.int64),
        None if valid is None else valid["sequence"].tolist(),
        None if valid is None else valid["label"].to_numpy(np.int64),
        **kwargs,
    )
    model.save(out)
    seconds = time.time() - t0
    used = df[df["id"].isin(train["id"]) | (df["id"].isin(valid["id"]) if valid is not None else False)]
    write_json_atomic(out / "run.json", run_record(
        model.kind, model.get_params(), data={**data_info(used, dataset_path, species),
                                              "train_rows": int(len(train)),
                                              "valid_rows": int(0 if valid is None else len(valid))},
        seed=seed, seconds=seconds,
        # torch models: the autocast precision they trained with
        extra={"amp": amp_name(model.device_)} if hasattr(model, "device_") else None,
    ))
    return model
