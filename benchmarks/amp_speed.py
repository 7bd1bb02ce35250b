"""fp32 vs bf16 autocast, side by side: training and inference speed of the torch models.

For the ``cpu`` preset's AWD-LSTM language model (64 × 70 tokens of 4-mer/2), its ULMFiT
classifier (64 × 249 tokens, a 500-bp view, every layer unfrozen) and the modern CNN
(64 × 500 bp), the script times training steps (forward + backward + AdamW) and inference
batches (eval mode, no grad) in fp32 and under bf16 autocast, alternating the two precisions
``--rounds`` times so that both see the same machine load, and prints the median of each with the
bf16 / fp32 ratio. On CPUs with Intel AMX (``torch.cpu._is_amx_tile_supported()``) oneDNN runs
bf16 matrix products on the AMX tiles, on CPUs with AVX512-BF16 (``torch.cpu._is_avx512_bf16_supported()``,
e.g. AMD Zen 4) with those instructions; the project's default precision (``--amp auto``) uses bf16 on
both (and on CUDA), fp32 on other CPUs, where bf16 would be emulated.

Run from the project root on an idle core::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/amp_speed.py --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--rounds", type=int, default=3, help="alternations of fp32 and bf16")
    ap.add_argument("--steps", type=int, default=6, help="timed steps per model, precision and round")
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F

    from genomic_ulmfit.config import get_preset
    from genomic_ulmfit.models.awd_lstm import LanguageModel, ULMFiTClassifier
    from genomic_ulmfit.models.cnn import CNNConfig, ModernCNN
    from genomic_ulmfit.tokenize import KmerTokenizer
    from genomic_ulmfit.training.lm import lm_config
    from genomic_ulmfit.training.loop import cpu_has_native_bf16

    torch.manual_seed(0)
    preset = get_preset(args.preset)
    tok = KmerTokenizer(preset.tokenizer.k, preset.tokenizer.stride)
    B = 64

    def lm_loss(m, x, y):
        return F.cross_entropy(m(x)[0].float().flatten(0, 1), y.flatten())

    def clf_loss(m, x, y):
        return F.cross_entropy(m(x).float(), y)

    cases = {  # name: (model, input, target, loss, tokens or bases per batch)
        "AWD-LSTM LM": (LanguageModel(lm_config(preset, tok, preset.pretrain.drop_mult)),
                        torch.randint(0, tok.vocab_size - 1, (B, 70)), torch.randint(0, tok.vocab_size - 1, (B, 70)),
                        lm_loss, B * 70),
        "ULMFiT classifier": (ULMFiTClassifier(lm_config(preset, tok, preset.classifier.drop_mult)),
                              torch.randint(0, tok.vocab_size - 1, (B, 249)), torch.randint(0, 2, (B,)),
                              clf_loss, B * 249),
        "CNN modern": (ModernCNN(CNNConfig()),  # the default ModernCNN, as CNNModel builds it
                       F.one_hot(torch.randint(0, 4, (B, 500)), 4).float().transpose(1, 2), torch.randint(0, 2, (B,)),
                       clf_loss, B * 500),
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), native bf16 (AMX or AVX512-BF16): {cpu_has_native_bf16()}")
    print(f"{'model':<18} {'step':<6} {'fp32 ms':>9} {'bf16 ms':>9} {'speed-up':>9}  (median of {args.rounds} rounds)")
    for name, (model, x, y, loss_fn, n) in cases.items():
        opt = torch.optim.AdamW(model.parameters(), 1e-3)
        times = {(amp, train): [] for amp in ("fp32", "bf16") for train in (True, False)}
        for _ in range(args.rounds):
            for amp in ("fp32", "bf16"):
                for train in (True, False):
                    model.train(train)
                    elapsed = []
                    for i in range(args.steps + 1):  # the first step warms up and is not timed
                        t0 = time.perf_counter()
                        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp == "bf16"), \
                                torch.set_grad_enabled(train):
                            loss = loss_fn(model, x, y)
                        if train:
                            opt.zero_grad()
                            loss.backward()
                            opt.step()
                        if i:
                            elapsed.append(time.perf_counter() - t0)
                    times[amp, train].append(statistics.median(elapsed))
        for train in (True, False):
            f32, b16 = (statistics.median(times[a, train]) * 1e3 for a in ("fp32", "bf16"))
            print(f"{name:<18} {'train' if train else 'infer':<6} {f32:>9.0f} {b16:>9.0f} {f32 / b16:>8.2f}×"
                  f"  ({n / f32 * 1e3:,.0f} → {n / b16 * 1e3:,.0f} per s)")


if __name__ == "__main__":
    main()
