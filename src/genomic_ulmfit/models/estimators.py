"""Fit/predict estimators over DNA strings: ULMFiT and CNN (plus k-mer, gkm-SVM and the ensemble, imported here).

Each estimator wraps an ``nn.Module`` from :mod:`genomic_ulmfit.models` and the shared training
loop (:func:`genomic_ulmfit.training.loop.fit_one_cycle`) behind the uniform
:class:`~genomic_ulmfit.models.base.SequenceModel` interface, and saves itself as
``model.json`` + ``model.safetensors``.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genomic_ulmfit.data.corpus import ArrayBatches
from genomic_ulmfit.data.sequences import revcomp
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.base import (
    SequenceModel,
    batch_or,
    check_binary_labels,
    check_finite,
    check_sequences,
    read_model_json,
    register_model,
)
from genomic_ulmfit.models.ensemble import EnsembleModel  # (registers "ensemble")
from genomic_ulmfit.models.gkm import GkmSVM  # noqa: F401  (registers "gkm")
from genomic_ulmfit.models.gkmsvm import GkmSvm  # noqa: F401  (registers "gkmsvm")
from genomic_ulmfit.models.kmer import KmerLogistic  # noqa: F401  (registers "kmer")
from genomic_ulmfit.models.names import VARIANTS, model_variants, split_name, uses_copies_genome, uses_motifs
from genomic_ulmfit.utils import resolve_device, set_seed, write_json_atomic

WEIGHTS = "model.safetensors"


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def holdout_split(labels: np.ndarray, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train_idx, valid_idx) with ``frac`` of each class in valid (at least 1 each)."""
    rng = np.random.default_rng(seed)
    tr, va = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_va = max(1, int(round(frac * len(idx)))) if len(idx) > 1 else 0
        va.append(idx[:n_va])
        tr.append(idx[n_va:])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(va))


RUN_ONLY_FIELDS = ("seconds", "total_seconds", "versions", "git_commit")
"""``lm.json`` fields that describe a run of the LM's training, not the LM (see :func:`fit_settings`)."""


def fit_settings(params: dict[str, Any], schedule: dict[str, Any], sequences, labels, valid_sequences=None,
                 valid_labels=None) -> dict[str, Any]:
    """What a stopped fit must match to be resumed (``fit(resume=True)``): the model's parameters,
    its resolved schedule and configuration, and a sha256 of the data it trains and selects on.

    Paths are not compared as spelled: the preset counts by its contents (in ``schedule``), a
    ULMFiT encoder by a sha256 of its ``lm.json`` (``encoder_sha256``) without the fields that say
    how it was run rather than what it is (:data:`RUN_ONLY_FIELDS`: a resumed LM fine-tune writes its
    wall time again, a tenth of a second off), so ``lm/`` and its absolute path are the same
    encoder. JSON-normalised (tuples as lists, numpy scalars as numbers), as the
    checkpoint it is compared with was read from JSON.
    """
    import hashlib
    import json

    from genomic_ulmfit.training.lm import LM_JSON

    h = hashlib.sha256()
    for seqs, labs in ((sequences, labels), (valid_sequences, valid_labels)):
        h.update(b"\x00".join(str(q).encode() for q in (seqs if seqs is not None else [])) + b"\x01")
        h.update(np.asarray(labs if labs is not None else [], dtype=np.int64).tobytes() + b"\x01")
    kept = {k: v for k, v in params.items() if k not in ("preset", "encoder")}
    if params.get("encoder") is not None:
        lm_json = Path(params["encoder"]) / LM_JSON
        if lm_json.is_file():
            record = {k: v for k, v in json.loads(lm_json.read_text()).items() if k not in RUN_ONLY_FIELDS}
            kept["encoder_sha256"] = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
        else:
            kept["encoder_sha256"] = str(params["encoder"])
    settings = {"params": kept, "schedule": schedule, "data_sha256": h.hexdigest()}
    return json.loads(json.dumps(settings, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)))


