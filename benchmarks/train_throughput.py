"""Training throughput per preset: tokens/s and achieved GFLOP/s of the AWD-LSTM LM and classifier.

For each preset the script times full training steps (forward + backward + AdamW step, through
the project's own ``train_step``) of

* the language model: batch ``pretrain.batch_size`` × bptt 70 tokens, vocabulary ``4**k + 3``,
  the preset's LSTM sizes and LM dropouts (× ``pretrain.drop_mult``), AR/TAR on;
* the ULMFiT classifier: batch ``classifier.batch_size`` random 500 bp sequences tokenized with
  the preset's k/stride, every layer unfrozen;
* the CNN baselines (``modern`` and ``cohn``, batch ``cnn.batch_size`` × 500 bp), in sequences/s.

Achieved GFLOP/s count the matmul FLOPs analytically — per token per LSTM layer
``2 * 4 * h * (in + h)`` forward, and for the LM decoder ``2 * emb * vocab``, both × 3 for
forward + backward (element-wise gate maths, the embedding and the classifier head are left out)
— and are compared with the dense fp32 matmul rate of this machine, measured in the same run on
square matrices at the same thread count with both ``torch.mm`` (MKL) and oneDNN (the library
behind ``nn.LSTM``); the faster of the two is the reference, since MKL skips its AVX-512 code on
AMD CPUs.

Run from the project root::

    .venv/bin/python benchmarks/train_throughput.py --threads 1 --presets tiny,demo,cpu,paper-4mer
"""

from __future__ import annotations

import argparse
import os
import sys

_pre = argparse.ArgumentParser(add_help=False)
_pre.add_argument("--threads", type=int, default=1)
_threads = str(max(1, _pre.parse_known_args()[0].threads))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _threads

import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from genomic_ulmfit.config import Preset, get_preset  # noqa: E402
from genomic_ulmfit.models.awd_lstm import AWDLSTMConfig, LanguageModel, ULMFiTClassifier  # noqa: E402
from genomic_ulmfit.models.cnn import CNNConfig, build_cnn, one_hot  # noqa: E402
from genomic_ulmfit.tokenize import KmerTokenizer  # noqa: E402
from genomic_ulmfit.training import optim as _optim  # noqa: E402
from genomic_ulmfit.training.loop import ClassificationTask, LanguageModelTask, Task, train_step  # noqa: E402

BPTT = 70
SEQ_LEN = 500


@dataclass
class Result:
    """One timed model: ``items_per_s`` are tokens/s (LSTMs) or sequences/s (CNNs)."""

    preset: str
    model: str
    batch: str
    params: int
    step_s: float
    items_per_s: float
    unit: str
    gflops: float | None


# ----------------------------------------------------------------------------- FLOP counts
def lstm_flops_per_token(layer_sizes: list[int]) -> int:
    """Forward matmul FLOPs per token of stacked single-layer LSTMs ``[in, h1, ..., h_n]``.

    Layer ``in → h``: ``2 * 4h * (in + h)`` (input and recurrent matmuls of the four gates).
    """
    return sum(2 * 4 * h * (i + h) for i, h in zip(layer_sizes[:-1], layer_sizes[1:], strict=True))


def lm_flops_per_token(cfg: AWDLSTMConfig) -> int:
    """Forward + backward matmul FLOPs per token of the LM: 3 × (LSTM layers + decoder ``2 * emb * vocab``)."""
    sizes = [cfg.emb_size] + [cfg.hidden_size] * (cfg.n_layers - 1) + [cfg.emb_size]
    return 3 * (lstm_flops_per_token(sizes) + 2 * cfg.emb_size * cfg.vocab_size)


def clas_flops_per_token(cfg: AWDLSTMConfig) -> int:
    """Forward + backward matmul FLOPs per token of the classifier's encoder (head ignored)."""
    sizes = [cfg.emb_size] + [cfg.hidden_size] * (cfg.n_layers - 1) + [cfg.emb_size]
    return 3 * lstm_flops_per_token(sizes)


