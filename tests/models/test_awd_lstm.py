"""Tests of the AWD-LSTM encoder, language model and ULMFiT classifier (tiny sizes, one core)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.functional as F

from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.models.awd_lstm import (
    AWDLSTMConfig,
    EmbeddingDropout,
    LanguageModel,
    RNNDropout,
    ULMFiTClassifier,
    WeightDropout,
    ar_tar_penalty,
    ar_term,
    count_parameters,
    detach_state,
    fastai_awd_lstm_param_count,
    masked_concat_pool,
    tar_term,
)
from toy import (
    PAD_ID,
    TOY_VOCAB,
    group_parameters,
    no_dropout,
    randomize_batchnorm,
    tiny_awd_config,
    tiny_classifier,
    tiny_lm,
    toy_tokens,
)

# --------------------------------------------------------------------------- config


def test_config_round_trip_through_json():
    cfg = tiny_awd_config(weight_p=0.3, tie_weights=False)
    again = AWDLSTMConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_config_int_accepted_for_float():
    cfg = AWDLSTMConfig.from_dict({"vocab_size": 10, "output_p": 0})
    assert cfg.output_p == 0.0 and isinstance(cfg.output_p, float)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"vocab_size": 10, "hiden_size": 3}, "hiden_size"),
        ({"vocab_size": 10.0}, "vocab_size"),
        ({"vocab_size": 10, "tie_weights": 1}, "tie_weights"),
        ({"vocab_size": 10, "emb_size": "400"}, "emb_size"),
        ({"vocab_size": 10, "weight_p": 1.5}, "weight_p"),
        ({"vocab_size": 10, "n_layers": 0}, "n_layers"),
        ({"vocab_size": 10, "pad_id": 10}, "pad_id"),
        ({"emb_size": 10}, "vocab_size"),
    ],
)
def test_config_errors_name_the_key(data, key):
    with pytest.raises(ConfigError, match=repr(key)) as info:
        AWDLSTMConfig.from_dict(data)
    assert "\n" not in str(info.value)


def test_scaled_multiplies_the_five_dropouts():
    cfg = AWDLSTMConfig(vocab_size=10)
    half = cfg.scaled(0.5)
    for key in ("output_p", "hidden_p", "input_p", "embed_p", "weight_p"):
        assert getattr(half, key) == pytest.approx(getattr(cfg, key) * 0.5)
    assert (half.emb_size, half.hidden_size, half.vocab_size) == (400, 1150, 10)
    assert cfg.output_p == 0.25  # the original is untouched


# --------------------------------------------------------------------------- shapes


def test_language_model_shapes():
    lm = tiny_lm()
    logits, state, extras = lm(toy_tokens(3, 11))
    assert logits.shape == (3, 11, TOY_VOCAB)
    assert [tuple(t.shape) for hc in state for t in hc] == [(1, 3, 24)] * 4 + [(1, 3, 16)] * 2
    assert extras["raw"].shape == extras["dropped"].shape == (3, 11, 16)


def test_classifier_shapes_and_small_token_dtypes():
    clf = tiny_classifier(n_classes=3).eval()
    tokens = toy_tokens(4, 9)
    out = clf(tokens)
    assert out.shape == (4, 3)
    torch.testing.assert_close(clf(tokens.to(torch.uint8)), out)
    torch.testing.assert_close(clf(tokens.to(torch.int32)), out)


# --------------------------------------------------------------------------- tied weights


def test_decoder_is_tied_to_embedding():
    lm = tiny_lm()
    assert lm.decoder.weight is lm.encoder.embedding.weight
    assert lm.decoder.weight.data_ptr() == lm.encoder.embedding.weight.data_ptr()
    untied = tiny_lm(tie_weights=False)
    assert untied.decoder.weight is not untied.encoder.embedding.weight


def test_gradient_reaches_tied_weight_from_both_paths():
    lm = tiny_lm(**{k: 0.0 for k in ("output_p", "hidden_p", "input_p", "embed_p", "weight_p")})
    tokens = torch.tensor([[5, 6, 7, 5]])
    unseen = 40  # not in the input: only the decoder path can give it a gradient
    logits, _, extras = lm(tokens)
    logits[..., unseen].sum().backward()
    grad = lm.encoder.embedding.weight.grad
    assert grad[unseen].abs().sum() > 0
    lm.zero_grad()
    _, _, extras = lm(tokens)
    extras["raw"].pow(2).sum().backward()  # encoder path only
    grad = lm.encoder.embedding.weight.grad
    assert grad[5].abs().sum() > 0
    assert grad[unseen].abs().sum() == 0


# --------------------------------------------------------------------------- dropout modes


def test_dropout_only_in_training():
    lm = tiny_lm()
    tokens = toy_tokens(2, 10)
    lm.eval()
    a, _, _ = lm(tokens)
    b, _, _ = lm(tokens)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    lm.train()
    torch.manual_seed(1)
    c, _, _ = lm(tokens)
    d, _, _ = lm(tokens)
    assert not torch.allclose(c, d)
    assert not torch.allclose(c, a)


def test_without_dropout_train_equals_eval():
    torch.manual_seed(0)
    lm = LanguageModel(no_dropout())
    tokens = toy_tokens(2, 10)
    train_out, _, _ = lm.train()(tokens)
    eval_out, _, _ = lm.eval()(tokens)
    torch.testing.assert_close(train_out, eval_out)


def test_embedding_dropout_zeros_whole_rows():
    torch.manual_seed(0)
    weight = torch.randn(20, 6)
    tokens = torch.arange(20).repeat(3, 2)  # every id six times, (3, 40)
    drop = EmbeddingDropout(0.5).train()
    out = drop(tokens, weight)  # (3, 40, 6)
    dropped = set()
    for tok in range(20):
        rows = out[tokens == tok]  # (6, 6)
        if rows.abs().sum() == 0:
            dropped.add(tok)
        else:
            torch.testing.assert_close(rows, (weight[tok] * 2).expand_as(rows))
    assert 0 < len(dropped) < 20
    torch.testing.assert_close(drop.eval()(tokens, weight), F.embedding(tokens, weight))


def test_locked_dropout_mask_constant_over_time():
    torch.manual_seed(0)
    x = torch.ones(4, 30, 10)
    out = RNNDropout(0.5).train()(x)
    assert torch.equal(out, out[:, :1].expand_as(out))
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert not torch.equal(out[0], out[1])  # masks differ between sequences
    assert torch.equal(RNNDropout(0.5).eval()(x), x)


# --------------------------------------------------------------------------- weight drop


def _reference_lstm(wd: WeightDropout, w_hh: torch.Tensor) -> torch.nn.LSTM:
    """A plain nn.LSTM with the wrapper's weights and ``w_hh`` as hidden-to-hidden weight."""
    m = wd.module
    ref = torch.nn.LSTM(m.input_size, m.hidden_size, batch_first=True)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(m.weight_ih_l0)
        ref.weight_hh_l0.copy_(w_hh)
        ref.bias_ih_l0.copy_(m.bias_ih_l0)
        ref.bias_hh_l0.copy_(m.bias_hh_l0)
    return ref