def _train_valid(sequences, labels, valid_sequences, valid_labels, valid_frac, seed, min_length: int = 1):
    """Training and validation sequences/labels; validation is carved from training when absent."""
    seqs = check_sequences(sequences, "training", min_length=min_length)
    y = check_binary_labels(seqs, labels, "training")
    vseqs = None if valid_sequences is None else check_sequences(valid_sequences, "validation", min_length=min_length)
    if vseqs:
        # both classes: the epoch kept is the one with the best validation AUROC
        vy = check_binary_labels(vseqs, valid_labels, "validation")
        return seqs, y, vseqs, vy
    if not (isinstance(valid_frac, numbers.Real) and 0 < valid_frac < 1):
        raise ConfigError(f"valid_frac {valid_frac!r}: give the share of the training sequences held out for "
                          "validation, between 0 and 1 (0.1 is the default)")
    tr, va = holdout_split(y, valid_frac, seed)
    if len(np.unique(y[va])) < 2:
        raise InputError(f"training data: {len(y)} sequences are too few to hold out {valid_frac:.0%} of each class "
                         "for validation; give more sequences, or valid_sequences and valid_labels")
    return [seqs[i] for i in tr], y[tr], [seqs[i] for i in va], y[va]


def _save_weights(model, path: Path) -> None:
    from safetensors.torch import save_model

    from genomic_ulmfit.utils import atomic_path

    with atomic_path(path) as tmp:
        save_model(model, str(tmp))


def _load_weights(model, path: Path) -> None:
    from safetensors.torch import load_model

    if not path.is_file():
        raise InputError(f"{path}: weights file missing; the run directory is incomplete")
    try:
        load_model(model, str(path))
    except Exception as exc:  # safetensors' own error type, or RuntimeError for missing/extra/misshaped tensors
        raise InputError(f"{path}: these weights do not fit the model its model.json describes ({exc}); "
                         "train the model again") from None
    check_finite(model.state_dict().items(), path)


@contextlib.contextmanager
def _eval_mode(model):
    """Eval mode inside the block; the caller's mode is restored afterwards."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def _predict_batches(model, make_x, n: int, batch_size: int, device) -> np.ndarray:
    """softmax P(class 1) of ``model(make_x(i, j))`` over index ranges, shape (n,), under the
    training loop's autocast (:func:`~genomic_ulmfit.training.loop.resolve_amp`)."""
    import torch

    from genomic_ulmfit.training.loop import resolve_amp

    amp = resolve_amp(None, device)
    out = np.empty(n, dtype=np.float64)
    with _eval_mode(model), torch.no_grad(), torch.autocast(device.type, dtype=amp or torch.float32,
                                                             enabled=amp is not None):
        for i in range(0, n, batch_size):
            j = min(n, i + batch_size)
            logits = model(make_x(i, j).to(device))
            out[i:j] = torch.softmax(logits.float(), dim=-1)[:, 1].cpu().numpy()
    return out


def _predict_longest_first(model, rows: np.ndarray, lengths: np.ndarray, to_tensor, batch_size: int,
                           device) -> np.ndarray:
    """:func:`_predict_batches` over right-padded ``rows`` (n, L) sorted longest first, each batch cut
    to its longest member (models that ignore padding); P(class 1) back in input order."""
    order = np.argsort(-lengths, kind="stable")
    rows, lengths = rows[order], lengths[order]
    p = _predict_batches(model, lambda i, j: to_tensor(rows[i:j, : max(1, int(lengths[i]))]), len(rows),
                         batch_size, device)
    out = np.empty_like(p)
    out[order] = p
    return out


# ---------------------------------------------------------------------------------------------
# ULMFiT
# ---------------------------------------------------------------------------------------------