# ----------------------------------------------------------------------------- timing
def matmul_gflops(n: int, repeat: int, backend: str = "mkl") -> float:
    """Best fp32 rate (GFLOP/s) of an (n, n) × (n, n) matmul over ``repeat`` calls.

    ``backend="mkl"``: ``torch.mm`` (the BLAS torch was built with); ``"onednn"``: oneDNN's
    matmul (``mkldnn_linear``), the library behind ``nn.LSTM`` and ``nn.Conv1d`` on the CPU. On
    AMD CPUs MKL does not take its AVX-512 path, so oneDNN can be ~2× faster: the larger of the
    two is the machine's dense fp32 rate. Returns NaN when the backend is unavailable.
    """
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    if backend == "onednn":
        if not torch.backends.mkldnn.is_available():
            return float("nan")
        am, bm = a.to_mkldnn(), b.to_mkldnn()

        def call() -> None:
            torch._C._nn.mkldnn_linear(am, bm)  # a @ b.T
    else:

        def call() -> None:
            torch.mm(a, b)

    try:
        call()  # warm-up
    except (RuntimeError, AttributeError):  # private oneDNN entry point missing in this torch build
        return float("nan")
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def matmul_peak(n: int) -> dict[str, float]:
    """``{"mkl": GFLOP/s, "onednn": GFLOP/s}`` of :func:`matmul_gflops` (5 calls each)."""
    return {b: matmul_gflops(n, 5, b) for b in ("mkl", "onednn")}


