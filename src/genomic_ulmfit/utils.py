"""Small shared helpers: atomic writes, seeding, devices, hashes and run records."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import platform
import random
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from genomic_ulmfit.errors import ConfigError, GenomicUlmfitError, InputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    A crash or exception leaves any previous ``path`` untouched and removes the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the result the usual permissions (0666 & ~umask).
        umask = os.umask(0)
        os.umask(umask)
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def open_text_atomic(path: str | os.PathLike) -> Iterator[Any]:
    """A text file handle whose contents replace ``path`` atomically on success (see :func:`atomic_path`).

    A name ending in .gz is gzip-compressed, with neither a file name nor a timestamp in its header:
    the same text gives the same bytes.
    """
    with atomic_path(path) as tmp:
        if Path(path).suffix != ".gz":
            with open(tmp, "w") as fh:
                yield fh
            return
        with open(tmp, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as gz, io.TextIOWrapper(gz) as fh:
            yield fh


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file + rename), gzip-compressed when it ends in .gz."""
    with open_text_atomic(path) as fh:
        fh.write(text)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def json_records(df: Any) -> list[dict]:
    """A DataFrame as JSON-ready records, undefined values (NaN) as None: ``null`` in the file, which
    every JSON parser reads (a bare ``NaN`` is not JSON)."""
    return df.astype(object).where(df.notna(), None).to_dict(orient="records")


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_json(path: str | os.PathLike, error: type[GenomicUlmfitError] = InputError) -> Any:
    """Parse the JSON file ``path``.

    Malformed JSON raises ``error`` (default :class:`InputError`) with one line
    ``"<path>: not valid JSON (<reason> at line <n>)"``. The file must exist: callers check that
    first, since the fix for a missing file differs (build the corpus, train the model...).
    """
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def check_seed(seed: int) -> int:
    """``seed`` itself when it is a non-negative integer (NumPy's generators take no other)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed (--seed) {seed!r} is not allowed; use a non-negative integer")
    return int(seed)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) random generators."""
    check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass


def resolve_device(device: str | None = None):
    """Return a ``torch.device``: ``None``/``"auto"`` means CUDA when present, else CPU."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"--device {device!r} is not a device; use cpu, cuda, cuda:1 … (or leave it out)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: this torch build or machine has no CUDA; use --device cpu "
                          "(or install a CUDA build of torch)")
    return dev


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python, this package and the main dependencies (for run records)."""
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("genomic-ulmfit", "torch", "numpy", "pandas", "scikit-learn", "safetensors"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(path: str | os.PathLike | None = None) -> str | None:
    """The git commit of the source tree this package runs from, or None outside a checkout."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def rich_log(*objects: Any) -> None:
    """Print with rich (markup such as ``[bold]`` rendered); the default ``log`` of pipelines."""
    from rich import print as rprint

    rprint(*objects)