def _pad_to(a: np.ndarray, width: int) -> np.ndarray:
    if a.shape[1] == width:
        return a
    out = np.zeros((a.shape[0], width), dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


def token_views(tokenizer, sequences: Sequence[str], *, strands: bool = True, frames: bool = True) -> np.ndarray:
    """Every way the tokenizer can read each sequence, stacked: (n, views, T), right-padded.

    View 0 is the forward strand from base 0 (the plain tokenization). ``strands`` adds the reverse
    complement; ``frames`` adds the other k-mer frames, i.e. each strand read from base
    1 … stride-1 (with stride 2, a 4-mer/2 tokenization sees only every other k-mer start, and
    the second frame holds the rest). Order: (fwd, rc) for frame 0, then for frame 1, …; the rc
    view of frame f is the reverse complement read from its base f, so the views of a sequence's
    reverse complement are the same arrays with fwd/rc swapped. Sequences too short for a frame
    (fewer than k bases from its offset) repeat frame 0.
    """
    seqs = list(sequences)
    rcs = [revcomp(q) for q in seqs] if strands else []
    views = []
    for f in range(tokenizer.stride if frames else 1):
        for strand in (seqs, rcs) if strands else (seqs,):
            views.append(tokenizer.encode([q[f:] if len(q) - f >= tokenizer.k else q for q in strand], pad=True))
    width = max(v.shape[1] for v in views)
    return np.stack([_pad_to(v, width) for v in views], axis=1)


def _view_pick(views: np.ndarray, rng) -> Any:
    """From a stacked (B, V, T) token batch pick one view per row at random → LongTensor (B, T)."""
    import torch

    pick = rng.integers(0, views.shape[1], size=views.shape[0])
    return torch.as_tensor(_trim(views[np.arange(views.shape[0]), pick]).astype(np.int64))


def _batch_lengths(views: np.ndarray, batch_size: int | None = None,
                           max_tokens: int | None = None) -> np.ndarray | None:
    """Tokens in each row's longest view of right-padded (n, V, T) views, or None for plain batches.

    The lengths are needed (for :class:`ArrayBatches`' ``lengths``) when rows differ in length, to
    cut each batch to its longest member (and, for validation, to batch similar lengths), or when
    a full batch of ``batch_size`` rows would pass ``max_tokens``, for the token budget to apply.
    Otherwise None keeps the plain batches.
    """
    lens = (views != 0).sum(axis=-1).max(axis=-1).astype(np.int64)
    if not len(lens):
        return None
    over = batch_size is not None and max_tokens is not None and batch_size * int(lens.max()) > max_tokens
    return lens if lens.min() != lens.max() or over else None


def _first_view(views: np.ndarray, rng) -> Any:
    import torch

    return torch.as_tensor(views[:, 0].astype(np.int64))


@register_model
class ULMFiTModel(SequenceModel):
    """Genomic-ULMFiT classifier: AWD-LSTM encoder (optionally from a fine-tuned LM) + pooling head.

    Parameters
    ----------
    preset : str, default "cpu"
        Named preset or preset JSON (sizes, dropouts, gradual-unfreezing stages).
    encoder : str or Path, optional
        Directory of a (fine-tuned) language model written by ``lm pretrain``/``lm finetune``; its
        tokenizer and sizes are used. Without it the encoder starts from random weights.
    seed : int, default 0
    device : str, optional
        ``None`` → CUDA when present.
    rc_augment : bool, default True
        Train on a random strand of each sequence per epoch (the LSTM reads one direction only).
    rc_average : bool, default True
        Average P(enhancer) over both strands at prediction time.
    frames : bool, default True
        Also read every k-mer frame (the sequence from base 1 … stride-1): a random frame per
        sequence and epoch in training, the average over frames at prediction (see
        :func:`token_views`). Without it a stride-2 model never sees half of the k-mer starts.
    select_metric : str, default "auroc"
        Validation metric that picks the epoch whose weights are kept.
    composition : bool, default False
        Give the head the mean input embedding too (k-mer composition in the LM's embedding
        space; see :class:`~genomic_ulmfit.models.awd_lstm.ULMFiTClassifier`).
    batch_tokens : int or None, default 65536
        Training batches hold at most this many (padded) tokens: batches of long sequences get
        fewer rows, so memory stays bounded (the classifier backpropagates through the whole
        sequence: at the ``cpu`` preset a VISTA fit took 14 GB with 64 elements of 8 kb per batch,
        4.3 GB with this budget). 64 × 1,024 leaves full batches for sequences up to ~2 kb
        (4-mer/2); None: no limit.
    """

    kind = "ulmfit"

    def __init__(
        self,
        preset: str = "cpu",
        encoder: str | os.PathLike | None = None,
        *,
        seed: int = 0,
        device: str | None = None,
        rc_augment: bool = True,
        rc_average: bool = True,
        frames: bool = True,
        select_metric: str = "auroc",
        composition: bool = False,
        batch_tokens: int | None = 65536,
    ):
        self.preset = preset
        self.encoder = encoder
        self.seed = seed
        self.device = device
        self.rc_augment = rc_augment
        self.rc_average = rc_average
        self.frames = frames
        self.select_metric = select_metric
        self.composition = composition
        self.batch_tokens = batch_tokens

    def get_params(self) -> dict[str, Any]:
        return {
            "preset": str(self.preset),
            "encoder": str(self.encoder) if self.encoder else None,
            "seed": self.seed,
            "rc_augment": self.rc_augment,
            "rc_average": self.rc_average,
            "frames": self.frames,
            "select_metric": self.select_metric,
            "composition": self.composition,
            "batch_tokens": self.batch_tokens,
        }

    # -- construction ------------------------------------------------------------------------
    def _build(self, tokenizer, lstm_sizes: dict[str, int], dropouts: dict[str, float], drop_mult: float):
        from genomic_ulmfit.models.awd_lstm import AWDLSTMConfig, ULMFiTClassifier

        cfg = AWDLSTMConfig(
            vocab_size=tokenizer.vocab_size, pad_id=tokenizer.pad_id, **lstm_sizes, **dropouts
        ).scaled(drop_mult)
        return cfg, ULMFiTClassifier(cfg, head_ps=(cfg.output_p, 0.1), composition=self.composition)

    def prepare(self, sequences, labels, valid_sequences=None, valid_labels=None) -> dict[str, Any]:
        """Everything training needs: model (encoder loaded), tokenizer, config and batches.

        Shared by :meth:`fit` and the LR finder. Returns a dict with ``model``, ``tokenizer``,
        ``config``, ``train_data``, ``valid_data``, ``preset``, ``encoder_meta``.
        """
        from genomic_ulmfit.config import get_preset
        from genomic_ulmfit.tokenize import KmerTokenizer
        from genomic_ulmfit.training.lm import load_language_model

        preset = get_preset(self.preset)
        ccfg = preset.classifier
        set_seed(self.seed)
        if self.encoder:
            lm, tokenizer, lm_meta = load_language_model(self.encoder)
            sizes = {k: getattr(lm.cfg, k) for k in ("emb_size", "hidden_size", "n_layers")}
        else:
            lm, lm_meta = None, None
            tokenizer = KmerTokenizer(preset.tokenizer.k, preset.tokenizer.stride)
            sizes = {"emb_size": preset.lstm.emb_size, "hidden_size": preset.lstm.hidden_size,
                     "n_layers": preset.lstm.n_layers}
        cfg, model = self._build(tokenizer, sizes, preset.lstm.clas_dropouts, ccfg.drop_mult)
        if lm is not None:
            model.load_encoder_state(lm.encoder_state())

        tr_s, tr_y, va_s, va_y = _train_valid(sequences, labels, valid_sequences, valid_labels,
                                              ccfg.valid_frac, self.seed, min_length=tokenizer.k)
        tr_views = token_views(tokenizer, tr_s, strands=self.rc_augment, frames=self.frames)  # (n, V, T)
        va_views = token_views(tokenizer, va_s, strands=False, frames=False)
        # Mixed lengths (e.g. NHLF, 406–996 bp): each batch is cut to its longest member (the encoder
        # ignores right padding) and long batches hold fewer rows (batch_tokens; validation, without
        # gradients, twice the budget with twice the rows). Training batches are drawn in random
        # order (sortish=1), not grouped by length as the CNN's are: the head's BatchNorm then sees
        # batches of one length in training but every length in eval, and on NHLF (length alone
        # 0.62 AUROC) grouped batches cost 0.033 test AUROC on one CV fold (0.819 vs 0.852).
        # (Only a random draw of batch_size rows that passes batch_tokens, as on VISTA, is split into
        # parts of similar length.) Validation order does not matter (eval mode): longest first.
        cap = self.batch_tokens
        vcap = None if cap is None else 2 * cap
        return {
            "model": model, "tokenizer": tokenizer, "config": cfg, "preset": preset, "encoder_meta": lm_meta,
            "train_data": ArrayBatches(tr_views, tr_y, ccfg.batch_size, shuffle=True, seed=self.seed,
                                       transform=_view_pick, drop_last=len(tr_y) > ccfg.batch_size,
                                       lengths=_batch_lengths(tr_views, ccfg.batch_size, cap),
                                       max_tokens=cap, sortish=1),
            "valid_data": ArrayBatches(va_views, va_y, ccfg.batch_size * 2, shuffle=False, transform=_first_view,
                                       lengths=_batch_lengths(va_views, ccfg.batch_size * 2, vcap),
                                       max_tokens=vcap),
        }

    def fit(self, sequences, labels, valid_sequences=None, valid_labels=None, *, out_dir=None, progress=True,
            resume: bool = False):
        from genomic_ulmfit.training.loop import amp_name

        prep = self.prepare(sequences, labels, valid_sequences, valid_labels)
        model = prep["model"]
        device = resolve_device(self.device)
        with contextlib.ExitStack() as stack:
            if out_dir is None:  # the run state lives on disk: the best epoch of all stages, as with out_dir
                out_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="genomic-ulmfit-fit-"))
            settings = fit_settings(self.get_params(), {**prep["preset"].to_dict(), "amp": amp_name(device)},
                                    sequences, labels, valid_sequences, valid_labels)
            self._fit_stages(prep, device, out_dir, progress, resume, settings)
        for p in model.parameters():
            p.requires_grad_(True)
        self.model_, self.tokenizer_, self.config_ = model.to(device), prep["tokenizer"], prep["config"]
        self.encoder_meta_ = prep["encoder_meta"]
        self.device_ = device
        return self

    def _fit_stages(self, prep, device, out_dir, progress: bool, resume: bool, settings: dict | None = None) -> None:
        """The gradual-unfreezing stages, one :func:`fit_one_cycle` each; the run's best epoch (by
        ``select_metric``, over all stages) is in ``prep["model"]`` at the end. ``settings``
        (:func:`fit_settings`) must match a stopped run's for ``resume`` to continue it."""
        from genomic_ulmfit.training.loop import ClassificationTask, auroc_metrics, fit_one_cycle

        model, ccfg = prep["model"], prep["preset"].classifier
        groups = model.layer_groups()
        mode = "min" if self.select_metric.endswith("loss") else "max"
        n_stages = len(ccfg.stages)
        for i, stage in enumerate(ccfg.stages):
            fit_one_cycle(
                model, ClassificationTask(ccfg.ar_alpha, ccfg.tar_beta), prep["train_data"], prep["valid_data"],
                epochs=stage.epochs, lr=stage.lr, moms=ccfg.moms, wd=ccfg.wd, clip=ccfg.clip,
                layer_groups=groups, freeze_to=-stage.n_groups if stage.n_groups else 0,
                device=device, out_dir=out_dir, resume=resume, stage_name=f"stage{i + 1}",
                select_metric=self.select_metric, select_mode=mode, restore_best=(i == n_stages - 1),
                metrics_fn=auroc_metrics, progress=progress, seed=self.seed + i,
                meta={"kind": self.kind, "params": self.get_params(), "settings": settings},
            )

    # -- prediction --------------------------------------------------------------------------
    def predict_proba(self, sequences, *, batch_size=None):
        import torch

        self._check_fitted()
        seqs = check_sequences(sequences, "prediction", min_length=self.tokenizer_.k)
        bs = batch_or(batch_size, 128)
        views = token_views(self.tokenizer_, seqs, strands=self.rc_average, frames=self.frames)

        def run(tokens: np.ndarray) -> np.ndarray:
            return _predict_longest_first(self.model_, tokens, (tokens != self.tokenizer_.pad_id).sum(1),
                                          lambda t: torch.as_tensor(t.astype(np.int64)), bs, self.device_)

        if not self.rc_average:
            return np.mean([run(views[:, v]) for v in range(views.shape[1])], axis=0)
        # fwd + rc first (exactly commutative), so a sequence and its reverse complement score alike.
        pairs = [run(views[:, v]) + run(views[:, v + 1]) for v in range(0, views.shape[1], 2)]
        return np.sum(pairs, axis=0) / views.shape[1]

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise ConfigError("this ULMFiT model is not fitted; call fit() or load a saved run")

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory):
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self._check_fitted()
        _save_weights(self.model_, d / WEIGHTS)
        write_json_atomic(d / "model.json", {
            "kind": self.kind,
            "params": self.get_params(),
            "config": self.config_.to_dict(),
            "tokenizer": self.tokenizer_.to_dict(),
            "encoder_meta": self.encoder_meta_,
        })

    @classmethod
    def load(cls, directory, device: str | None = None):
        from genomic_ulmfit.models.awd_lstm import AWDLSTMConfig, ULMFiTClassifier
        from genomic_ulmfit.tokenize import KmerTokenizer

        meta = read_model_json(directory, kind=cls.kind)
        params = meta.get("params", {})
        keys = ("preset", "encoder", "seed", "rc_augment", "rc_average", "frames", "select_metric", "composition",
                "batch_tokens")
        self = cls(**{k: v for k, v in params.items() if k in keys})
        self.frames = bool(params.get("frames", False))  # runs saved before frames existed read frame 0 only
        self.device = device
        cfg = AWDLSTMConfig.from_dict(meta["config"])
        model = ULMFiTClassifier(cfg, head_ps=(cfg.output_p, 0.1), composition=self.composition)
        _load_weights(model, Path(directory) / WEIGHTS)
        self.device_ = resolve_device(device)
        self.model_ = model.to(self.device_).eval()
        self.tokenizer_ = KmerTokenizer.from_dict(meta["tokenizer"])
        if self.tokenizer_.vocab_size != cfg.vocab_size:
            raise InputError(f"{directory}/model.json: its tokenizer has {self.tokenizer_.vocab_size} tokens, its "
                             f"weights {cfg.vocab_size}; the run directory was edited: train the model again")
        self.config_ = cfg
        self.encoder_meta_ = meta.get("encoder_meta")
        return self


