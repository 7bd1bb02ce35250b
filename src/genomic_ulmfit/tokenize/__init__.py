"""Tokenizers: overlapping k-mer tokens with a fixed vocabulary (see :mod:`.kmer`)."""

from genomic_ulmfit.tokenize.kmer import SPECIALS, KmerTokenizer

__all__ = ["KmerTokenizer", "SPECIALS"]
