"""Genome language models: pretraining on genome FASTA and fine-tuning on a dataset's sequences.

An LM directory holds::

    lm.json             kind, AWD-LSTM config, tokenizer, training record (corpus, epochs, losses)
    lm.safetensors      LanguageModel weights (the decoder is tied to the embedding)
    corpus/             the tokenized corpus (memmap + manifest), reused when still valid
    checkpoints/, metrics.jsonl   written by the training loop (resume with ``resume=True``)
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genomic_ulmfit.config import LMTrainConfig, Preset, get_preset
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.utils import (
    git_commit,
    package_versions,
    read_json,
    resolve_device,
    set_seed,
    write_json_atomic,
)

LM_JSON = "lm.json"
LM_WEIGHTS = "lm.safetensors"


def lm_config(preset: Preset, tokenizer, drop_mult: float):
    """The AWD-LSTM language-model config of ``preset`` for ``tokenizer``'s vocabulary."""
    from genomic_ulmfit.models.awd_lstm import AWDLSTMConfig

    s = preset.lstm
    return AWDLSTMConfig(
        vocab_size=tokenizer.vocab_size, emb_size=s.emb_size, hidden_size=s.hidden_size, n_layers=s.n_layers,
        pad_id=tokenizer.pad_id, **s.lm_dropouts,
    ).scaled(drop_mult)


def save_language_model(out_dir: str | os.PathLike, model, tokenizer, record: dict[str, Any]) -> Path:
    """Write ``lm.safetensors`` + ``lm.json`` (atomic) and return the directory."""
    from safetensors.torch import save_model

    from genomic_ulmfit.utils import atomic_path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / LM_WEIGHTS) as tmp:
        save_model(model, str(tmp))
    write_json_atomic(out / LM_JSON, {
        "kind": "awd_lstm_lm", "config": model.cfg.to_dict(), "tokenizer": tokenizer.to_dict(), **record,
    })
    return out


def read_lm_meta(lm_dir: str | os.PathLike) -> dict[str, Any]:
    """``lm.json`` of an LM directory, or a one-line InputError."""
    path = Path(lm_dir) / LM_JSON
    if not path.is_file():
        raise InputError(
            f"{lm_dir}: no {LM_JSON} here; give a directory written by 'lm pretrain' or 'lm finetune'"
        )
    return read_json(path)


def preset_mismatch(lm_dir: str | os.PathLike, preset: str | Preset) -> str | None:
    """How the LM in ``lm_dir`` differs from ``preset``'s tokenizer and LSTM sizes, or None.

    Whatever is fine-tuned or trained on a pretrained LM keeps the LM's k-mers and sizes, so a
    preset that says otherwise is not what runs.
    """
    p = preset if isinstance(preset, Preset) else get_preset(preset)
    meta = read_lm_meta(lm_dir)
    tok, cfg = meta.get("tokenizer") or {}, meta.get("config") or {}
    have = {"k": tok.get("k"), "stride": tok.get("stride"), "emb_size": cfg.get("emb_size"),
            "hidden_size": cfg.get("hidden_size"), "n_layers": cfg.get("n_layers")}
    want = {"k": p.tokenizer.k, "stride": p.tokenizer.stride, "emb_size": p.lstm.emb_size,
            "hidden_size": p.lstm.hidden_size, "n_layers": p.lstm.n_layers}
    diff = [f"{key} {have[key]} (preset: {want[key]})" for key in have if have[key] != want[key]]
    if not diff:
        return None
    return (f"the LM in {lm_dir} has {', '.join(diff)}; the model built on it keeps the LM's settings"
            + (f" (it was built with --preset {meta['preset']})" if isinstance(meta.get("preset"), str) else ""))


def total_tokens_seen(meta: dict[str, Any]) -> int:
    """Training tokens an LM has seen over all its runs (``lm.json``'s ``used``): a run continued
    with ``--init`` records the running total; a run from scratch only its own count."""
    used = meta.get("used") or {}
    return int(used.get("total_train_tokens_seen", used.get("train_tokens_seen", 0)))