def _trim(tokens: np.ndarray) -> np.ndarray:
    """Drop all-padding columns at the right end of a right-padded (B, T) batch."""
    nonpad = np.flatnonzero((tokens != 0).any(axis=0))
    return tokens[:, : (nonpad[-1] + 1 if len(nonpad) else 1)]


# ---------------------------------------------------------------------------------------------
# CNN
# ---------------------------------------------------------------------------------------------


def _lengths_if_mixed(sequences: Sequence[str]) -> np.ndarray | None:
    """Sequence lengths when they differ (for length-grouped batches), else None (plain batches)."""
    lens = np.fromiter(map(len, sequences), np.int64, len(sequences))
    return lens if len(lens) and lens.min() != lens.max() else None


def _one_hot_batch(codes: np.ndarray, rng, *, rc_augment: bool) -> Any:
    """uint8 base codes (B, L) → one-hot float tensor (B, 4, L), a random strand per row if asked."""
    import torch

    from genomic_ulmfit.models.cnn import codes_to_one_hot, revcomp_one_hot

    x = codes_to_one_hot(torch.as_tensor(codes))
    if rc_augment:
        flip = torch.as_tensor(rng.integers(0, 2, size=len(codes)).astype(bool))
        if flip.any():
            x[flip] = revcomp_one_hot(x[flip])
    return x


