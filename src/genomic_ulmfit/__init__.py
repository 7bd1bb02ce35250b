"""genomic-ulmfit: enhancer classification from DNA sequence.

Pipeline stages, each a plain Python API with a thin CLI on top:
``data`` (readers, datasets, splits, leakage) → ``tokenize`` (k-mer tokens) → ``models``
(AWD-LSTM, ULMFiT classifier, CNNs, k-mer baseline) → ``training`` (one-cycle, gradual
unfreezing, checkpoints) → ``evaluation`` (metrics, CIs, reports) → ``predict`` (scoring, scanning).
"""

__version__ = "0.1.0"