def load_language_model(lm_dir: str | os.PathLike, *, drop_mult: float | None = None):
    """Rebuild ``(LanguageModel, KmerTokenizer, meta)`` from an LM directory (no pickle).

    ``drop_mult`` rescales the saved dropouts (relative to the saved config's base values).
    """
    from safetensors.torch import load_model

    from genomic_ulmfit.models.awd_lstm import AWDLSTMConfig, LanguageModel
    from genomic_ulmfit.tokenize import KmerTokenizer

    meta = read_lm_meta(lm_dir)
    cfg = AWDLSTMConfig.from_dict(meta["config"])
    if drop_mult is not None:
        base = meta.get("base_dropouts")
        if base:
            cfg = AWDLSTMConfig.from_dict({**cfg.to_dict(), **base}).scaled(drop_mult)
    model = LanguageModel(cfg)
    weights = Path(lm_dir) / LM_WEIGHTS
    if not weights.is_file():
        raise InputError(f"{weights}: missing; the LM directory is incomplete (re-run or --resume the training)")
    load_model(model, str(weights))
    return model, KmerTokenizer.from_dict(meta["tokenizer"]), meta


def sample_documents(tokens: np.ndarray, starts: np.ndarray, max_tokens: int, seed: int):
    """A seeded random subset of whole documents holding about ``max_tokens`` tokens.

    ``tokens`` (n,) and ``starts`` (n_docs,) as in :class:`~genomic_ulmfit.data.corpus.Corpus`.
    Returns ``(tokens, starts)`` of the subset (a copy, in the original order); the input when it
    is already small enough. Used so a capped run sees the whole genome's diversity, not its start.
    """
    if len(tokens) <= max_tokens:
        return tokens, starts
    ends = np.append(starts[1:], len(tokens))
    lengths = ends - starts
    order = np.random.default_rng(seed).permutation(len(starts))
    keep = np.sort(order[: max(1, int(np.searchsorted(np.cumsum(lengths[order]), max_tokens)) + 1)])
    parts = [np.asarray(tokens[starts[i] : ends[i]]) for i in keep]
    new_lengths = lengths[keep]
    return np.concatenate(parts), np.concatenate(([0], np.cumsum(new_lengths)[:-1])).astype(np.int64)


def _corpus_digest(corpus) -> str:
    """sha256 of a corpus's train and valid token streams (what the LM reads, whatever built it)."""
    h = hashlib.sha256()
    for arr in (corpus.train_tokens, corpus.valid_tokens):
        h.update(np.ascontiguousarray(arr).data)
    return h.hexdigest()


