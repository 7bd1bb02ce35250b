"""Tiny model configs and data for fast tests (importable by other test modules).

Everything is seeded; sizes are chosen so a forward+backward takes milliseconds on one core.
"""

from __future__ import annotations

import numpy as np
import torch

from genomic_ulmfit.models.awd_lstm import AWDLSTMConfig, LanguageModel, ULMFiTClassifier
from genomic_ulmfit.models.cnn import CNNConfig, CohnCNN, ModernCNN

TOY_K = 3
TOY_VOCAB = 4**TOY_K + 3  # <pad>, <unk>, <bos> + 64 3-mers
PAD_ID = 0


def tiny_awd_config(**overrides) -> AWDLSTMConfig:
    """AWD-LSTM config with emb 16, hidden 24, 3 layers over a k=3 vocabulary (67 ids)."""
    return AWDLSTMConfig(**{"vocab_size": TOY_VOCAB, "emb_size": 16, "hidden_size": 24, **overrides})


def no_dropout(**overrides) -> AWDLSTMConfig:
    """:func:`tiny_awd_config` with every dropout at 0."""
    return tiny_awd_config(output_p=0.0, hidden_p=0.0, input_p=0.0, embed_p=0.0, weight_p=0.0, **overrides)


def tiny_lm(seed: int = 0, **overrides) -> LanguageModel:
    """A seeded tiny :class:`LanguageModel`."""
    torch.manual_seed(seed)
    return LanguageModel(tiny_awd_config(**overrides))


CLASSIFIER_DROPOUTS = {"output_p": 0.4, "hidden_p": 0.3, "input_p": 0.4, "embed_p": 0.05, "weight_p": 0.5}


def tiny_classifier(seed: int = 0, n_classes: int = 2, **overrides) -> ULMFiTClassifier:
    """A seeded tiny :class:`ULMFiTClassifier` (fastai classifier dropouts) with head hidden size 8."""
    torch.manual_seed(seed)
    return ULMFiTClassifier(
        tiny_awd_config(**{**CLASSIFIER_DROPOUTS, **overrides}),
        n_classes=n_classes,
        head_hidden=8,
    )


def toy_tokens(batch: int = 4, length: int = 12, seed: int = 0) -> torch.Tensor:
    """Random non-pad token ids in [3, TOY_VOCAB), int64 (batch, length)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, TOY_VOCAB, (batch, length), generator=g)


def toy_dna(n: int = 8, length: int = 60, seed: int = 0, n_frac: float = 0.0) -> list[str]:
    """``n`` random ACGT strings of ``length`` (a fraction ``n_frac`` of the bases set to N)."""
    rng = np.random.default_rng(seed)
    bases = np.array(list("ACGT"))[rng.integers(0, 4, size=(n, length))]
    bases[rng.random((n, length)) < n_frac] = "N"
    return ["".join(row) for row in bases]


def tiny_cnn_config(**overrides) -> CNNConfig:
    """ModernCNN config with 8 channels, stem width 7, two blocks."""
    return CNNConfig(**{"arch": "modern", "channels": 8, "stem_width": 7, "dilations": (2, 4), **overrides})


def tiny_modern_cnn(seed: int = 0, **overrides) -> ModernCNN:
    """A seeded tiny :class:`ModernCNN`."""
    torch.manual_seed(seed)
    return ModernCNN(tiny_cnn_config(**overrides))


def cohn_cnn(seed: int = 0, **overrides) -> CohnCNN:
    """A seeded :class:`CohnCNN` at the paper's size (44k parameters, 500 bp)."""
    torch.manual_seed(seed)
    return CohnCNN(CNNConfig(arch="cohn", **overrides))


def randomize_batchnorm(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial running stats and affine terms (eval tests need them)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def group_parameters(groups: list[list[torch.nn.Module]]) -> list[list[torch.nn.Parameter]]:
    """The parameters of each layer group (modules), each tensor listed once within its group."""
    out = []
    for group in groups:
        params = {id(p): p for module in group for p in module.parameters()}
        out.append(list(params.values()))
    return out
