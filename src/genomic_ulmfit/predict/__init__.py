"""Prediction: score sequences with a saved run, and scan genomes with sliding windows."""

from genomic_ulmfit.predict.predict import predict_file, predict_sequences
from genomic_ulmfit.predict.scan import scan_fasta

__all__ = ["predict_file", "predict_sequences", "scan_fasta"]
