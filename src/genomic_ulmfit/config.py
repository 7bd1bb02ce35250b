"""Typed configuration and named presets.

A :class:`Preset` bundles everything one run needs: the tokenizer (k, stride), the AWD-LSTM sizes
and dropouts, the three training schedules (genome LM pretraining, LM fine-tuning, classifier with
gradual unfreezing) and the CNN baseline's schedule.

Presets
-------
``tiny``
    Seconds; for tests.
``demo``
    The embedded demo (``make demo``): small enough for four simulated species in a few minutes.
``cpu``
    This project's recommended setting on a 2-core CPU: a smaller AWD-LSTM so LM fine-tuning and
    the classifier on ~5k × 500 bp finish in about 20 minutes.
``paper-4mer`` / ``paper-5mer`` / ``paper-3mer``
    The seed's exact architecture and schedules (emb 400, hidden 1150, 3 layers, tied weights; LM
    fine-tune 8 epochs at 1e-3 with moms (0.8, 0.7); classifier 4 × 3 epochs of gradual
    unfreezing at 2e-2, slice(1e-2/2.6^4, 1e-2), slice(5e-3/2.6^4, 5e-3), slice(1e-3/2.6^4, 1e-3)).
    Dropouts follow the Genomic-ULMFiT notebooks (LM drop_mult 0.3, classifier drop_mult 0.5), and
    the classifier's loss carries fastai v1's AR/TAR terms (alpha 2, beta 1) as the LM's does.
    Meant for a GPU: about 11 h per species on a 2-core CPU in fp32 (7 h with bf16 on AVX512-BF16).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genomic_ulmfit.errors import ConfigError

# An LR is a float (same for every layer group) or (lo, hi): geometric spread over the groups,
# fastai's slice(lo, hi).
LR = float | tuple[float, float]

# The AWD-LSTM dropouts a preset may set (before drop_mult).
DROPOUT_KEYS = ("output_p", "hidden_p", "input_p", "embed_p", "weight_p")

# Autocast precision of every torch model, a property of the machine rather than of the recipe
# (see genomic_ulmfit.training.loop.resolve_amp): set by $GENOMIC_ULMFIT_AMP or `genomic-ulmfit --amp`.
AMP_ENV = "GENOMIC_ULMFIT_AMP"
AMP_MODES = ("auto", "off", "bf16", "fp16")


def check_amp_mode(mode: str, given_as: str = f"{AMP_ENV}=") -> str:
    """``mode`` lower-cased (empty means ``auto``) if it is one of :data:`AMP_MODES`, else a
    :class:`ConfigError` that quotes it as given (``given_as``: ``"--amp "`` or the variable)."""
    checked = mode.strip().lower() or "auto"
    if checked not in AMP_MODES:
        raise ConfigError(f"{given_as}{mode!r} is not a mode; use one of {', '.join(AMP_MODES)}")
    return checked


@dataclass
class TokenizerConfig:
    """K-mer tokenizer: k-mers of length ``k`` taken every ``stride`` bases."""

    k: int = 4
    stride: int = 2


@dataclass
class LSTMConfig:
    """AWD-LSTM sizes and the two dropout sets (language model / classifier), before drop_mult."""

    emb_size: int = 400
    hidden_size: int = 1150
    n_layers: int = 3
    # Language-model dropouts (Genomic-ULMFiT notebooks).
    lm_dropouts: dict[str, float] = field(
        default_factory=lambda: dict(output_p=0.25, hidden_p=0.1, input_p=0.2, embed_p=0.02, weight_p=0.15)
    )
    # Classifier dropouts (fastai's awd_lstm_clas_config).
    clas_dropouts: dict[str, float] = field(
        default_factory=lambda: dict(output_p=0.4, hidden_p=0.3, input_p=0.4, embed_p=0.05, weight_p=0.5)
    )

    def __post_init__(self) -> None:
        for name in ("lm_dropouts", "clas_dropouts"):
            drops = getattr(self, name)
            unknown = set(drops) - set(DROPOUT_KEYS)
            if unknown:
                raise ConfigError(
                    f"preset.lstm.{name}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(DROPOUT_KEYS)}"
                )
            for key, p in drops.items():
                if not 0.0 <= p < 1.0:
                    raise ConfigError(f"preset.lstm.{name}.{key}: dropout {p} must be in [0, 1)")


@dataclass
class LMTrainConfig:
    """One language-model training run (genome pretraining or fine-tuning)."""

    epochs: int = 8
    lr: float = 1e-3
    batch_size: int = 64
    bptt: int = 70
    moms: tuple[float, float, float] = (0.8, 0.7, 0.8)
    wd: float = 0.01
    clip: float | None = 0.1
    drop_mult: float = 0.3
    valid_frac: float = 0.1
    max_tokens: int | None = None  # cap on training tokens per epoch (None = all)

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ConfigError(f"LM training: learning rate {self.lr} must be positive (--lr, or the preset's lr)")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ConfigError(f"LM training: max_tokens {self.max_tokens} must be a positive number of tokens "
                              "(--max-tokens; 0 there means the whole corpus)")


@dataclass
class Stage:
    """One gradual-unfreezing stage: train the last ``n_groups`` layer groups (0 = all)."""

    epochs: int
    lr: LR
    n_groups: int


@dataclass
class ClassifierTrainConfig:
    """ULMFiT classifier fine-tuning with gradual unfreezing."""

    stages: list[Stage] = field(
        default_factory=lambda: [
            Stage(3, 2e-2, 1),
            Stage(3, (1e-2 / 2.6**4, 1e-2), 2),
            Stage(3, (5e-3 / 2.6**4, 5e-3), 3),
            Stage(3, (1e-3 / 2.6**4, 1e-3), 0),
        ]
    )
    batch_size: int = 64
    moms: tuple[float, float, float] = (0.8, 0.7, 0.8)
    wd: float = 0.01
    clip: float | None = 0.1
    drop_mult: float = 0.5
    valid_frac: float = 0.1  # taken from the training rows when the data has no valid split
    # AWD-LSTM activation regularisation on the encoder's last-layer outputs (non-pad positions),
    # as the LM has it: ar_alpha * mean(h**2) + tar_beta * mean((h[t+1] - h[t])**2). fastai (v1, as
    # the seed used, and v2) adds it to the classifier's loss too, with 2 and 1; 0 turns a term off.
    ar_alpha: float = 0.0
    tar_beta: float = 0.0

    def __post_init__(self) -> None:
        for key in ("ar_alpha", "tar_beta"):
            if not getattr(self, key) >= 0:
                raise ConfigError(f"classifier.{key} {getattr(self, key)} must be 0 (off) or positive")


@dataclass
class CNNTrainConfig:
    """CNN baseline training."""

    arch: str = "modern"
    epochs: int = 12
    lr: float = 2e-3
    batch_size: int = 64
    wd: float = 0.01
    rc_augment: bool = True


@dataclass
class Preset:
    """Everything a run needs; see the module docstring for the named presets."""

    name: str
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    lstm: LSTMConfig = field(default_factory=LSTMConfig)
    pretrain: LMTrainConfig = field(default_factory=LMTrainConfig)
    finetune: LMTrainConfig = field(default_factory=LMTrainConfig)
    classifier: ClassifierTrainConfig = field(default_factory=ClassifierTrainConfig)
    cnn: CNNTrainConfig = field(default_factory=CNNTrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preset:
        return _from_dict(cls, d, "preset")

    def replace(self, **overrides: Any) -> Preset:
        """A copy with dotted-key overrides, e.g. ``replace(**{"classifier.batch_size": 32})``."""
        d = self.to_dict()
        for key, value in overrides.items():
            node = d
            parts = key.split(".")
            for p in parts[:-1]:
                if not isinstance(node, dict) or p not in node:
                    raise ConfigError(f"unknown preset key {key!r}")
                node = node[p]
            if not isinstance(node, dict):
                raise ConfigError(f"unknown preset key {key!r}; {'.'.join(parts[:-1])!r} is not a section")
            if parts[-1] not in node:
                raise ConfigError(f"unknown preset key {key!r}; known here: {', '.join(node)}")
            node[parts[-1]] = value
        return Preset.from_dict(d)


def _merged(base: dict[str, Any], changes: Any, where: str) -> dict[str, Any]:
    """``base`` with ``changes`` applied key by key (nested mappings merged, anything else replaced)."""
    if not isinstance(changes, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(changes).__name__}")
    out = dict(base)
    for k, v in changes.items():
        if k not in base:
            raise ConfigError(f"{where}: unknown key {k!r}; known: {', '.join(sorted(base))}")
        out[k] = _merged(base[k], v, f"{where}.{k}") if isinstance(base[k], dict) else v
    return out


def _from_dict(cls: type, d: Any, where: str) -> Any:
    """Build dataclass ``cls`` from ``d``; unknown keys and wrong types raise ConfigError."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(d).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}")
    required = [
        f.name for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [k for k in required if k not in d]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in d.items()}
    return cls(**kwargs)


