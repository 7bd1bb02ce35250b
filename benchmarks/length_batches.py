"""Work saved by length-grouped batches for the ULMFiT classifier on mixed-length data.

For a dataset (default: VISTA, 315–8,061 bp) the script tokenizes every sequence into the
classifier's strand × frame views (4-mer/2) and, for one training epoch, counts the token-steps
the LSTM runs with random batches (each cut to its longest member), with length-grouped
("sortish") batches, and with each of them under a token budget per batch, against the real
tokens. It then times training steps (forward + backward + AdamW, the ``cpu`` preset's
classifier, every layer unfrozen) on batches of every kind, interleaved, and reports tokens/s of
real (non-pad) tokens.

ULMFiTModel trains on random batches under the budget ("random+budget"). It trained on grouped
ones ("grouped+budget") from the sixth to the tenth session, which saves work but costs accuracy
where length differs between the classes: the head's BatchNorm then sees one length per batch in
training and every length in eval (NHLF, one CV fold: 0.819 grouped vs 0.852 random; see
RESULTS.md, "Eleventh session").

Run from the project root (WORK = ``~/.cache/genomic-ulmfit/results`` after ``real_data.sh WORK import``)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/length_batches.py WORK/vista.parquet --steps 8
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", help="dataset .parquet (or a TSV with sequence,label)")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--steps", type=int, default=8, help="timed training steps per batching (0: count only)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-tokens", type=int, default=65536,
                    help="token budget per batch of the budget batchings (ULMFiTModel's batch_tokens)")
    args = ap.parse_args()

    import torch

    from genomic_ulmfit.config import get_preset
    from genomic_ulmfit.data.corpus import ArrayBatches
    from genomic_ulmfit.data.dataset import read_table_or_dataset
    from genomic_ulmfit.models.estimators import ULMFiTModel, _batch_lengths, _view_pick, token_views
    from genomic_ulmfit.tokenize import KmerTokenizer
    from genomic_ulmfit.training import optim
    from genomic_ulmfit.training.loop import ClassificationTask, train_step

    df = read_table_or_dataset(args.dataset)
    p = get_preset(args.preset)
    views = token_views(KmerTokenizer(p.tokenizer.k, p.tokenizer.stride), df["sequence"].tolist())
    y = df["label"].to_numpy(np.int64)
    lengths = _batch_lengths(views)
    if lengths is None:
        raise SystemExit(f"{args.dataset}: every sequence has the same length; nothing to group")
    bs = p.classifier.batch_size
    kinds = {name: ArrayBatches(views, y, bs, shuffle=True, seed=args.seed, transform=_view_pick, drop_last=True,
                                lengths=lens, max_tokens=cap, sortish=sortish)
             for name, lens, cap, sortish in (("random", None, None, 50), ("grouped", lengths, None, 50),
                                              ("grouped+budget", lengths, args.max_tokens, 50),
                                              ("random+budget", lengths, args.max_tokens, 1))}
    print(f"{args.dataset}: {len(y)} sequences, {int(lengths.sum())} tokens in the longest views, "
          f"widest {views.shape[-1]}, batch {bs}")
    for name, data in kinds.items():
        sizes = [b["x"].shape for b in data.batches(0)]
        steps = sum(rows * width for rows, width in sizes)
        print(f"  {name:15s} token-steps per epoch / real tokens = {steps / lengths.sum():.2f}, {len(sizes)} batches, "
              f"largest {max(rows * width for rows, width in sizes)} tokens")
    if args.steps < 1:
        return

    few = np.r_[np.flatnonzero(y == 0)[:bs], np.flatnonzero(y == 1)[:bs]]  # only to build the model
    model = ULMFiTModel(preset=p.name, seed=args.seed).prepare(df["sequence"].iloc[few].tolist(), y[few])["model"]
    task, opt = ClassificationTask(), optim.make_optimizer(model.layer_groups(), 1e-3, wd=0.01)
    model.train()
    batches = {name: [b for _, b in zip(range(args.steps), data.batches(1))] for name, data in kinds.items()}
    real = {name: 0 for name in kinds}
    secs = {name: 0.0 for name in kinds}
    for i in range(args.steps):
        for name in kinds:  # interleaved, so both see the same machine load
            b = batches[name][i]
            t0 = time.perf_counter()
            train_step(model, task, b, opt, amp_dtype=None, scaler=None, clip=0.1, device=torch.device("cpu"))
            secs[name] += time.perf_counter() - t0
            real[name] += int((b["x"] != 0).sum())
    for name in kinds:
        print(f"  {name:15s} {args.steps} steps: {secs[name]:.1f} s, {real[name] / secs[name]:.0f} real tokens/s")
    for name in ("grouped", "grouped+budget", "random+budget"):
        ratio = (real[name] / secs[name]) / (real["random"] / secs["random"])
        print(f"  {name} / random real tokens/s: {ratio:.2f}x")


if __name__ == "__main__":
    main()
