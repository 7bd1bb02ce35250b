"""Tiny model configs and data for fast tests (importable by other test modules).

Everything is seeded; sizes are chosen so a forward+backward takes milliseconds on one core.
Also: motif-planted labelled DNA (:func:`planted_motif`) and a loopback HTTP file server
(:func:`serve_files`).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import threading
from collections.abc import Iterator

import numpy as np
import torch

from genomic_ulmfit.data.sequences import revcomp
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


PLANTED_MOTIF = "GATAAGGC"


def planted_motif(
    n: int,
    length: int = 100,
    seed: int = 0,
    motif: str = PLANTED_MOTIF,
    *,
    copies: int = 1,
    odd_positive: bool = False,
) -> tuple[list[str], np.ndarray]:
    """``n`` random ACGT strings of ``length``; positives carry ``motif`` planted ``copies`` times.

    Positives (label 1) are the even rows (0, 2, ...), or the odd rows when ``odd_positive``.
    Each copy goes at a random place on a random strand. Returns (sequences, int64 labels (n,)).
    """
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        s = np.array(list("ACGT"))[rng.integers(0, 4, length)]
        positive = i % 2 == int(odd_positive)
        if positive:
            for _ in range(copies):
                at = int(rng.integers(0, length - len(motif)))
                s[at : at + len(motif)] = list(motif if rng.random() < 0.5 else revcomp(motif))
        seqs.append("".join(s))
        labels.append(int(positive))
    return seqs, np.array(labels)


class FileHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` ({URL path: body}); 404 for other paths.

    While ``honour_range`` is True a ``Range: bytes=N-`` request gets 206 with the tail (416 past
    the end), otherwise 200 with the whole body; every Range header is appended to ``ranges``.
    Every response carries the body's :meth:`etag`; an ``If-Range`` that differs from it (the
    file changed) gets the whole body, as HTTP says.
    """

    files: dict[str, bytes] = {}
    ranges: list[str] = []
    honour_range = True

    @staticmethod
    def etag(body: bytes) -> str:
        return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def do_GET(self):  # noqa: N802 - http.server API
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        rng = self.headers.get("Range")
        if rng:
            type(self).ranges.append(rng)
        if_range = self.headers.get("If-Range")
        if rng and self.honour_range and (if_range is None or if_range == self.etag(body)):
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("ETag", self.etag(body))
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            self.wfile.write(body[start:])
            return
        self.send_response(200)
        self.send_header("ETag", self.etag(body))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_files(files: dict[str, bytes]) -> Iterator[tuple[str, type[FileHandler]]]:
    """Serve ``files`` on 127.0.0.1 (free port) from a thread; yields (base URL, handler class).

    The handler class is this server's own :class:`FileHandler` subclass: tests may change its
    ``files`` and ``honour_range`` and read its ``ranges``.
    """
    handler = type("Handler", (FileHandler,), {"files": dict(files), "ranges": [], "honour_range": True})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def repeat_genome_world(root) -> tuple:
    """A genome FASTA in ``root`` holding 250 repeat families (60 bp, 5 copies each, some
    reverse-complemented) among unique DNA, and ((train, labels), (test, labels)): negatives carry a
    copy of a family, positives are unique DNA. All random, so k-mer spectra cannot tell them apart,
    and test negatives use families no training sequence had: only genome copy numbers can."""
    rng = np.random.default_rng(0)

    def dna(n):
        return "".join(rng.choice(list("ACGT"), n))

    families = [dna(60) for _ in range(250)]
    pieces = [f if c % 2 else revcomp(f) for f in families for c in range(5)]
    rng.shuffle(pieces)
    genome = root / "genome.fa"
    genome.write_text(">chrR\n" + "".join(p + dna(40) for p in pieces) + "\n")

    def sets(fams):
        neg = [dna(20) + families[i] + dna(20) for i in fams]
        pos = [dna(100) for _ in fams]
        return neg + pos, np.array([0] * len(fams) + [1] * len(fams))

    return genome, sets(range(150)), sets(range(150, 250))


def sampled_sites_world(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Random 150-bp sequences; positives (even rows) carry one HNF4A site drawn from its matrix, so
    the sites vary the way real ones do and no single k-mer marks them."""
    from genomic_ulmfit.data.motifs import MOTIFS, sample_sites

    rng = np.random.default_rng(seed)
    sites = sample_sites(MOTIFS["HNF4A"], n, rng)
    seqs = []
    for i in range(n):
        s = rng.integers(0, 4, 150).astype(np.uint8)
        if i % 2 == 0:
            at = int(rng.integers(0, 150 - sites.shape[1]))
            s[at : at + sites.shape[1]] = sites[i] if rng.random() < 0.5 else (3 - sites[i])[::-1]
        seqs.append("".join(np.array(list("ACGT"))[s]))
    return seqs, (np.arange(n) % 2 == 0).astype(np.int64)
