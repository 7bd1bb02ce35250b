"""AWD-LSTM language model and ULMFiT classifier in plain PyTorch (no fastai).

Read top to bottom:

1. :class:`AWDLSTMConfig` — one typed config (sizes + the five dropout probabilities).
2. The three AWD-LSTM regularisers: :class:`EmbeddingDropout` (whole embedding rows),
   :class:`RNNDropout` (locked / variational dropout, one mask per sequence shared over time) and
   :class:`WeightDropout` (DropConnect on the hidden-to-hidden LSTM weights).
3. :class:`AWDLSTM` — the encoder: embedding → n single-layer LSTMs, explicit state passing.
4. :class:`LanguageModel` — encoder + output dropout + decoder tied to the embedding;
   :func:`ar_tar_penalty` for activation (AR) and temporal activation (TAR) regularisation.
5. :class:`ULMFiTClassifier` — the same encoder + :class:`PoolingClassifierHead` (concat pooling
   [last, max, mean] that ignores right padding).
6. Parameter counting, including the formula of fastai's AWD_LSTM for cross-checking sizes.

Everything follows fastai's ``AWD_LSTM``/``get_language_model``/``get_text_classifier`` (as used
by Genomic-ULMFiT) except where a docstring says otherwise. Token tensors are ``(batch, time)``
integers with the padding id (default 0) on the right.
"""

from __future__ import annotations

import dataclasses
import itertools
import types
import typing
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genomic_ulmfit.errors import ConfigError

LSTMState = list[tuple[Tensor, Tensor]]
"""Recurrent state: one ``(h, c)`` pair per layer, each of shape ``(1, batch, layer_hidden)``."""

# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------


def check_config_fields(cfg: Any) -> None:
    """Check (and normalise) the field types of a config dataclass instance in place.

    Accepts JSON-shaped values: an ``int`` where a ``float`` is expected becomes a float, a list
    where a tuple is expected becomes a tuple. ``bool`` is never accepted as a number.

    Raises
    ------
    ConfigError
        Naming the first field whose value has the wrong type.
    """
    hints = typing.get_type_hints(type(cfg))
    name = type(cfg).__name__
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        ok, norm = _coerce(value, hints[f.name])
        if not ok:
            raise ConfigError(
                f"{name}: key {f.name!r} must be of type {_type_name(hints[f.name])}, "
                f"got {value!r} ({type(value).__name__})"
            )
        object.__setattr__(cfg, f.name, norm)


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """Return (is_valid, normalised value) of ``value`` against the type annotation ``tp``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            ok, norm = _coerce(value, arg)
            if ok:
                return True, norm
        return False, value
    if tp is type(None):
        return value is None, value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False, value
        args = typing.get_args(tp)
        item_types = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(item_types) != len(value):
            return False, value
        out = []
        for v, t in zip(value, item_types, strict=True):
            ok, norm = _coerce(v, t)
            if not ok:
                return False, value
            out.append(norm)
        return True, tuple(out)
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is str:
        return isinstance(value, str), value
    return isinstance(value, tp), value


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def config_from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """Build the config dataclass ``cls`` from a JSON-like mapping.

    Raises
    ------
    ConfigError
        On a non-mapping input, an unknown key (the message lists the known ones), a missing
        required key or a value of the wrong type or range.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{cls.__name__}: expected a mapping of keys to values, got {type(data).__name__}")
    known = [f.name for f in fields(cls)]
    for key in data:
        if key not in known:
            raise ConfigError(f"{cls.__name__}: unknown key {key!r}; known keys: {', '.join(known)}")
    for f in fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in data:
            raise ConfigError(f"{cls.__name__}: missing required key {f.name!r}")
    return cls(**dict(data))