def time_steps(step: Callable[[], None], steps: int, budget: float, warmup: int = 1) -> float:
    """Median seconds of one ``step()`` over up to ``steps`` timed calls (at least 2, stopping
    early once ``budget`` seconds are spent), after ``warmup`` untimed calls."""
    for _ in range(warmup):
        step()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max(2, steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        if len(times) >= 2 and time.perf_counter() - start > budget:
            break
    return float(np.median(times))


def step_fn(model: torch.nn.Module, task: Task, batch: dict[str, torch.Tensor]) -> Callable[[], None]:
    """One training step of ``model`` on a fixed ``batch`` with AdamW over its layer groups."""
    model.train()
    optimizer = _optim.make_optimizer(model.layer_groups(), 1e-3, wd=0.01)
    device = torch.device("cpu")

    def step() -> None:
        task.reset()
        train_step(model, task, batch, optimizer, amp_dtype=None, scaler=None, clip=0.1, device=device)

    return step


def random_dna(n: int, length: int, seed: int = 0) -> list[str]:
    """``n`` uniform random ACGT strings of ``length`` bases."""
    rng = np.random.default_rng(seed)
    return ["".join(row) for row in np.array(list("ACGT"))[rng.integers(0, 4, size=(n, length))]]


# ----------------------------------------------------------------------------- per model
def bench_lm(preset: Preset, steps: int, budget: float) -> Result:
    """Language-model training step: batch × bptt 70 random tokens."""
    tok = KmerTokenizer(preset.tokenizer.k, preset.tokenizer.stride)
    s = preset.lstm
    cfg = AWDLSTMConfig(vocab_size=tok.vocab_size, emb_size=s.emb_size, hidden_size=s.hidden_size,
                        n_layers=s.n_layers, **s.lm_dropouts).scaled(preset.pretrain.drop_mult)
    torch.manual_seed(0)
    model = LanguageModel(cfg)
    bs = preset.pretrain.batch_size
    g = torch.Generator().manual_seed(0)
    x = torch.randint(tok.n_special, tok.vocab_size, (bs, BPTT + 1), generator=g)
    batch = {"x": x[:, :-1].contiguous(), "y": x[:, 1:].contiguous()}
    sec = time_steps(step_fn(model, LanguageModelTask(), batch), steps, budget)
    n_tok = bs * BPTT
    params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    return Result(preset.name, "AWD-LSTM LM", f"{bs}×{BPTT}", params, sec, n_tok / sec, "tok/s",
                  lm_flops_per_token(cfg) * n_tok / sec / 1e9)


def bench_classifier(preset: Preset, steps: int, budget: float) -> Result:
    """ULMFiT classifier training step (all groups unfrozen) on 500 bp sequences."""
    tok = KmerTokenizer(preset.tokenizer.k, preset.tokenizer.stride)
    s = preset.lstm
    cfg = AWDLSTMConfig(vocab_size=tok.vocab_size, pad_id=tok.pad_id, emb_size=s.emb_size,
                        hidden_size=s.hidden_size, n_layers=s.n_layers,
                        **s.clas_dropouts).scaled(preset.classifier.drop_mult)
    torch.manual_seed(0)
    model = ULMFiTClassifier(cfg, head_ps=(cfg.output_p, 0.1))
    bs = preset.classifier.batch_size
    tokens = torch.as_tensor(tok.encode(random_dna(bs, SEQ_LEN)).astype(np.int64))  # (B, T)
    batch = {"x": tokens, "y": torch.arange(bs) % 2}
    sec = time_steps(step_fn(model, ClassificationTask(), batch), steps, budget)
    n_tok = tokens.numel()
    params = sum(p.numel() for p in model.parameters())
    return Result(preset.name, "ULMFiT classifier", f"{bs}×{tokens.shape[1]}", params, sec, n_tok / sec,
                  "tok/s", clas_flops_per_token(cfg) * n_tok / sec / 1e9)


def bench_cnn(preset: Preset, arch: str, steps: int, budget: float) -> Result:
    """CNN training step on a batch of 500 bp one-hot sequences (``arch`` "modern" or "cohn")."""
    torch.manual_seed(0)
    model = build_cnn(CNNConfig(arch=arch))
    bs = preset.cnn.batch_size
    batch = {"x": torch.as_tensor(one_hot(random_dna(bs, SEQ_LEN))), "y": torch.arange(bs) % 2}
    sec = time_steps(step_fn(model, ClassificationTask(), batch), steps, budget)
    params = sum(p.numel() for p in model.parameters())
    return Result(preset.name, f"CNN {arch}", f"{bs}×{SEQ_LEN} bp", params, sec, bs / sec, "seq/s", None)


# ----------------------------------------------------------------------------- report
def print_table(results: list[Result], peak: float, title: str) -> None:
    """A rich table and the same rows as Markdown (for benchmarks/README.md)."""
    from rich.console import Console
    from rich.table import Table

    head = ["preset", "model", "batch", "params", "s/step", "throughput", "GFLOP/s", "% of peak"]
    rows = []
    for r in results:
        gf = "–" if r.gflops is None else f"{r.gflops:.1f}"
        frac = "–" if r.gflops is None else f"{100 * r.gflops / peak:.0f}%"
        rows.append([r.preset, r.model, r.batch, f"{r.params / 1e6:.2f} M", f"{r.step_s:.3f}",
                     f"{r.items_per_s:,.0f} {r.unit}", gf, frac])
    table = Table(title=title)
    for h in head:
        table.add_column(h, justify="left" if h in ("preset", "model", "batch") else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 130).print(table)
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch/BLAS threads (default 1)")
    p.add_argument("--steps", type=int, default=5, help="max timed steps per model (default 5, min 2)")
    p.add_argument("--budget", type=float, default=30.0,
                   help="stop timing a model after this many seconds (at least 2 steps; default 30)")
    p.add_argument("--presets", default="tiny,demo,cpu,paper-4mer", help="comma-separated preset names")
    p.add_argument("--matmul-size", type=int, default=2048, help="n of the n×n fp32 matmul peak (default 2048)")
    p.add_argument("--no-cnn", action="store_true", help="skip the CNN baselines")
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))

    load0 = os.getloadavg()[0]
    start = matmul_peak(args.matmul_size)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPUs, "
          f"load average {load0:.2f} at start; fp32 {args.matmul_size}² matmul: torch.mm (MKL) "
          f"{start['mkl']:.1f} GFLOP/s, oneDNN {start['onednn']:.1f} GFLOP/s", flush=True)
    results: list[Result] = []
    for name in [s.strip() for s in args.presets.split(",") if s.strip()]:
        preset = get_preset(name)
        for fn in (bench_lm, bench_classifier):
            results.append(fn(preset, args.steps, args.budget))
            r = results[-1]
            print(f"  {r.preset:<11} {r.model:<18} {r.items_per_s:>10,.0f} {r.unit}", flush=True)
    if not args.no_cnn:
        preset = get_preset("cpu")
        for arch in ("modern", "cohn"):
            results.append(bench_cnn(preset, arch, args.steps, args.budget))
    end = matmul_peak(args.matmul_size)
    load1 = os.getloadavg()[0]
    print(f"at the end: torch.mm (MKL) {end['mkl']:.1f} GFLOP/s, oneDNN {end['onednn']:.1f} GFLOP/s; "
          f"load average {load1:.2f}")
    peak = max(v for v in (*start.values(), *end.values()) if v == v)  # ignore NaN
    title = (f"Training throughput, {torch.get_num_threads()} thread(s); dense fp32 matmul peak {peak:.1f} "
             f"GFLOP/s (best of MKL/oneDNN); load avg {load0:.1f}→{load1:.1f}")
    print_table(results, peak, title)


if __name__ == "__main__":
    sys.exit(main())