def test_weight_dropout_new_mask_each_call_and_raw_unchanged():
    torch.manual_seed(0)
    wd = WeightDropout(torch.nn.LSTM(5, 7, batch_first=True), weight_p=0.5).train()
    assert [n for n, _ in wd.named_parameters()] == [
        "weight_hh_l0_raw",
        "module.weight_ih_l0",
        "module.bias_ih_l0",
        "module.bias_hh_l0",
    ]
    raw_before = wd.weight_hh_l0_raw.detach().clone()
    x = torch.randn(2, 6, 5)
    state = (torch.zeros(1, 2, 7), torch.zeros(1, 2, 7))

    torch.manual_seed(123)
    out1, _ = wd(x, state)
    out2, _ = wd(x, state)
    assert not torch.allclose(out1, out2)  # a different mask on the second call

    # The first call used exactly F.dropout(raw) drawn from the same RNG state.
    torch.manual_seed(123)
    w_eff = F.dropout(raw_before, 0.5, training=True)
    with torch.no_grad():
        expected, _ = _reference_lstm(wd, w_eff)(x, state)
    torch.testing.assert_close(out1, expected)

    torch.manual_seed(123)
    wd.zero_grad()
    wd(x, state)[0].sum().backward()
    assert torch.equal(wd.weight_hh_l0_raw.detach(), raw_before)
    assert torch.all(wd.weight_hh_l0_raw.grad[w_eff == 0] == 0)
    assert wd.weight_hh_l0_raw.grad[w_eff != 0].abs().sum() > 0

    wd.eval()
    assert wd.effective_weight() is wd.weight_hh_l0_raw
    with torch.no_grad():
        expected_eval, _ = _reference_lstm(wd, raw_before)(x, state)
        torch.testing.assert_close(wd(x, state)[0], expected_eval)