def _check_prob(owner: str, key: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{owner}: key {key!r} is a dropout probability and must be in [0, 1), got {value}")


def _check_positive(owner: str, key: str, value: int) -> None:
    if value < 1:
        raise ConfigError(f"{owner}: key {key!r} must be a positive integer, got {value}")


DROPOUT_KEYS = ("output_p", "hidden_p", "input_p", "embed_p", "weight_p")


@dataclass
class AWDLSTMConfig:
    """Sizes and dropouts of an AWD-LSTM (defaults: Genomic-ULMFiT's language-model config).

    Parameters
    ----------
    vocab_size : int
        Number of token ids (``<pad>``, ``<unk>``, ``<bos>`` + 4^k k-mers).
    emb_size : int, default 400
        Embedding size; also the output size of the last LSTM layer (so the decoder can be tied).
    hidden_size : int, default 1150
        Hidden size of every LSTM layer but the last.
    n_layers : int, default 3
        Number of stacked single-layer LSTMs.
    pad_id : int, default 0
        Padding token id (its embedding gets no gradient from lookups; pooling ignores it).
    tie_weights : bool, default True
        Share the decoder weight with the embedding matrix.
    out_bias : bool, default True
        Give the decoder a bias.
    output_p, hidden_p, input_p, embed_p, weight_p : float
        Dropout probabilities (defaults 0.25, 0.1, 0.2, 0.02, 0.15): after the last layer (LM
        decoder input), between LSTM layers (locked), on the embedding output (locked), whole
        embedding rows, and DropConnect on the hidden-to-hidden weights.
    """

    vocab_size: int
    emb_size: int = 400
    hidden_size: int = 1150
    n_layers: int = 3
    pad_id: int = 0
    tie_weights: bool = True
    out_bias: bool = True
    output_p: float = 0.25
    hidden_p: float = 0.1
    input_p: float = 0.2
    embed_p: float = 0.02
    weight_p: float = 0.15

    def __post_init__(self) -> None:
        check_config_fields(self)
        name = type(self).__name__
        for key in ("vocab_size", "emb_size", "hidden_size", "n_layers"):
            _check_positive(name, key, getattr(self, key))
        if not 0 <= self.pad_id < self.vocab_size:
            raise ConfigError(
                f"{name}: key 'pad_id' must be in [0, vocab_size={self.vocab_size}), got {self.pad_id}"
            )
        for key in DROPOUT_KEYS:
            _check_prob(name, key, getattr(self, key))

    def scaled(self, drop_mult: float) -> AWDLSTMConfig:
        """A copy with the five dropout probabilities multiplied by ``drop_mult`` (fastai)."""
        if not drop_mult >= 0:
            raise ConfigError(f"AWDLSTMConfig: drop_mult must be >= 0, got {drop_mult}")
        return dataclasses.replace(self, **{k: getattr(self, k) * drop_mult for k in DROPOUT_KEYS})

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AWDLSTMConfig:
        """Inverse of :meth:`to_dict`; unknown keys or wrong types raise :class:`ConfigError`."""
        return config_from_dict(cls, data)


# ---------------------------------------------------------------------------------------------
# Regularisers
# ---------------------------------------------------------------------------------------------


def _bernoulli_mask(like: Tensor, shape: tuple[int, ...], p: float) -> Tensor:
    """A ``{0, 1/(1-p)}`` mask of ``shape`` with the dtype and device of ``like``."""
    return like.new_empty(shape).bernoulli_(1.0 - p).div_(1.0 - p)


class EmbeddingDropout(nn.Module):
    """Embedding lookup that drops whole rows (token types) of the embedding matrix.

    In training each row of ``weight`` is zeroed with probability ``p`` and the kept rows are
    scaled by ``1/(1-p)``; every occurrence of a dropped token in the batch embeds to zero.
    In eval (or with ``p == 0``) it is a plain lookup.

    Parameters
    ----------
    p : float
        Probability of dropping a row.
    pad_id : int or None, default None
        Padding id passed to ``F.embedding`` (no gradient to that row from lookups).
    """

    def __init__(self, p: float, pad_id: int | None = None):
        super().__init__()
        self.p = p
        self.pad_id = pad_id

    def forward(self, tokens: Tensor, weight: Tensor) -> Tensor:
        """Embed ``tokens`` (B, T) int with ``weight`` (V, E); returns (B, T, E)."""
        if self.training and self.p > 0:
            weight = weight * _bernoulli_mask(weight, (weight.size(0), 1), self.p)  # (V, E)
        return F.embedding(tokens, weight, padding_idx=self.pad_id)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RNNDropout(nn.Module):
    """Locked (variational) dropout: one mask per sequence and feature, shared over time.

    Parameters
    ----------
    p : float
        Dropout probability; kept activations are scaled by ``1/(1-p)``. Identity in eval.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (B, T, E) → (B, T, E) with the same (B, 1, E) mask at every time step."""
        if not self.training or self.p == 0:
            return x
        return x * _bernoulli_mask(x, (x.size(0), 1, x.size(2)), self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# cuDNN warns that the dropped weight is not part of one flat buffer; that copy is inherent to
# DropConnect (a new weight every call), so silence exactly that message.
_NON_CONTIGUOUS_WARNING = r".*RNN module weights are not part of single contiguous chunk of memory.*"


class WeightDropout(nn.Module):
    """DropConnect on the hidden-to-hidden weight of a single-layer ``nn.LSTM``.

    The wrapped LSTM's ``weight_hh_l0`` parameter is removed; the only copy is the parameter
    ``weight_hh_l0_raw`` of this wrapper (fastai's layout, so state-dict keys are
    ``weight_hh_l0_raw`` and ``module.weight_ih_l0``/``module.bias_ih_l0``/``module.bias_hh_l0``).
    Every forward call in training draws a new elementwise mask, ``F.dropout(raw, weight_p)``;
    in eval the raw weight is used unchanged. The LSTM is run through the functional
    ``torch._VF.lstm`` (the kernel ``nn.LSTM.forward`` itself calls) with the effective weight,
    so the module is never mutated: safe to deepcopy, to move between devices and to run on
    CUDA/cuDNN (which then copies the weights into its flat buffer on each call).

    Parameters
    ----------
    module : nn.LSTM
        A single-layer, unidirectional LSTM with biases and ``batch_first=True``.
    weight_p : float
        DropConnect probability on ``weight_hh_l0``.
    """

    def __init__(self, module: nn.LSTM, weight_p: float):
        super().__init__()
        if module.num_layers != 1 or module.bidirectional or not module.bias or not module.batch_first:
            raise ValueError("WeightDropout wraps a single-layer unidirectional batch_first LSTM with biases")
        if getattr(module, "proj_size", 0):
            raise ValueError("WeightDropout does not support LSTM projections (proj_size > 0)")
        self.weight_p = weight_p
        raw = module.weight_hh_l0
        del module._parameters["weight_hh_l0"]
        module._init_flat_weights()  # drop its reference to the removed weight
        self.module = module
        self.weight_hh_l0_raw = nn.Parameter(raw.detach().clone())

    def effective_weight(self) -> Tensor:
        """The hidden-to-hidden weight for this call, (4*hidden, hidden): dropped in training."""
        if self.training and self.weight_p > 0:
            return F.dropout(self.weight_hh_l0_raw, p=self.weight_p, training=True)
        return self.weight_hh_l0_raw

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Run the LSTM on ``x`` (B, T, in) from ``state`` ((1, B, H), (1, B, H)).

        Returns the outputs (B, T, H) and the new state ``(h, c)``.
        """
        m = self.module
        weights = [m.weight_ih_l0, self.effective_weight(), m.bias_ih_l0, m.bias_hh_l0]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_NON_CONTIGUOUS_WARNING)
            out, h, c = torch._VF.lstm(x, state, weights, True, 1, 0.0, self.training, False, True)
        return out, (h, c)

    def extra_repr(self) -> str:
        return f"weight_p={self.weight_p}"


# ---------------------------------------------------------------------------------------------
# Encoder
# ---------------------------------------------------------------------------------------------


def detach_state(state: LSTMState | None) -> LSTMState | None:
    """The same state cut from the autograd graph (for truncated BPTT between batches)."""
    if state is None:
        return None
    return [(h.detach(), c.detach()) for h, c in state]


class AWDLSTM(nn.Module):
    """The AWD-LSTM encoder: tokens → last-layer outputs, with explicit recurrent state.

    Layers: embedding (vocab → emb, row dropout ``embed_p``) → locked dropout ``input_p`` →
    ``n_layers`` weight-dropped LSTMs sized emb → hidden → … → hidden → emb, with locked dropout
    ``hidden_p`` between layers (not after the last). Embedding initialised uniform in ±0.1 (the
    padding row zero), LSTMs with PyTorch's default.

    Parameters
    ----------
    cfg : AWDLSTMConfig
        Sizes and dropouts.
    """

    init_range = 0.1

    def __init__(self, cfg: AWDLSTMConfig):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.emb_size, padding_idx=cfg.pad_id)
        self.embedding_dropout = EmbeddingDropout(cfg.embed_p, pad_id=cfg.pad_id)
        self.input_dropout = RNNDropout(cfg.input_p)
        self.rnns = nn.ModuleList(
            WeightDropout(nn.LSTM(n_in, n_out, num_layers=1, batch_first=True), cfg.weight_p)
            for n_in, n_out in itertools.pairwise(self.layer_sizes)
        )
        self.hidden_dropouts = nn.ModuleList(RNNDropout(cfg.hidden_p) for _ in range(cfg.n_layers - 1))
        with torch.no_grad():
            self.embedding.weight.uniform_(-self.init_range, self.init_range)
            self.embedding.weight[cfg.pad_id].zero_()

    @property
    def layer_sizes(self) -> list[int]:
        """Input size then the output size of every layer: [emb, hidden, …, hidden, emb]."""
        c = self.cfg
        return [c.emb_size] + [c.hidden_size] * (c.n_layers - 1) + [c.emb_size]

    def init_state(self, batch_size: int) -> LSTMState:
        """Zero state for ``batch_size`` sequences, on the device/dtype of the weights."""
        w = self.embedding.weight
        return [(w.new_zeros(1, batch_size, n), w.new_zeros(1, batch_size, n)) for n in self.layer_sizes[1:]]

    def forward(self, tokens: Tensor, state: LSTMState | None = None) -> tuple[Tensor, LSTMState]:
        """Encode ``tokens`` (B, T) int starting from ``state`` (zeros when None).

        Returns the last layer's outputs (B, T, emb) — before any output dropout — and the new
        state (one ``(h, c)`` pair of shape (1, B, layer_hidden) per layer, still attached to the
        graph; see :func:`detach_state`).
        """
        if tokens.dtype not in (torch.int64, torch.int32):
            tokens = tokens.long()
        if state is None:
            state = self.init_state(tokens.size(0))
        x = self.embedding_dropout(tokens, self.embedding.weight)  # (B, T, emb)
        x = self.input_dropout(x)
        new_state: LSTMState = []
        for i, (rnn, layer_state) in enumerate(zip(self.rnns, state, strict=True)):
            x, s = rnn(x, layer_state)  # (B, T, layer_hidden)
            new_state.append(s)
            if i < len(self.hidden_dropouts):
                x = self.hidden_dropouts[i](x)
        return x, new_state


# ---------------------------------------------------------------------------------------------
# Language model
# ---------------------------------------------------------------------------------------------


def ar_term(dropped_out: Tensor, mask: Tensor | None = None) -> Tensor:
    """Activation regularisation (AR, Merity et al.): ``mean(dropped_out**2)``, a float32 scalar.

    ``dropped_out`` is the last RNN layer's output after its dropout, (B, T, H). With ``mask``
    (B, T) bool, the mean runs over the real positions only (padding is not pushed to 0).
    """
    sq = dropped_out.float().pow(2)
    return sq.mean() if mask is None else _masked_overall_mean(sq, mask)


def tar_term(raw_out: Tensor, mask: Tensor | None = None) -> Tensor:
    """Temporal activation regularisation (TAR, slowness): ``mean((raw_out[:, t+1] - raw_out[:, t])**2)``.

    ``raw_out`` is the last RNN layer's output before dropout, (B, T, H); a float32 scalar, 0 with
    fewer than two steps. With ``mask`` (B, T) bool, only steps whose two positions are both real count.
    """
    if raw_out.size(1) < 2:
        return raw_out.new_zeros((), dtype=torch.float32)
    steps = (raw_out[:, 1:] - raw_out[:, :-1]).float().pow(2)
    return steps.mean() if mask is None else _masked_overall_mean(steps, mask[:, 1:] & mask[:, :-1])


def _masked_overall_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` (B, T, H) over the positions where ``mask`` (B, T) is True (0 when there are none)."""
    n = mask.sum() * x.size(-1)
    return (x * mask.unsqueeze(-1).to(x.dtype)).sum() / n.clamp(min=1).to(x.dtype)


def ar_tar_penalty(raw_out: Tensor, dropped_out: Tensor, alpha: float = 2.0, beta: float = 1.0) -> Tensor:
    """AWD-LSTM activation regularisation, to be added to a loss (ULMFiT: alpha=2, beta=1).

    ``alpha * AR + beta * TAR``: AR (:func:`ar_term`) on the last layer's output after output
    dropout, TAR (:func:`tar_term`) on it before dropout (fastai v2 ``RNNRegularizer``). Float32.
    """
    return alpha * ar_term(dropped_out) + beta * tar_term(raw_out)


class LanguageModel(nn.Module):
    """AWD-LSTM language model: encoder → output dropout → linear decoder tied to the embedding.

    Parameters
    ----------
    cfg : AWDLSTMConfig
        Sizes and dropouts; ``tie_weights`` makes ``decoder.weight`` the embedding matrix itself.
    """

    def __init__(self, cfg: AWDLSTMConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = AWDLSTM(cfg)
        self.output_dropout = RNNDropout(cfg.output_p)
        self.decoder = nn.Linear(cfg.emb_size, cfg.vocab_size, bias=cfg.out_bias)
        with torch.no_grad():
            self.decoder.weight.uniform_(-AWDLSTM.init_range, AWDLSTM.init_range)
            if self.decoder.bias is not None:
                self.decoder.bias.zero_()
        if cfg.tie_weights:
            self.decoder.weight = self.encoder.embedding.weight

    def forward(
        self, tokens: Tensor, state: LSTMState | None = None
    ) -> tuple[Tensor, LSTMState, dict[str, Tensor]]:
        """Next-token logits for ``tokens`` (B, T) int.

        Returns ``(logits (B, T, vocab), new_state, extras)``; ``extras["raw"]`` and
        ``extras["dropped"]`` are the last layer's outputs (B, T, emb) before and after output
        dropout, the inputs of :func:`ar_tar_penalty`.
        """
        raw, new_state = self.encoder(tokens, state)  # (B, T, emb)
        dropped = self.output_dropout(raw)
        logits = self.decoder(dropped)  # (B, T, vocab)
        return logits, new_state, {"raw": raw, "dropped": dropped}

    def layer_groups(self) -> list[list[nn.Module]]:
        """Modules in fastai's ``awd_lstm_lm_split`` order: [rnn0], …, [rnn_{n-1}], [embedding, decoder].

        Their parameters partition ``self.parameters()``; the tied decoder weight is the embedding
        weight, so it only appears in the last group.
        """
        return [[rnn] for rnn in self.encoder.rnns] + [[self.encoder.embedding, self.decoder]]

    def encoder_state(self) -> dict[str, Tensor]:
        """The encoder's state dict, loadable by :meth:`ULMFiTClassifier.load_encoder_state`."""
        return self.encoder.state_dict()


# ---------------------------------------------------------------------------------------------
# Classifier
# ---------------------------------------------------------------------------------------------


def masked_concat_pool(outputs: Tensor, mask: Tensor) -> Tensor:
    """Concat pooling ``[last, max, mean]`` over the valid time steps of each sequence.

    Parameters
    ----------
    outputs : Tensor
        Encoder outputs, (B, T, E).
    mask : Tensor
        Bool (B, T), True at real tokens (padding is False; expected on the right).

    Returns
    -------
    Tensor
        (B, 3*E): the output at the last valid position, the max and the mean over valid
        positions. A sequence with no valid position pools to the output at t=0 (last), 0 (max)
        and 0 (mean).
    """
    b, t, _ = outputs.shape
    positions = torch.arange(t, device=outputs.device).expand(b, t)
    last_idx = torch.where(mask, positions, -1).amax(dim=1).clamp(min=0)  # (B,)
    last = outputs[torch.arange(b, device=outputs.device), last_idx]  # (B, E)
    m = mask.unsqueeze(-1)  # (B, T, 1)
    max_pool = outputs.masked_fill(~m, float("-inf")).amax(dim=1)
    max_pool = torch.where(m.any(dim=1), max_pool, torch.zeros_like(max_pool))
    return torch.cat([last, max_pool, masked_mean(outputs, mask)], dim=1)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` (B, T, E) over the positions where ``mask`` (B, T) is True → (B, E); 0 if none."""
    m = mask.unsqueeze(-1)
    return x.masked_fill(~m, 0.0).sum(dim=1) / m.sum(dim=1).clamp(min=1).to(x.dtype)


class PoolingClassifierHead(nn.Module):
    """fastai's ``PoolingLinearClassifier`` (v1 ``bn_drop_lin`` blocks) over masked concat pooling.

    (B, T, E) → pool (B, 3E) → BatchNorm1d → Dropout(ps[0]) → Linear(3E, hidden) → ReLU →
    BatchNorm1d → Dropout(ps[1]) → Linear(hidden, n_classes).

    Parameters
    ----------
    emb_size : int
        E, the encoder output size.
    n_classes : int, default 2
    hidden : int, default 50
    ps : tuple of 2 floats, default (0.4, 0.1)
        Dropouts of the two blocks (fastai scales the first by ``drop_mult``; the caller does).
    composition : bool, default False
        Take a fourth E-vector, the mean input embedding (see :class:`ULMFiTClassifier`), so the
        pooled input is 4E.
    """

    def __init__(
        self,
        emb_size: int,
        n_classes: int = 2,
        hidden: int = 50,
        ps: tuple[float, float] = (0.4, 0.1),
        composition: bool = False,
    ):
        super().__init__()
        n_in = (4 if composition else 3) * emb_size
        self.layers = nn.Sequential(
            nn.BatchNorm1d(n_in),
            nn.Dropout(ps[0]),
            nn.Linear(n_in, hidden),
            nn.ReLU(),
            nn.BatchNorm1d(hidden),
            nn.Dropout(ps[1]),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, outputs: Tensor, mask: Tensor, composition: Tensor | None = None) -> Tensor:
        """``outputs`` (B, T, E), ``mask`` (B, T) bool, ``composition`` (B, E) or None → logits (B, C)."""
        pooled = masked_concat_pool(outputs, mask)
        if composition is not None:
            pooled = torch.cat([pooled, composition], dim=1)
        return self.layers(pooled)


class ULMFiTClassifier(nn.Module):
    """ULMFiT classifier: the AWD-LSTM encoder over the whole sequence + a pooling head.

    Parameters
    ----------
    cfg : AWDLSTMConfig
        Encoder sizes and dropouts, already multiplied by ``drop_mult`` (``output_p``,
        ``tie_weights`` and ``out_bias`` are unused here).
    n_classes : int, default 2
    head_hidden : int, default 50
    head_ps : tuple of 2 floats, default (0.4, 0.1)
        Head dropouts; pass ``(0.4 * drop_mult, 0.1)`` to follow fastai.
    composition : bool, default False
        Also pool the mean of the input token embeddings into the head: a linear summary of the
        sequence's k-mer composition, in the LM's own embedding space, which the head then sees
        directly instead of only through the LSTM layers. Not in the seed's method.
    """

    def __init__(
        self,
        cfg: AWDLSTMConfig,
        n_classes: int = 2,
        head_hidden: int = 50,
        head_ps: tuple[float, float] = (0.4, 0.1),
        composition: bool = False,
    ):
        super().__init__()
        for i, p in enumerate(head_ps):
            _check_prob("ULMFiTClassifier", f"head_ps[{i}]", p)
        self.cfg = cfg
        self.composition = composition
        self.encoder = AWDLSTM(cfg)
        self.head = PoolingClassifierHead(cfg.emb_size, n_classes, head_hidden, tuple(head_ps), composition)

    def forward(self, tokens: Tensor, return_outputs: bool = False) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
        """Logits (B, n_classes) for ``tokens`` (B, T) int, right-padded with ``pad_id``.

        The encoder runs over the whole sequence from a zero state; padding is ignored by the
        pooling, so a right-padded sequence scores like the unpadded one (in eval). With
        ``return_outputs``, returns ``(logits, extras)``: ``extras["raw"]`` and ``extras["dropped"]``
        are the encoder's last-layer outputs (B, T, emb; the last layer has no dropout, so they are
        the same tensor, as in fastai) and ``extras["mask"]`` the real positions, the inputs of
        :func:`ar_term` and :func:`tar_term`.
        """
        outputs, _ = self.encoder(tokens)  # (B, T, emb)
        mask = tokens != self.cfg.pad_id
        comp = masked_mean(self.encoder.embedding(tokens.long()), mask) if self.composition else None
        logits = self.head(outputs, mask, comp)
        if return_outputs:
            return logits, {"raw": outputs, "dropped": outputs, "mask": mask}
        return logits

    def layer_groups(self) -> list[list[nn.Module]]:
        """Modules in fastai's ``awd_lstm_clas_split`` order: [embedding], [rnn0], …, [rnn_{n-1}], [head].

        Their parameters partition ``self.parameters()``. Gradual unfreezing trains the last
        group, then the last 2, the last 3, then all.
        """
        return [[self.encoder.embedding]] + [[rnn] for rnn in self.encoder.rnns] + [[self.head]]

    def encoder_state(self) -> dict[str, Tensor]:
        """The encoder's state dict (same keys as :meth:`LanguageModel.encoder_state`)."""
        return self.encoder.state_dict()

    def load_encoder_state(self, state_dict: Mapping[str, Tensor]) -> None:
        """Load an encoder state dict (e.g. from the fine-tuned :class:`LanguageModel`).

        Raises
        ------
        ConfigError
            If a key is missing or unexpected, or a shape differs (e.g. a different k or size).
        """
        own = self.encoder.state_dict()
        for key in own:
            if key not in state_dict:
                raise ConfigError(
                    f"encoder weights: missing key {key!r}; were they saved from an AWD-LSTM encoder?"
                )
        for key, value in state_dict.items():
            if key not in own:
                raise ConfigError(
                    f"encoder weights: unexpected key {key!r}; were they saved from an AWD-LSTM encoder?"
                )
            if tuple(value.shape) != tuple(own[key].shape):
                raise ConfigError(
                    f"encoder weights: {key!r} has shape {tuple(value.shape)} but this classifier needs "
                    f"{tuple(own[key].shape)}; use the same vocabulary (k) and sizes as the language model"
                )
        self.encoder.load_state_dict(dict(state_dict))


# ---------------------------------------------------------------------------------------------
# Parameter counts
# ---------------------------------------------------------------------------------------------


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model``, each shared (tied) tensor counted once."""
    params = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in params if p.requires_grad or not trainable_only)


def fastai_awd_lstm_param_count(
    vocab: int, emb: int, hidden: int, n_layers: int, out_bias: bool = True
) -> int:
    """Parameters of fastai's ``AWD_LSTM`` + tied ``LinearDecoder``, by formula.

    Embedding ``vocab*emb``; per LSTM layer with input ``i`` and output ``h``: ``4h(i+h) + 8h``
    (two bias vectors; WeightDropout keeps only the raw hidden-to-hidden weight); decoder bias
    ``vocab`` when ``out_bias``; the tied decoder weight is the embedding (counted once).
    """
    sizes = [emb] + [hidden] * (n_layers - 1) + [emb]
    lstm = sum(4 * h * (i + h) + 8 * h for i, h in itertools.pairwise(sizes))
    return vocab * emb + lstm + (vocab if out_bias else 0)


__all__ = [
    "AWDLSTM",
    "AWDLSTMConfig",
    "EmbeddingDropout",
    "LSTMState",
    "LanguageModel",
    "PoolingClassifierHead",
    "RNNDropout",
    "ULMFiTClassifier",
    "WeightDropout",
    "ar_tar_penalty",
    "ar_term",
    "tar_term",
    "check_config_fields",
    "config_from_dict",
    "count_parameters",
    "detach_state",
    "fastai_awd_lstm_param_count",
    "masked_concat_pool",
]