def _coerce(tp: Any, v: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, v, where)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            try:
                return _coerce(arg, v, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{where}: value {v!r} does not fit {tp}")
    if tp is type(None):
        if v is None:
            return None
        raise ConfigError(f"{where}: expected null, got {v!r}")
    if origin is list:
        (arg,) = typing.get_args(tp)
        if not isinstance(v, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {v!r}")
        return [_coerce(arg, x, f"{where}[{i}]") for i, x in enumerate(v)]
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(v, (list, tuple)) or len(v) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} numbers, got {v!r}")
        return tuple(_coerce(a, x, f"{where}[{i}]") for i, (a, x) in enumerate(zip(args, v)))
    if origin is dict:
        if not isinstance(v, dict):
            raise ConfigError(f"{where}: expected a mapping, got {v!r}")
        _, value_type = typing.get_args(tp)
        return {str(k): _coerce(value_type, x, f"{where}.{k}") for k, x in v.items()}
    if tp is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {v!r}")
        return float(v)
    if tp is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{where}: expected an integer, got {v!r}")
        return v
    if tp is bool:
        if not isinstance(v, bool):
            raise ConfigError(f"{where}: expected true/false, got {v!r}")
        return v
    if tp is str:
        if not isinstance(v, str):
            raise ConfigError(f"{where}: expected a string, got {v!r}")
        return v
    return v


def _paper(name: str, k: int, stride: int) -> Preset:
    return Preset(
        name=name,
        tokenizer=TokenizerConfig(k=k, stride=stride),
        lstm=LSTMConfig(),
        pretrain=LMTrainConfig(epochs=10, lr=1e-2, batch_size=64, moms=(0.8, 0.7, 0.8), drop_mult=0.3),
        finetune=LMTrainConfig(epochs=8, lr=1e-3, batch_size=64, moms=(0.8, 0.7, 0.8), drop_mult=0.3),
        classifier=ClassifierTrainConfig(batch_size=64, drop_mult=0.5, ar_alpha=2.0, tar_beta=1.0),
        cnn=CNNTrainConfig(arch="cohn", epochs=20, lr=1e-3, batch_size=50, rc_augment=False),
    )


def _cpu() -> Preset:
    return Preset(
        name="cpu",
        tokenizer=TokenizerConfig(k=4, stride=2),
        lstm=LSTMConfig(emb_size=200, hidden_size=512, n_layers=3),
        pretrain=LMTrainConfig(epochs=1, lr=5e-3, batch_size=64, drop_mult=0.2, max_tokens=8_000_000),
        finetune=LMTrainConfig(epochs=4, lr=2e-3, batch_size=64, drop_mult=0.3),
        classifier=ClassifierTrainConfig(
            stages=[
                Stage(2, 2e-2, 1),
                Stage(2, (1e-2 / 2.6**4, 1e-2), 2),
                Stage(2, (5e-3 / 2.6**4, 5e-3), 3),
                Stage(4, (1e-3 / 2.6**4, 1e-3), 0),
            ],
            batch_size=64,
            drop_mult=0.5,
        ),
        cnn=CNNTrainConfig(arch="modern", epochs=6, lr=2e-3, batch_size=64),
    )


def _tiny() -> Preset:
    return Preset(
        name="tiny",
        tokenizer=TokenizerConfig(k=4, stride=2),
        lstm=LSTMConfig(emb_size=32, hidden_size=64, n_layers=2),
        pretrain=LMTrainConfig(epochs=1, lr=5e-3, batch_size=16, bptt=35, drop_mult=0.1, max_tokens=50_000),
        finetune=LMTrainConfig(epochs=1, lr=5e-3, batch_size=16, bptt=35, drop_mult=0.1),
        classifier=ClassifierTrainConfig(
            stages=[Stage(1, 2e-2, 1), Stage(1, (1e-3, 5e-3), 0)], batch_size=32, drop_mult=0.2
        ),
        cnn=CNNTrainConfig(arch="modern", epochs=2, lr=3e-3, batch_size=32),
    )


def _demo() -> Preset:
    return Preset(
        name="demo",
        tokenizer=TokenizerConfig(k=4, stride=2),
        lstm=LSTMConfig(emb_size=64, hidden_size=192, n_layers=2),
        # Tuned on one simulated species (validation AUROC): 4 pretraining epochs over the small
        # simulated genomes, 3 fine-tuning epochs and 5 epochs with all layers took ULMFiT's test
        # AUROC from 0.57 to 0.65 there (k-mer LR 0.82) for about 50 s more per species.
        pretrain=LMTrainConfig(epochs=4, lr=1e-2, batch_size=32, bptt=70, drop_mult=0.1, max_tokens=3_000_000),
        finetune=LMTrainConfig(epochs=3, lr=5e-3, batch_size=32, bptt=70, drop_mult=0.2),
        classifier=ClassifierTrainConfig(
            stages=[
                Stage(1, 2e-2, 1),
                Stage(1, (1e-2 / 2.6**4, 1e-2), 2),
                Stage(5, (3e-3 / 2.6**4, 3e-3), 0),
            ],
            batch_size=64,
            drop_mult=0.3,
        ),
        cnn=CNNTrainConfig(arch="modern", epochs=6, lr=3e-3, batch_size=64),
    )


PRESETS: dict[str, Preset] = {
    "tiny": _tiny(),
    "demo": _demo(),
    "cpu": _cpu(),
    "paper-4mer": _paper("paper-4mer", 4, 2),
    "paper-5mer": _paper("paper-5mer", 5, 2),
    "paper-3mer": _paper("paper-3mer", 3, 1),
}


def get_preset(name_or_path: str | Path | Preset, _seen: tuple[Path, ...] = ()) -> Preset:
    """A named preset, a JSON preset file, or a copy of a Preset.

    A JSON file holds a whole preset (the layout of ``Preset.to_dict()``; unknown keys are an
    error), or ``"base"`` — a named preset or another JSON file, relative to this one's folder —
    and only what differs from it, nested as in the whole preset:
    ``{"base": "cpu", "classifier": {"batch_size": 32}}``. Its ``name`` defaults to the file's stem.
    """
    if isinstance(name_or_path, Preset):
        return Preset.from_dict(name_or_path.to_dict())
    key = str(name_or_path)
    if key in PRESETS:
        return Preset.from_dict(PRESETS[key].to_dict())  # a fresh copy
    path = Path(key)
    if path.suffix == ".json" and path.is_file():
        from genomic_ulmfit.utils import read_json

        d = read_json(path, ConfigError)
        if isinstance(d, dict) and "base" in d:
            d = dict(d)
            base = d.pop("base")
            if not isinstance(base, str):
                raise ConfigError(f"{path}: 'base' must name a preset (e.g. \"cpu\" or a .json file)")
            if base not in PRESETS and base.endswith(".json"):
                base = str(path.parent / base)
            chain = (*_seen, path.resolve())
            if Path(base).resolve() in chain:
                raise ConfigError(f"{path}: its 'base' {base} leads back to itself; end the chain at a named preset")
            d = _merged(get_preset(base, chain).to_dict() | {"name": path.stem}, d, str(path))
        return Preset.from_dict(d)
    raise ConfigError(f"unknown preset {key!r}; choose one of {', '.join(PRESETS)} or give a preset .json file")