@register_model
class CNNModel(SequenceModel):
    """CNN baseline over one-hot DNA: ``arch="cohn"`` (Cohn et al. 2018) or ``"modern"``.

    Parameters
    ----------
    arch : {"modern", "cohn"}, default "modern"
    epochs, lr, batch_size, wd : training schedule (one-cycle AdamW); ``None`` → the preset's.
    preset : str, default "cpu"
    rc_augment : bool, optional
        Random reverse complement per training example (default: the preset's; the Cohn network
        is strand-symmetric in its first layer and the modern one by construction, so this
        mainly helps the dense layers of ``cohn``).
    seed, device : as elsewhere.
    config : dict, optional
        Overrides of :class:`~genomic_ulmfit.models.cnn.CNNConfig` fields, e.g.
        ``{"kmer_k": 0}`` for the modern CNN without its k-mer composition features.
    """

    kind = "cnn"

    def __init__(self, arch: str | None = None, *, preset: str = "cpu", epochs: int | None = None,
                 lr: float | None = None, batch_size: int | None = None, wd: float | None = None,
                 rc_augment: bool | None = None, seed: int = 0, device: str | None = None,
                 config: dict[str, Any] | None = None, valid_frac: float = 0.1):
        self.arch, self.preset, self.epochs, self.lr = arch, preset, epochs, lr
        self.batch_size, self.wd, self.rc_augment = batch_size, wd, rc_augment
        self.seed, self.device, self.config, self.valid_frac = seed, device, config, valid_frac

    def _resolved(self) -> dict[str, Any]:
        from genomic_ulmfit.config import get_preset

        c = get_preset(self.preset).cnn
        pick = lambda v, d: d if v is None else v  # noqa: E731
        return {
            "arch": pick(self.arch, c.arch), "epochs": pick(self.epochs, c.epochs), "lr": pick(self.lr, c.lr),
            "batch_size": pick(self.batch_size, c.batch_size), "wd": pick(self.wd, c.wd),
            "rc_augment": pick(self.rc_augment, c.rc_augment),
        }

    def get_params(self) -> dict[str, Any]:
        return {**self._resolved(), "preset": str(self.preset), "seed": self.seed, "config": self.config,
                "valid_frac": self.valid_frac}

    def prepare(self, sequences, labels, valid_sequences=None, valid_labels=None) -> dict[str, Any]:
        """Model, config, resolved schedule and batches (shared by :meth:`fit` and the LR finder)."""
        from genomic_ulmfit.models.cnn import CNNConfig, build_cnn, encode_bases

        p = self._resolved()
        for key, ok, need in (("lr", p["lr"] > 0, "> 0"), ("epochs", p["epochs"] >= 1, ">= 1"),
                              ("batch_size", p["batch_size"] >= 1, ">= 1"), ("wd", p["wd"] >= 0, ">= 0")):
            if not ok:
                raise ConfigError(f"cnn: {key} {p[key]!r} must be {need}")
        set_seed(self.seed)
        cfg = CNNConfig.from_dict({**(self.config or {}), "arch": p["arch"]})
        model = build_cnn(cfg)
        tr_s, tr_y, va_s, va_y = _train_valid(sequences, labels, valid_sequences, valid_labels,
                                              self.valid_frac, self.seed)
        cohn = cfg.arch == "cohn"
        length = cfg.seq_len if cohn else None
        tr_x = encode_bases(tr_s, length, center=cohn)
        va_x = encode_bases(va_s, length, center=cohn)
        aug = p["rc_augment"]
        # The modern CNN ignores padding: batch similar lengths together and cut each batch to its
        # longest member (mixed-length data such as VISTA would otherwise be mostly padding).
        tr_len, va_len = (None if cohn else _lengths_if_mixed(q) for q in (tr_s, va_s))
        return {
            "model": model, "config": cfg, "schedule": p,
            "train_data": ArrayBatches(tr_x, tr_y, p["batch_size"], shuffle=True, seed=self.seed,
                                       drop_last=len(tr_y) > p["batch_size"], lengths=tr_len,
                                       transform=lambda xb, rng: _one_hot_batch(xb, rng, rc_augment=aug)),
            "valid_data": ArrayBatches(va_x, va_y, p["batch_size"] * 2, shuffle=False, lengths=va_len,
                                       transform=lambda xb, rng: _one_hot_batch(xb, rng, rc_augment=False)),
        }

    def fit(self, sequences, labels, valid_sequences=None, valid_labels=None, *, out_dir=None, progress=True,
            resume: bool = False):
        from genomic_ulmfit.training.loop import ClassificationTask, amp_name, auroc_metrics, fit_one_cycle

        prep = self.prepare(sequences, labels, valid_sequences, valid_labels)
        model, p = prep["model"], prep["schedule"]
        device = resolve_device(self.device)
        fit_one_cycle(
            model, ClassificationTask(), prep["train_data"], prep["valid_data"], epochs=p["epochs"], lr=p["lr"],
            moms=(0.95, 0.85, 0.95), wd=p["wd"], clip=None, device=device, out_dir=out_dir, resume=resume,
            stage_name="cnn", select_metric="auroc", select_mode="max", restore_best=True,
            metrics_fn=auroc_metrics, progress=progress, seed=self.seed,
            meta={"kind": self.kind, "params": self.get_params(),
                  "settings": fit_settings(self.get_params(), {**p, "config": prep["config"].to_dict(),
                                                               "amp": amp_name(device)},
                                           sequences, labels, valid_sequences, valid_labels)},
        )
        self.model_, self.config_, self.device_ = model, prep["config"], device
        return self

    def predict_proba(self, sequences, *, batch_size=None):
        import torch

        from genomic_ulmfit.models.cnn import codes_to_one_hot, encode_bases

        if not hasattr(self, "model_"):
            raise ConfigError("this CNN is not fitted; call fit() or load a saved run")
        seqs = check_sequences(sequences, "prediction")
        cohn = self.config_.arch == "cohn"
        codes = encode_bases(seqs, self.config_.seq_len if cohn else None, center=cohn)
        if cohn:
            return _predict_batches(self.model_, lambda i, j: codes_to_one_hot(torch.as_tensor(codes[i:j])),
                                    len(codes), batch_or(batch_size, 256), self.device_)
        lens = np.fromiter(map(len, seqs), np.int64, len(seqs))
        return _predict_longest_first(self.model_, codes, lens, lambda c: codes_to_one_hot(torch.as_tensor(c)),
                                      batch_or(batch_size, 256), self.device_)

    def save(self, directory):
        if not hasattr(self, "model_"):
            raise ConfigError("this CNN is not fitted; call fit() before save()")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        _save_weights(self.model_, d / WEIGHTS)
        write_json_atomic(d / "model.json", {"kind": self.kind, "params": self.get_params(),
                                             "config": self.config_.to_dict()})

    @classmethod
    def load(cls, directory, device: str | None = None):
        from genomic_ulmfit.models.cnn import CNNConfig, build_cnn

        meta = read_model_json(directory, kind=cls.kind)
        prm = meta.get("params", {})
        self = cls(prm.get("arch"), preset=prm.get("preset", "cpu"), epochs=prm.get("epochs"), lr=prm.get("lr"),
                   batch_size=prm.get("batch_size"), wd=prm.get("wd"), rc_augment=prm.get("rc_augment"),
                   seed=prm.get("seed", 0), device=device, config=prm.get("config"),
                   valid_frac=prm.get("valid_frac", 0.1))
        # Configs saved before ModernCNN had a k-mer branch lack "kmer_k" and were built without one.
        cfg = CNNConfig.from_dict({"kmer_k": 0, **meta["config"]})
        model = build_cnn(cfg)
        _load_weights(model, Path(directory) / WEIGHTS)
        self.device_ = resolve_device(device)
        self.model_, self.config_ = model.to(self.device_).eval(), cfg
        return self