def _train_lm(model, corpus, train_cfg: LMTrainConfig, out_dir: Path, *, stage: str, resume: bool, device,
              seed: int, progress: bool, start: str | None):
    """Run one fit_one_cycle of ``model`` on ``corpus`` (``start``: the LM it starts from, or None).

    Every checkpoint records the run's settings (the corpus's tokens, the schedule, the seed, the
    sizes, the starting LM), so ``resume`` refuses to continue a run with different ones.

    Returns ``(FitResult, used)`` where ``used`` counts the tokens actually trained and validated on
    (``train_tokens_per_epoch``, ``valid_tokens``, ``train_tokens_seen``) and the autocast ``amp``.
    """
    from genomic_ulmfit.data.corpus import LMBatches
    from genomic_ulmfit.training.loop import LanguageModelTask, amp_name, fit_one_cycle

    train_tokens, starts = corpus.train_tokens, corpus.train_starts
    if train_cfg.max_tokens is not None:
        train_tokens, starts = sample_documents(train_tokens, starts, train_cfg.max_tokens, seed)
    bs = train_cfg.batch_size
    need = bs * (train_cfg.bptt + 1)
    if len(train_tokens) < need:
        raise InputError(
            f"LM corpus too small: {len(train_tokens)} training tokens but batch size {bs} × bptt "
            f"{train_cfg.bptt} needs at least {need}; give more sequence (or a preset with smaller batches: "
            "tiny has the smallest)"
        )
    # Documents (genome pieces or sequences) are shuffled every epoch, as fastai's LM loader does.
    train = LMBatches(train_tokens, bs, train_cfg.bptt, doc_starts=starts, shuffle_docs=True, jitter=True,
                      seed=seed)
    valid_tokens = corpus.valid_tokens
    if train_cfg.max_tokens is not None:  # keep validation cheap in capped (quick) runs
        valid_tokens, _ = sample_documents(valid_tokens, corpus.valid_starts, max(need * 4, train_cfg.max_tokens // 20),
                                           seed + 1)
    valid = LMBatches(valid_tokens, bs, train_cfg.bptt, jitter=False, seed=seed) if len(valid_tokens) > need else None
    settings = {"seed": seed, "start": start, "tokenizer": corpus.manifest["tokenizer"], "sizes": model.cfg.to_dict(),
                "schedule": dataclasses.asdict(train_cfg), "corpus_sha256": _corpus_digest(corpus)}
    result = fit_one_cycle(
        model, LanguageModelTask(), train, valid, epochs=train_cfg.epochs, lr=train_cfg.lr, moms=train_cfg.moms,
        wd=train_cfg.wd, clip=train_cfg.clip, device=device, out_dir=out_dir, resume=resume, stage_name=stage,
        select_metric="valid_loss" if valid is not None else None, select_mode="min",
        restore_best=valid is not None, progress=progress, seed=seed,
        meta={"kind": f"lm-{stage}", "settings": settings},
    )
    used = {"train_tokens_per_epoch": int(len(train_tokens)),
            "valid_tokens": int(len(valid_tokens)) if valid is not None else 0,
            "train_tokens_seen": int(len(train_tokens)) * train_cfg.epochs,
            "amp": amp_name(device)}  # autocast precision (weights stay fp32)
    return result, used


def _record(preset: Preset, train_cfg: LMTrainConfig, corpus, trained, seconds: float, seed: int, **extra):
    result, used = trained
    hist = result.history
    return {
        "preset": preset.name,
        "train_config": {k: getattr(train_cfg, k) for k in train_cfg.__dataclass_fields__},
        "base_dropouts": preset.lstm.lm_dropouts,
        "corpus": {"dir": str(corpus.directory), "train_tokens": int(len(corpus.train_tokens)),
                   "valid_tokens": int(len(corpus.valid_tokens)),
                   # genome chunks kept / dropped for an N or IUPAC base (mode "chunks")
                   **{k: v for k, v in (corpus.manifest.get("counts") or {}).items() if k.startswith("chunks_")}},
        "used": used,
        "history": hist,
        "final": hist[-1] if hist else None,
        "best": result.best,
        "seconds": round(seconds, 1),
        "seed": seed,
        "versions": package_versions(),
        "git_commit": git_commit(),
        **extra,
    }


def pretrain_lm(
    fasta_paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    preset: str | Preset = "cpu",
    k: int | None = None,
    stride: int | None = None,
    mode: str = "chunks",
    max_bases: int | None = None,
    seed: int = 0,
    device: str | None = None,
    resume: bool = False,
    progress: bool = True,
    init_from: str | os.PathLike | None = None,
) -> Path:
    """Pretrain an AWD-LSTM LM on genome FASTA files (the seed's primate LM).

    Parameters
    ----------
    fasta_paths : path or list of paths
        Genome FASTA (gzip fine). Chunked as in Genomic-ULMFiT: N-free 10 kb chunks cut into 2 kb
        pieces (``mode="chunks"``), or contiguous N-free runs (``mode="stream"``).
    out_dir : path
        LM directory (see module docstring).
    preset : str or Preset, default "cpu"
        Sizes, dropouts and the ``pretrain`` schedule.
    k, stride : int, optional
        Override the preset's tokenizer.
    max_bases : int, optional
        Read at most this many bases (quick runs).
    seed, device, resume, progress : as elsewhere.
    init_from : path, optional
        An LM directory to continue from (warm start): its weights are the starting point and its
        tokenizer and sizes must match. With a new ``seed`` the capped sample of pieces differs, so
        the extra pretraining sees mostly new sequence; the record sums the tokens of both runs.
    """
    from genomic_ulmfit.data.corpus import build_genome_corpus
    from genomic_ulmfit.models.awd_lstm import LanguageModel
    from genomic_ulmfit.tokenize import KmerTokenizer

    p = preset if isinstance(preset, Preset) else get_preset(preset)
    tok = KmerTokenizer(p.tokenizer.k if k is None else k, p.tokenizer.stride if stride is None else stride)
    out = Path(out_dir)
    if isinstance(fasta_paths, (str, os.PathLike)):
        fasta_paths = [fasta_paths]
    for f in fasta_paths:
        if not Path(f).is_file():
            raise InputError(f"{f}: genome FASTA not found")
    if max_bases is not None and max_bases < 1:
        raise ConfigError(f"max_bases (--max-bases) {max_bases} reads nothing; give a positive number of bases")
    set_seed(seed)
    t0 = time.time() - _trained_before(out, resume)
    # checked before the corpus is built (minutes on a genome), not after
    model = LanguageModel(lm_config(p, tok, p.pretrain.drop_mult))
    init_meta = _warm_start(model, tok, init_from) if init_from is not None else None
    corpus = build_genome_corpus(
        [str(f) for f in fasta_paths], tok, out / "corpus", mode=mode, valid_frac=p.pretrain.valid_frac,
        seed=seed, max_bases=max_bases, progress=progress,
    )
    trained = _train_lm(model, corpus, p.pretrain, out, stage="pretrain", resume=resume,
                       device=resolve_device(device), seed=seed, progress=progress,
                       start=str(Path(init_from).resolve()) if init_from is not None else None)
    record = _record(p, p.pretrain, corpus, trained, time.time() - t0, seed, stage="pretrain",
                     sources=[str(f) for f in fasta_paths], pretrained_from=str(init_from) if init_from else None)
    if init_meta is not None:
        record["used"]["total_train_tokens_seen"] = total_tokens_seen(init_meta) + record["used"]["train_tokens_seen"]
        record["total_seconds"] = round(float(init_meta.get("total_seconds", init_meta.get("seconds", 0))) +
                                        record["seconds"], 1)
        record["pretrained_meta"] = {k: init_meta.get(k) for k in ("preset", "used", "final", "seconds", "seed")}
    return save_language_model(out, model.cpu(), tok, record)


def _trained_before(out: Path, resume: bool) -> float:
    """Seconds a stopped run in ``out`` had trained, which a resumed run's record adds to its own."""
    from genomic_ulmfit.training.loop import trained_seconds

    return trained_seconds(out) if resume else 0.0


def _warm_start(model, tok, lm_dir: str | os.PathLike) -> dict[str, Any]:
    """Copy the weights of the LM in ``lm_dir`` into ``model`` (same tokenizer and sizes)."""
    src, src_tok, meta = load_language_model(lm_dir)
    if (src_tok.k, src_tok.stride) != (tok.k, tok.stride):
        raise ConfigError(f"{lm_dir}: its tokens are {src_tok.k}-mer/{src_tok.stride}, not {tok.k}-mer/{tok.stride}; "
                          "continue it with the same --kmer/--stride")
    mine, theirs = model.state_dict(), src.state_dict()
    bad = [k for k in mine if k not in theirs or theirs[k].shape != mine[k].shape]
    if bad:
        own = meta.get("preset")
        fix = f"continue it with --preset {own}" if isinstance(own, str) and own else "continue it with its own preset"
        raise ConfigError(f"{lm_dir}: its sizes differ from the preset's ({bad[0]}); {fix}")
    model.load_state_dict(theirs)
    return meta


def finetune_lm(
    sequences: Sequence[str],
    out_dir: str | os.PathLike,
    *,
    from_dir: str | os.PathLike | None,
    preset: str | Preset = "cpu",
    seed: int = 0,
    device: str | None = None,
    resume: bool = False,
    progress: bool = True,
    data_info: dict[str, Any] | None = None,
) -> Path:
    """Fine-tune a (pretrained) LM on the target sequences, as the seed does per species.

    ``from_dir=None`` trains the LM from scratch on the sequences (the "no genome pretraining"
    ablation). Only pass training sequences: the LM must not see test sequences.
    """
    from genomic_ulmfit.data.corpus import build_sequence_corpus
    from genomic_ulmfit.models.awd_lstm import LanguageModel
    from genomic_ulmfit.tokenize import KmerTokenizer

    p = preset if isinstance(preset, Preset) else get_preset(preset)
    out = Path(out_dir)
    set_seed(seed)
    t0 = time.time() - _trained_before(out, resume)
    if from_dir is not None:
        model, tok, src_meta = load_language_model(from_dir, drop_mult=p.finetune.drop_mult)
    else:
        tok = KmerTokenizer(p.tokenizer.k, p.tokenizer.stride)
        model, src_meta = LanguageModel(lm_config(p, tok, p.finetune.drop_mult)), None
    seqs = list(sequences)
    if not seqs:
        raise InputError("LM fine-tuning needs at least one training sequence")
    corpus = build_sequence_corpus(seqs, tok, out / "corpus", valid_frac=p.finetune.valid_frac, seed=seed)
    trained = _train_lm(model, corpus, p.finetune, out, stage="finetune", resume=resume,
                       device=resolve_device(device), seed=seed, progress=progress,
                       start=str(Path(from_dir).resolve()) if from_dir is not None else None)
    return save_language_model(out, model.cpu(), tok, _record(
        p, p.finetune, corpus, trained, time.time() - t0, seed, stage="finetune",
        pretrained_from=str(from_dir) if from_dir else None,
        pretrained_meta={k: src_meta.get(k) for k in ("preset", "sources", "corpus", "final")} if src_meta else None,
        data=data_info,
    ))


def lm_accuracy(lm_dir: str | os.PathLike, sequences: Sequence[str], *, batch_size: int = 32, bptt: int = 70,
                device: str | None = None) -> dict[str, float]:
    """Next-token loss and accuracy of a saved LM on ``sequences`` (each its own document), always
    in fp32 whatever ``--amp`` says, so that LMs trained in different precisions compare exactly."""
    import torch

    from genomic_ulmfit.data.corpus import LMBatches
    from genomic_ulmfit.models.base import check_sequences

    model, tok, _ = load_language_model(lm_dir)
    seqs = check_sequences(sequences, "LM evaluation")
    if sum(max(0, (len(q) - tok.k) // tok.stride + 1) for q in seqs) < 2:
        raise InputError(f"LM evaluation data: {len(seqs)} sequence(s) hold fewer than two {tok.k}-mer tokens; "
                         "give more or longer sequences")
    dev = resolve_device(device)
    model.to(dev).eval()
    ids = [np.concatenate([[tok.bos_id], t]) for t in tok.encode(seqs, pad=False)]
    stream = np.concatenate(ids).astype(np.int64)
    data = LMBatches(stream, min(batch_size, max(1, len(stream) // (bptt + 1))), bptt, jitter=False, seed=0)
    loss_sum, correct, n, state = 0.0, 0, 0, None
    with torch.no_grad():
        for b in data.batches(0):
            x, y = b["x"].to(dev), b["y"].to(dev)
            logits, state, _ = model(x, state)
            loss_sum += torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
            correct += (logits.argmax(-1) == y).sum().item()
            n += y.numel()
    return {"loss": loss_sum / max(n, 1), "accuracy": correct / max(n, 1), "tokens": n}