def test_model_deepcopies_after_a_training_step():
    lm = tiny_lm().train()
    logits, _, _ = lm(toy_tokens(2, 5))
    logits.sum().backward()
    clone = copy.deepcopy(lm).eval()
    tokens = toy_tokens(2, 5)
    torch.testing.assert_close(clone(tokens)[0], lm.eval()(tokens)[0])


# --------------------------------------------------------------------------- state passing


def test_state_carried_over_halves_equals_whole_sequence():
    lm = tiny_lm().eval()
    tokens = toy_tokens(3, 20)
    with torch.no_grad():
        whole, _, _ = lm(tokens)
        first, state, _ = lm(tokens[:, :10])
        second, _, _ = lm(tokens[:, 10:], detach_state(state))
        fresh, _, _ = lm(tokens[:, 10:])
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(fresh, whole[:, 10:], atol=1e-3)


def test_detach_state():
    lm = tiny_lm()
    _, state, _ = lm(toy_tokens(2, 4))
    assert all(t.requires_grad for hc in state for t in hc)
    detached = detach_state(state)
    assert not any(t.requires_grad for hc in detached for t in hc)
    assert all(
        torch.equal(a, b) for hc, dc in zip(state, detached, strict=True) for a, b in zip(hc, dc, strict=True)
    )
    assert detach_state(None) is None


# --------------------------------------------------------------------------- AR / TAR


def test_ar_tar_penalty_matches_formula():
    torch.manual_seed(0)
    raw, dropped = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    expected = 2 * dropped.pow(2).mean() + 1 * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
    torch.testing.assert_close(ar_tar_penalty(raw, dropped, 2.0, 1.0), expected)
    constant = torch.ones(2, 5, 3)
    assert ar_tar_penalty(constant, constant, 0.0, 1.0) == 0  # no change over time
    assert ar_tar_penalty(raw[:, :1], dropped[:, :1], 0.0, 1.0) == 0  # one step: no TAR


def test_ar_and_tar_with_a_mask_ignore_the_padding():
    torch.manual_seed(0)
    out = torch.randn(2, 5, 3)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    padded = out.clone()
    padded[1, 3:] = 100.0  # whatever the padding's outputs are
    assert ar_term(padded, mask) == ar_term(out, mask) and tar_term(padded, mask) == tar_term(out, mask)
    # the real positions / steps only: 5 + 3 positions, 4 + 2 steps
    torch.testing.assert_close(ar_term(out, mask), (out[0].pow(2).sum() + out[1, :3].pow(2).sum()) / (8 * 3))
    steps = (out[:, 1:] - out[:, :-1]).pow(2)
    torch.testing.assert_close(tar_term(out, mask), (steps[0].sum() + steps[1, :2].sum()) / (6 * 3))
    torch.testing.assert_close(ar_term(out, torch.ones(2, 5, dtype=torch.bool)), ar_term(out))
    assert tar_term(out, torch.zeros(2, 5, dtype=torch.bool)) == 0  # no real step: 0, not NaN


# --------------------------------------------------------------------------- pooling / classifier


def test_masked_concat_pool_values():
    out = torch.tensor([[[1.0], [3.0], [2.0], [9.0]], [[-1.0], [-2.0], [7.0], [8.0]]])  # (2, 4, 1)
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    pooled = masked_concat_pool(out, mask)
    torch.testing.assert_close(pooled, torch.tensor([[2.0, 3.0, 2.0], [-2.0, -1.0, -1.5]]))