def model_from_name(name: str, *, preset: str = "cpu", encoder=None, arch: str | None = None, seed: int = 0,
                    device: str | None = None, composition: bool = False,
                    copies_genome: Sequence[str | os.PathLike] = (), motifs: str = "jaspar") -> SequenceModel:
    """An unfitted estimator for a CLI model name: ulmfit, cnn, kmer, gkm or gkmsvm, optionally with
    a variant that sets the model itself: ``cnn:cohn`` / ``cnn:modern`` (as ``arch``), ``ulmfit:comp``
    (as ``composition``: ULMFiT's composition head, see :class:`ULMFiTModel`) and ``gkm:linear``
    (the linear kernel only: scores ~6x faster, and has gapped k-mer weights), ``kmer:copies`` and
    ``gkm:copies`` (the k-mer LR / gkm-SVM with the copy numbers of their 20-mers in
    ``copies_genome``, genome FASTA files of the sequences' species; see :class:`KmerLogistic` and
    :class:`GkmSVM`), ``kmer:motifs`` and ``gkm:motifs`` (with the best score of each motif of
    ``motifs``) and ``kmer:copies+motifs``, ``gkm:copies+motifs`` (both). ULMFiT's encoder
    variants (scratch, noft, nolm) choose what ``encoder`` is, so they are the caller's to resolve.
    """
    base, variant = split_name(name)
    if base not in VARIANTS:
        raise ConfigError(f"unknown model {name!r}; choose {', '.join(VARIANTS)}")
    own = model_variants(base)
    if variant and variant not in own:
        hint = "; give the LM with --encoder instead" if base == "ulmfit" else ""
        raise ConfigError(f"model {name!r}: variant {variant!r} is not a setting of the model itself "
                          f"(here: {', '.join(f'{base}:{v}' for v in own) or 'none'}){hint}")
    if base == "ulmfit":
        return ULMFiTModel(preset, encoder, seed=seed, device=device, composition=composition or variant == "comp")
    if base == "cnn":
        if arch and variant and arch != variant:
            raise ConfigError(f"model {name!r} with --arch {arch}: two architectures; give one of them")
        return CNNModel(arch or variant or None, preset=preset, seed=seed, device=device)
    copies = uses_copies_genome(name)
    if copies and not copies_genome:
        raise ConfigError(f"model {name!r} reads k-mer copy numbers from a genome: give its FASTA file(s) "
                          "with --copies-genome (e.g. ../shared/data/genomes/human_GRCh37_chrX.fa.gz)")
    genome = tuple(str(Path(g).resolve()) for g in copies_genome) if copies else ()
    if base == "kmer":
        return KmerLogistic(random_state=seed, copies_genome=genome, motifs=motifs if uses_motifs(name) else None)
    if base == "gkm":
        return GkmSVM(random_state=seed, device=device, copies_genome=genome,
                      motifs=motifs if uses_motifs(name) else None,
                      **({"gammas": (0.0,)} if variant == "linear" else {}))
    return GkmSvm()


__all__ = ["ArrayBatches", "CNNModel", "EnsembleModel", "ULMFiTModel", "holdout_split", "model_from_name"]
