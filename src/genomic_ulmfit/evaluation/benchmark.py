"""The seed's per-species table in one call, and Cohn's cross-species experiment.

:func:`run_benchmark` does split → (LM fine-tune) → train → evaluate for every model and species
and writes ``report.md``/``report.html`` with the published numbers beside ours.
:func:`cross_species` trains on each species (and on all pooled) and tests on every species.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genomic_ulmfit.data.copies import genome_record
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.names import ENCODER_VARIANTS, known_names, split_name, uses_genome_lm, uses_motifs
from genomic_ulmfit.utils import (
    json_records,
    package_versions,
    rich_log,
    sha256_file,
    write_json_atomic,
    write_text_atomic,
)


def parse_species(df, species: str | Sequence[str] | None) -> list[str]:
    """Species list from ``"all"``/None (every species, in dataset order) or names/comma list."""
    present = list(dict.fromkeys(map(str, df["species"])))
    if species in (None, "all", ["all"]):
        return present
    names = [s.strip() for s in species.split(",")] if isinstance(species, str) else list(species)
    unknown = [s for s in names if s not in present]
    if unknown:
        raise InputError(f"species {', '.join(unknown)} not in the dataset; it has {', '.join(present)}")
    return names



def parse_models(models: str | Sequence[str]) -> list[str]:
    """Model names like ``kmer``, ``cnn:cohn``, ``ulmfit:scratch`` (see :mod:`genomic_ulmfit.models.names`)."""
    names = [m.strip() for m in models.split(",")] if isinstance(models, str) else list(models)
    if "" in names:
        raise ConfigError(f"--models {models!r} holds an empty entry; give a comma list such as kmer,cnn,ulmfit")
    bad = [m for m in names if m not in known_names()]
    if bad or not names:
        raise ConfigError(f"unknown model(s) {', '.join(bad) or '(none)'}; choose from {', '.join(known_names())}")
    twice = sorted({m for m in names if names.count(m) > 1})
    if twice:
        raise ConfigError(f"model(s) {', '.join(twice)} given twice in --models; give each model once")
    return names


def ensure_split(df, seed: int):
    """The dataset with splits; unsplit data is split 80/10/10 here (seeded).

    A dataset split only in part (rows added since ``data split``, say) is refused: splitting it
    again here would silently move rows that earlier runs treated as test data.
    """
    from genomic_ulmfit.data.split import assign_splits

    if "split" in df.columns and (df["split"] != "").all():
        return df, False
    if "split" in df.columns and (df["split"] != "").any():
        missing = int((df["split"] == "").sum())
        raise ConfigError(f"{missing:,} of {len(df):,} rows have no train/valid/test split while the others do; "
                          "run 'genomic-ulmfit data split' on the whole dataset again")
    return assign_splits(df, seed=seed), True


def fit_for(
    model_name: str,
    train_df,
    out_dir: Path,
    *,
    preset: str,
    lm_dir: str | os.PathLike | None,
    finetune: bool = True,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
    resume: bool = False,
    log=None,
    dataset_path: str | os.PathLike | None = None,
    species: list[str] | None = None,
    copies_genome: Sequence[str | os.PathLike] = (),
    motifs: str = "jaspar",
):
    """Build, (LM fine-tune,) fit and save one model on ``train_df`` (rows with split train/valid).

    A finished fit leaves ``FIT_RECORD`` in ``out_dir``: what was fitted (model, preset, LM,
    seed, hashes of the train and valid rows) and how long it took. With ``resume`` a run whose
    record matches is loaded instead of refitted, so an interrupted CV or holdout picks up at the
    first unfinished model; a record that does not match is deleted and the model refitted.
    A fit under way leaves ``FIT_STARTED`` (its key, host and pid) until it finishes; another
    process on the host meeting it while that pid lives refuses with a clear error instead of
    fitting into the same directory. A fit that was stopped part-way (``FIT_STARTED``) continues
    from its last checkpoint (an epoch's end, or a mid-epoch one in a long epoch) when the model
    trains by epochs (ULMFiT's LM fine-tune and classifier stages, the CNNs); the record then says
    ``resumed``, and its seconds add this call's time to what the stopped run had trained. A fit that starts afresh first removes any training
    state (checkpoints, metrics, fine-tuned LM) left in ``out_dir`` by another fit.

    ULMFiT: the LM in ``lm_dir`` (or a fresh one when None) is fine-tuned on the training
    sequences only (never valid/test) unless ``finetune`` is False, then the classifier is trained
    from that encoder. Variants: ``ulmfit:noft`` trains the classifier on ``lm_dir`` itself,
    ``ulmfit:scratch`` on an LM trained on the training sequences alone (whatever ``lm_dir`` and
    ``finetune``), ``ulmfit:nolm`` on a random encoder. ``kmer:copies`` and ``gkm:copies`` read
    the genome FASTA files ``copies_genome``; the ``:motifs`` variants the motifs of ``motifs``
    (:func:`~genomic_ulmfit.data.motifs.load_motifs`); other models ignore them.
    Returns (fitted model, seconds). ``log`` (a callable taking a string), when given, is told
    when a finished fit is loaded instead of refitted. ``dataset_path`` and ``species``, when
    ``train_df`` holds the train/valid rows of those species in that dataset file, go into the run's
    ``run.json``, so that scoring the run on its own training rows later is warned about.
    """
    from genomic_ulmfit.models.base import load_model
    from genomic_ulmfit.models.estimators import model_from_name
    from genomic_ulmfit.training.lm import finetune_lm
    from genomic_ulmfit.training.loop import clear_run_state, trained_seconds
    from genomic_ulmfit.training.runs import train_model

    out_dir = Path(out_dir)
    key = fit_key(model_name, train_df, preset=preset, lm_dir=lm_dir, finetune=finetune, seed=seed,
                  device=device, copies_genome=copies_genome, motifs=motifs)
    record = out_dir / FIT_RECORD
    done = _read_record(record) if resume else {}
    if _current_key(done.get("key")) == key:
        if log is not None:
            log(f"   loaded the finished fit in {out_dir} (it took {float(done['seconds']):.0f} s)")
        return load_model(out_dir), float(done["seconds"])
    started = _read_record(out_dir / FIT_STARTED)
    _check_not_fitting_elsewhere(out_dir, started)
    record.unlink(missing_ok=True)  # from here on the directory no longer holds a finished fit
    name, variant = split_name(model_name)
    lm_out = out_dir / "lm_finetuned"
    # continue a stopped fit of this very key at its last epoch; anything else starts afresh
    partial = resume and name in EPOCH_TRAINED and _current_key(started.get("key")) == key
    if partial:
        # the stopped run's finished epochs (and a mid-epoch checkpoint's part) count towards the fit's time
        earlier = trained_seconds(out_dir) + trained_seconds(lm_out)
        if log is not None:
            log(f"   continuing the stopped fit in {out_dir} from its last checkpoint")
    else:
        earlier = 0.0
        # so that a later resume cannot mistake another fit's stages for this one's
        clear_run_state(out_dir)
        shutil.rmtree(lm_out, ignore_errors=True)
    write_json_atomic(out_dir / FIT_STARTED, {"key": key, "host": socket.gethostname(), "pid": os.getpid()})
    t0 = time.time()
    encoder = lm_dir
    if name == "ulmfit":
        if variant in ("noft",) and lm_dir is None:
            raise ConfigError("ulmfit:noft needs a pretrained LM (--lm)")
        if variant == "nolm":
            encoder = None
        elif variant == "scratch" or (variant != "noft" and finetune):  # scratch: its LM is all it has
            train_seqs = train_df.loc[train_df["split"] == "train", "sequence"].tolist()
            encoder = finetune_lm(train_seqs, lm_out, from_dir=None if variant == "scratch" else lm_dir,
                                  preset=preset, seed=seed, device=device, progress=progress, resume=partial)
    # ULMFiT's other variants chose the encoder above; the rest set the model itself
    own = name if variant in ENCODER_VARIANTS else model_name
    model = model_from_name(own, preset=preset, encoder=encoder, seed=seed, device=device,
                            copies_genome=copies_genome, motifs=motifs)
    train_model(model, train_df, out_dir, seed=seed, progress=progress, resume=partial, dataset_path=dataset_path,
                species=species)
    seconds = round(time.time() - t0 + earlier, 1)  # as recorded, so a resumed run reports the same
    # ``finished`` tells this fit from an earlier one of the same key (scores saved for that one are stale)
    write_json_atomic(record, {"key": key, "seconds": seconds, "finished": time.time(),
                               **({"resumed": True} if partial else {})})
    (out_dir / FIT_STARTED).unlink(missing_ok=True)  # only a fit under way (or stopped) leaves it
    return model, seconds


FIT_RECORD = "fit.json"
FIT_STARTED = "fit_started.json"
EPOCH_TRAINED = ("ulmfit", "cnn")  # models whose fit checkpoints every epoch (and so can continue)


def _check_not_fitting_elsewhere(out_dir: Path, started: dict) -> None:
    """Refuse to touch ``out_dir`` while another live process on this host is fitting into it.

    ``started`` is the directory's ``FIT_STARTED`` record ({} when there is none).
    """
    try:
        pid, host = int(started["pid"]), started["host"]
    except (KeyError, TypeError, ValueError):
        return
    if host != socket.gethostname() or pid == os.getpid():
        return
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return
    except PermissionError:
        pass  # it exists, under another user
    raise ConfigError(f"{out_dir}: process {pid} is fitting this model now; wait for it to finish (then --resume "
                      f"loads its fit), or stop it; if no such fit is running, delete {out_dir / FIT_STARTED}")


def _read_record(path: Path) -> dict:
    """A fit record (``FIT_RECORD`` or ``FIT_STARTED``), or {} when there is none or it is unreadable (refit)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _only_used(key: dict, amp: str | None) -> dict:
    """``key`` with what its model does not use blanked: the genome LM unless ULMFiT with one
    (``ulmfit:nolm`` has no LM, ``ulmfit:scratch`` trains its own), whether it is fine-tuned unless
    ULMFiT's default or ``comp`` (``noft`` never fine-tunes, ``scratch`` always trains its LM), and
    the autocast precision ``amp`` unless a torch model (``EPOCH_TRAINED``)."""
    model = str(key.get("model", ""))
    name, variant = split_name(model)
    if not uses_genome_lm(model):
        key.update(lm=None, lm_record=None)
    if name != "ulmfit" or variant in ENCODER_VARIANTS:
        key["finetune"] = None
    key["amp"] = amp if name in EPOCH_TRAINED else None
    return key


def _current_key(old: Any) -> Any:
    """A fit key as :func:`fit_key` writes it now. Keys written before the precision was part of
    the key came from fp32 fits (on a CPU; on CUDA they trained under autocast, so they stay
    unmatched) and held the LM fields for every model: a torch fit is reused only by an fp32 run.
    k-mer LR and gkm-SVM keys written before they held the model's hyperparameters stay unmatched
    (a refit takes seconds to a minute; reusing them could reuse a fit of other defaults). Keys
    that held fields their model does not use lose them, except an ``ulmfit:scratch`` fit without
    fine-tuning: that one used ``lm`` as its encoder then, so it stays unmatched."""
    if not isinstance(old, dict) or (old.get("model") == "ulmfit:scratch" and old.get("finetune") is False):
        return old
    return _only_used(dict(old), old.get("amp", "off"))


def _default_params(model_name: str, seed: int, copies_genome: Sequence[str | os.PathLike] = (),
                    motifs: str = "jaspar") -> dict:
    """The hyperparameters ``model_from_name`` gives a k-mer LR or gkm-SVM: a fit made before one
    of their defaults changed is another fit."""
    from genomic_ulmfit.data.copies import genome_digest
    from genomic_ulmfit.data.motifs import is_named_collection
    from genomic_ulmfit.models.estimators import model_from_name

    params = model_from_name(model_name, seed=seed, copies_genome=copies_genome, motifs=motifs).get_params()
    if params.get("motifs") is not None and not is_named_collection(params["motifs"]):  # a file by its contents
        params["motifs"] = sha256_file(params["motifs"])
    if params.get("motifs") is None:  # settings that do nothing without their input are left out, so fits
        params = {k: v for k, v in params.items() if not k.startswith("motifs")}  # made before they existed
    if not params.get("copies_genome"):  # stay reusable
        return {k: v for k, v in params.items() if not k.startswith("copies_")}
    # the genome by its contents: a changed file is another fit, the same file elsewhere is not
    return {**params, "copies_genome": genome_digest(params["copies_genome"], params["copies_k"])}


def check_scorable(df) -> None:
    """Refuse species whose test split lacks a class or whose train split holds one class only.

    Their models or scores would be missing from a report (or NaN) without a word.
    """
    from genomic_ulmfit.data.split import split_problems

    problems = split_problems(df, (1.0, 0.0, 1.0))  # every species' test split needs both classes
    problems += [f"species {s}: its train split holds one class only; import more sequences of it"
                 for s, g in df[df["split"] == "train"].groupby("species") if g["label"].nunique() < 2]
    if problems:
        raise ConfigError(problems[0] + (f" ({len(problems) - 1} more such problem(s))" if len(problems) > 1 else ""))


def fit_key(model_name: str, train_df, *, preset, lm_dir, finetune: bool, seed: int,
            device: str | None = None, copies_genome: Sequence[str | os.PathLike] = (), motifs: str = "jaspar") -> dict:
    """What :func:`fit_for` fits, as plain JSON: two fits with equal keys give the same model.

    Only what the model uses counts: the LM (and whether it is fine-tuned) for ULMFiT (neither for
    ``ulmfit:nolm`` and ``ulmfit:scratch``, only the LM for ``ulmfit:noft``), and for the torch
    models the autocast precision they would train with on ``device``
    (:func:`~genomic_ulmfit.training.loop.amp_name`: a bf16 fit is not reused for an fp32 run). So
    adding ``--lm`` or ULMFiT to a CV reuses its k-mer, CNN and gkm-SVM fits. The k-mer LR and
    gkm-SVM, which no preset configures, hold their hyperparameters instead (``"params"``), so a
    changed default (a wider C grid, another kernel) refits them rather than reusing a stale fit.

    A ULMFiT fit on sequences of mixed lengths also holds ``"batches": "random"``: such fits
    trained on length-grouped batches before (which cost accuracy; see the note in
    ``ULMFiTModel.prepare``), and their records, without the field, are not reused. Fixed-length
    data batched the same way either way."""
    from genomic_ulmfit.config import get_preset
    from genomic_ulmfit.data.dataset import dataset_hash
    from genomic_ulmfit.training.lm import LM_JSON
    from genomic_ulmfit.training.loop import amp_name

    split = train_df["split"]
    lm_record = Path(lm_dir) / LM_JSON if lm_dir is not None else None
    key = {"model": model_name, "preset": get_preset(preset).to_dict(),
           "lm": str(Path(lm_dir).resolve()) if lm_dir is not None else None,
           # a rebuilt LM in the same directory is another LM
           "lm_record": sha256_file(lm_record) if lm_record and lm_record.is_file() else None,
           "finetune": finetune, "seed": seed,
           "train": dataset_hash(train_df[split == "train"]), "valid": dataset_hash(train_df[split == "valid"])}
    if split_name(model_name)[0] == "ulmfit" and train_df.loc[split == "train", "sequence"].str.len().nunique() > 1:
        key["batches"] = "random"
    if split_name(model_name)[0] not in EPOCH_TRAINED:  # models the preset does not configure
        key["params"] = _default_params(model_name, seed, copies_genome, motifs)  # :copies models: the genome's digest
    # tuples → lists, as a record read back from disk has them
    return json.loads(json.dumps(_only_used(key, amp_name(device))))


def _label(model_name: str) -> str:
    return model_name.replace(":", "-")


def run_benchmark(
    dataset,
    out_dir: str | os.PathLike,
    *,
    species: str | Sequence[str] | None = None,
    models: str | Sequence[str] = ("kmer", "cnn", "ulmfit"),
    preset: str = "cpu",
    lm_dir: str | os.PathLike | None = None,
    pooled: bool = False,
    ensemble: bool = False,
    seed: int = 0,
    n_boot: int = 1000,
    device: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = rich_log,
    title: str = "genomic-ulmfit benchmark",
    notes: Sequence[str] = (),
    resume: bool = False,
    copies_genome: Sequence[str | os.PathLike] = (),
    motifs: str = "jaspar",
):
    """Train and evaluate each model per species (and pooled over species when ``pooled``).

    With ``ensemble`` the models of each species are also combined
    (:class:`~genomic_ulmfit.models.ensemble.EnsembleModel`, calibrated on the valid split).

    Returns the results DataFrame (one row per model × species, plus "all") and writes
    ``out_dir/report.md``, ``report.html``, ``results.tsv``, ``scores.tsv``, plots and runs.
    """
    import pandas as pd

    from genomic_ulmfit.data.dataset import dataset_hash, load_dataset
    from genomic_ulmfit.evaluation.evaluate import evaluate_scores, plot_curves, score_table
    from genomic_ulmfit.evaluation.plots import plot_bar_ci
    from genomic_ulmfit.evaluation.report import print_results_table, write_report

    t_start = time.time()
    dataset_path = dataset if isinstance(dataset, (str, os.PathLike)) else None
    df = load_dataset(dataset) if dataset_path is not None else dataset
    df, split_here = ensure_split(df, seed)
    sp = parse_species(df, species)
    names = parse_models(models)
    check_scorable(df[df["species"].isin(sp)])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores, seconds = [], {}
    kept: dict[str, list[str]] = {}  # the members each ensemble weighs
    groups = [(s, [s]) for s in sp]
    if pooled and len(sp) > 1:
        groups.append(("pooled", sp))
    for tag, members in groups:
        part = df[df["species"].isin(members)]
        test = part[part["split"] == "test"]
        suffix = " (pooled)" if tag == "pooled" else ""
        fitted, run_of = {}, {}
        for name in names:
            log(f"[bold]{_label(name)}[/] · {tag}: training")
            run_dir = out / "runs" / _label(name) / tag
            model, secs = fit_for(name, part[part["split"].isin(["train", "valid"])], run_dir, preset=preset,
                                  lm_dir=lm_dir, seed=seed, device=device, progress=progress, resume=resume,
                                  log=log, dataset_path=dataset_path, species=members, copies_genome=copies_genome,
                                  motifs=motifs)
            fitted[str(run_dir)] = model
            run_of[_label(name) + suffix] = str(run_dir)
            seconds[(_label(name) + suffix, tag)] = secs
            log(f"   done in {secs:.0f} s")
        scored = {label: fitted[d] for label, d in run_of.items()}
        if ensemble and len(fitted) > 1:
            from genomic_ulmfit.models.ensemble import EnsembleModel

            valid = part[part["split"] == "valid"]
            calib = valid if len(valid) else part[part["split"] == "train"]
            ens = EnsembleModel.from_models(fitted, calib["sequence"].tolist(), calib["label"].to_numpy())
            ens.save(out / "runs" / "ensemble" / tag)
            kept[tag] = [label for label, w in zip(run_of, ens.weights_, strict=True) if w > 0]
            seconds[("ensemble" + suffix, tag)] = sum(seconds[(_label(n) + suffix, tag)] for n in names)
            scored["ensemble" + suffix] = ens
        scores.append(score_table(scored, test, paths=run_of))   # the ensemble reuses its members' scores
    scores_df = pd.concat(scores, ignore_index=True)
    results = evaluate_scores(scores_df, out, n_boot=n_boot, seed=seed, title=title, plots=False)
    results["train_seconds"] = [
        round(seconds.get((m, s), seconds.get((m, "pooled"), np.nan)), 1) for m, s in zip(results["model"], results["species"])
    ]
    results.to_csv(out / "results.tsv", sep="\t", index=False)
    plots = {k: Path(v).name for k, v in plot_curves(scores_df, out).items()}
    plots["AUROC with 95% CI"] = plot_bar_ci(results[results["species"] != "all"], out / "auroc_ci.png",
                                             title="AUROC per species (95% bootstrap CI)").name
    run_info = {
        "dataset": str(dataset) if isinstance(dataset, (str, os.PathLike)) else "in-memory",
        "dataset_hash": dataset_hash(df), "preset": preset, "seed": seed, "models": ", ".join(names),
        "species": ", ".join(sp), "genome LM": str(lm_dir) if lm_dir else ("none (ULMFiT LM trained from scratch)"
                                             if any(n.startswith("ulmfit") for n in names) else "none (no ULMFiT)"),
        "split": "80/10/10 assigned by this run (seeded)" if split_here else "from the dataset",
        **({"copies genome": genome_record(copies_genome)} if copies_genome else {}),
        **({"motifs": motifs} if any(uses_motifs(n) for n in names) else {}),
        "wall time (s)": round(time.time() - t_start, 1), "versions": package_versions(),
    }
    all_notes = list(notes) + [
        f"Our numbers: test split of this dataset, 95% CI by stratified bootstrap ({n_boot:,} resamples) "
        "of the test set. Published rows: as printed in the papers, on their own splits — not comparable "
        "split-for-split.",
        "Column 'all': each model's per-species test scores pooled into one AUROC"
        + ("; rows '… (pooled)': one model trained on all species together." if pooled and len(sp) > 1 else "."),
    ]
    if kept:
        from genomic_ulmfit.models.ensemble import PRUNE_TOL

        all_notes.append(f"Ensemble members kept (valid AUROC within {PRUNE_TOL} of the best member's): " + "; ".join(
            f"{tag}: {', '.join(labels)}" for tag, labels in kept.items()) + ".")
    if any(str(s).startswith("Sim") for s in sp):
        all_notes.append("Species named Sim* are simulated by 'data simulate'; published rows do not apply.")
    write_report(results, out, title=title, plots=plots, notes=all_notes, run_info=run_info)
    write_json_atomic(out / "benchmark.json", {"run_info": run_info, "results": json_records(results)})
    print_results_table(results, title=title)
    return results


def cross_species(
    dataset,
    out_dir: str | os.PathLike,
    *,
    model: str = "kmer",
    species: str | Sequence[str] | None = None,
    preset: str = "cpu",
    lm_dir: str | os.PathLike | None = None,
    pooled: bool = True,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = rich_log,
    resume: bool = False,
    copies_genome: Sequence[str | os.PathLike] = (),
    motifs: str = "jaspar",
):
    """Train on each species (and on all pooled), test on every species' test split.

    Writes ``cross_species.tsv`` (rows: trained on, columns: tested on, AUROC) and
    ``cross_species.png`` (heatmap, Cohn et al. supplementary Fig. 3 design); each fitted model
    is kept in ``runs/<model>/<species or pooled>``. Returns the matrix.
    """
    import pandas as pd

    from genomic_ulmfit.data.dataset import load_dataset
    from genomic_ulmfit.evaluation.metrics import auroc
    from genomic_ulmfit.evaluation.plots import plot_heatmap

    dataset_path = dataset if isinstance(dataset, (str, os.PathLike)) else None
    df = load_dataset(dataset) if dataset_path is not None else dataset
    df, split_here = ensure_split(df, seed)
    if split_here:
        log(f"the dataset has no splits: split 80/10/10 here (seed {seed}); 'data split' saves one to reuse")
    sp = parse_species(df, species)
    if len(sp) < 2:
        raise ConfigError(f"cross-species needs at least two species, got {', '.join(sp)} only; "
                          "import more species (or pass --species A,B), or score one species with 'benchmark'")
    check_scorable(df[df["species"].isin(sp)])  # its matrix cells would be NaN (or a one-class model)
    (name,) = parse_models([model])
    out = Path(out_dir)
    test = {s: df[(df["species"] == s) & (df["split"] == "test")] for s in sp}
    rows: dict[str, dict[str, float]] = {}
    groups = [(s, [s]) for s in sp] + ([("pooled", sp)] if pooled and len(sp) > 1 else [])
    for tag, members in groups:
        log(f"[bold]{_label(name)}[/] trained on {tag}")
        part = df[df["species"].isin(members) & df["split"].isin(["train", "valid"])]
        run_dir = out / "runs" / _label(name) / tag
        older = out / "runs" / tag  # where fits went before runs/<model>/: keep them for --resume
        if resume and (older / FIT_RECORD).is_file() and not run_dir.exists():
            run_dir.parent.mkdir(parents=True, exist_ok=True)
            os.replace(older, run_dir)
            log(f"   moved the earlier fit {older} to {run_dir}")
        fitted, _ = fit_for(name, part, run_dir, preset=preset, lm_dir=lm_dir, seed=seed,
                            device=device, progress=progress, resume=resume, log=log,
                            dataset_path=dataset_path, species=members, copies_genome=copies_genome,
                            motifs=motifs)
        rows[tag] = {s: auroc(t["label"].to_numpy(), fitted.predict_proba(t["sequence"].tolist()))
                     for s, t in test.items()}
    matrix = pd.DataFrame(rows).T.loc[[g for g, _ in groups], sp]
    matrix.index.name = "trained_on"
    write_text_atomic(out / "cross_species.tsv", matrix.to_csv(sep="\t", float_format="%.4f"))
    plot_heatmap(matrix, out / "cross_species.png", title=f"Cross-species AUROC ({_label(name)})")
    return matrix


def check_models_available(names: Sequence[str]) -> None:
    """Fail early (one line) when an optional model's package is missing."""
    if any(n.startswith("gkmsvm") for n in names):
        try:
            import gkmsvm  # noqa: F401
        except ImportError:
            raise ConfigError("model gkmsvm needs the gkmsvm-lite package: pip install 'genomic-ulmfit[gkmsvm]'") from None


__all__ = ["FIT_RECORD", "FIT_STARTED", "check_models_available", "cross_species", "ensure_split", "fit_for",
           "fit_key", "parse_models", "parse_species", "run_benchmark"]