def test_classifier_ignores_right_padding():
    clf = tiny_classifier().eval()
    randomize_batchnorm(clf)
    tokens = toy_tokens(1, 10)
    padded = torch.cat([tokens, torch.full((1, 7), PAD_ID)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(clf(padded), clf(tokens), atol=1e-5, rtol=1e-5)
        # Padding would change the result if it were pooled like a real token.
        out, _ = clf.encoder(padded)
        naive = clf.head.layers(masked_concat_pool(out, torch.ones_like(padded, dtype=torch.bool)))
        assert not torch.allclose(naive, clf(tokens), atol=1e-4)


def test_composition_head_adds_the_mean_input_embedding():
    torch.manual_seed(0)
    clf = ULMFiTClassifier(tiny_awd_config(), head_hidden=8, composition=True).eval()
    randomize_batchnorm(clf)
    emb = clf.cfg.emb_size
    assert clf.head.layers[0].num_features == 4 * emb
    seen = []
    clf.head.layers[0].register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    tokens = toy_tokens(1, 10)
    padded = torch.cat([tokens, torch.full((1, 7), PAD_ID)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(clf(padded), clf(tokens), atol=1e-5, rtol=1e-5)  # padding ignored
        mean_emb = clf.encoder.embedding(tokens).mean(dim=1)
    torch.testing.assert_close(seen[0][:, 3 * emb :], mean_emb)
    torch.testing.assert_close(seen[1][:, 3 * emb :], mean_emb)


def test_classifier_batch_size_invariance():
    clf = tiny_classifier().eval()
    randomize_batchnorm(clf)
    lengths = [12, 7, 12, 3, 9]
    tokens = toy_tokens(5, 12, seed=3)
    for i, n in enumerate(lengths):
        tokens[i, n:] = PAD_ID
    with torch.no_grad():
        batch = clf(tokens)
        singles = torch.cat([clf(tokens[i : i + 1, :n]) for i, n in enumerate(lengths)])
    torch.testing.assert_close(batch, singles, atol=1e-5, rtol=1e-5)


def test_language_model_batch_size_invariance():
    lm = tiny_lm().eval()
    tokens = toy_tokens(5, 8, seed=4)
    with torch.no_grad():
        batch = lm(tokens)[0]
        singles = torch.cat([lm(tokens[i : i + 1])[0] for i in range(5)])
    torch.testing.assert_close(batch, singles, atol=1e-5, rtol=1e-5)


def test_encoder_transfer_from_language_model():
    lm = tiny_lm(seed=1).eval()
    clf = tiny_classifier(seed=2).eval()
    tokens = toy_tokens(2, 6)
    with torch.no_grad():
        assert not torch.allclose(clf.encoder(tokens)[0], lm.encoder(tokens)[0])
        clf.load_encoder_state(lm.encoder_state())
        torch.testing.assert_close(clf.encoder(tokens)[0], lm.encoder(tokens)[0])
    assert set(lm.encoder_state()) == set(clf.encoder_state())


def test_encoder_transfer_rejects_other_sizes():
    clf = tiny_classifier()
    other = LanguageModel(tiny_awd_config(vocab_size=4**4 + 3))
    with pytest.raises(ConfigError, match="embedding.weight"):
        clf.load_encoder_state(other.encoder_state())
    state = clf.encoder_state()
    state["extra"] = torch.zeros(1)
    with pytest.raises(ConfigError, match="'extra'"):
        clf.load_encoder_state(state)


# --------------------------------------------------------------------------- layer groups


def _assert_partition(model: torch.nn.Module, groups: list[list[torch.nn.Parameter]]) -> None:
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)), "a parameter is in two groups"
    assert set(ids) == {id(p) for p in model.parameters()}
    assert sum(p.numel() for g in groups for p in g) == count_parameters(model)


def test_language_model_layer_groups():
    lm = tiny_lm()
    groups = group_parameters(lm.layer_groups())
    assert len(groups) == 4
    _assert_partition(lm, groups)
    assert [id(p) for p in groups[-1]] == [id(lm.encoder.embedding.weight), id(lm.decoder.bias)]
    assert groups[0][0] is lm.encoder.rnns[0].weight_hh_l0_raw
    untied = tiny_lm(tie_weights=False)
    _assert_partition(untied, group_parameters(untied.layer_groups()))


def test_classifier_layer_groups():
    clf = tiny_classifier()
    groups = group_parameters(clf.layer_groups())
    assert len(groups) == 5
    _assert_partition(clf, groups)
    assert groups[0] == [clf.encoder.embedding.weight]
    assert groups[2][0] is clf.encoder.rnns[1].weight_hh_l0_raw
    assert {id(p) for p in groups[-1]} == {id(p) for p in clf.head.parameters()}


# --------------------------------------------------------------------------- parameter counts


@pytest.mark.parametrize(
    ("k", "expected"),
    [(3, 20_238_467), (4, 20_315_459), (5, 20_623_427)],
)
def test_paper_size_parameter_count(k, expected):
    vocab = 4**k + 3
    assert fastai_awd_lstm_param_count(vocab, 400, 1150, 3) == expected
    lm = LanguageModel(AWDLSTMConfig(vocab_size=vocab))
    assert count_parameters(lm) == expected


def test_count_parameters_dedupes_and_untied_is_larger():
    tied, untied = tiny_lm(), tiny_lm(tie_weights=False)
    assert count_parameters(tied) == fastai_awd_lstm_param_count(TOY_VOCAB, 16, 24, 3)
    assert count_parameters(untied) - count_parameters(tied) == TOY_VOCAB * 16
    assert count_parameters(ULMFiTClassifier(no_dropout())) > count_parameters(tied.encoder)
