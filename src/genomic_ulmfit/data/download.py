"""Resumable downloads (urllib) and the Cohn et al. archive.

:func:`download_file` writes ``<dest>.part``, resumes it with an HTTP ``Range`` request when it
exists (restarting when the server ignores the range), checks the size against
``Content-Length``/``expected_size`` and an optional SHA-256, then renames it onto ``dest``. A
``.part`` is resumed only with the server's validator (``ETag`` or ``Last-Modified``, kept in
``<dest>.part.json``) sent as ``If-Range``: a file changed on the server since is fetched whole
again instead of being joined from two versions.
"""

from __future__ import annotations

import http.client
import json
import lzma
import os
import re
import tarfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from genomic_ulmfit.errors import GenomicUlmfitError, InputError
from genomic_ulmfit.utils import sha256_file

COHN_URL = "http://www.cs.huji.ac.il/~tommy/enhancer_CNN/Enhancers_vs_negative.tgz"
COHN_ARCHIVE = "Enhancers_vs_negative.tgz"
_CHUNK = 1 << 16


class DownloadError(GenomicUlmfitError):
    """A download failed: network error, HTTP error, size or checksum mismatch."""


def _open(url: str, offset: int, timeout: float, validator: str | None = None):
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "genomic-ulmfit"})
        if offset > 0:
            req.add_header("Range", f"bytes={offset}-")
            if validator:
                req.add_header("If-Range", validator)
        return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - user-given http(s) URL
    except ValueError as exc:  # not a URL urllib can open
        raise DownloadError(f"{url}: not a URL that can be downloaded ({exc}); give an http(s):// or file:// "
                            "URL") from None


def _validator(resp) -> str | None:
    """What identifies this version of the remote file: its ETag, else its Last-Modified date."""
    return resp.headers.get("ETag") or resp.headers.get("Last-Modified")


def _read_validator(sidecar: Path, url: str) -> str | None:
    """The validator saved with a ``.part`` of ``url``, or None (no record, another URL, unreadable)."""
    try:
        record = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    return record.get("validator") if isinstance(record, dict) and record.get("url") == url else None


def _total_size(resp, offset: int) -> int | None:
    """Full size of the remote file from Content-Range (206) or Content-Length (200)."""
    if resp.status == 206:
        m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", ""))
        if m and m.group(3) != "*":
            return int(m.group(3))
        length = _header_int(resp, "Content-Length")
        return offset + length if length is not None else None
    return _header_int(resp, "Content-Length")


def _header_int(resp, name: str) -> int | None:
    """An integer header, or None when missing or malformed (then the size is not checked by it)."""
    try:
        return int(resp.headers.get(name, ""))
    except ValueError:
        return None


def download_file(
    url: str,
    dest: str | os.PathLike,
    *,
    expected_size: int | None = None,
    sha256: str | None = None,
    resume: bool = True,
    progress: bool = True,
    timeout: float = 60,
) -> Path:
    """Download ``url`` to ``dest``, resuming a previous partial download.

    Parameters
    ----------
    url : str
        http(s) or file URL.
    dest : path-like
        Final file; data goes to ``<dest>.part`` first.
    expected_size : int or None
        Size in bytes the file must have.
    sha256 : str or None
        Hex SHA-256 the file must have.
    resume : bool, default True
        Continue an existing ``.part`` with a Range request (a server that answers 200 instead of
        206 restarts the download).
    progress : bool, default True
        Show a rich progress bar.
    timeout : float, default 60
        Socket timeout in seconds.

    Returns
    -------
    Path
        ``dest``. An existing ``dest`` is returned as is when it passes the size/checksum given.

    Raises
    ------
    DownloadError
        Network or HTTP errors, size or checksum mismatch (one line).
    """
    dest = Path(dest)
    part = Path(str(dest) + ".part")
    sidecar = Path(str(part) + ".json")
    if dest.is_file() and _matches(dest, expected_size, sha256):
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"{dest.parent}: cannot create the download folder ({exc.strerror or exc}); "
                            "choose another --out") from None
    validator = _read_validator(sidecar, url) if (resume and part.is_file()) else None
    # without the server's validator a .part could be another version of the file: start afresh
    offset = part.stat().st_size if validator else 0
    resp = None
    total: int | None = None
    try:
        try:
            resp = _open(url, offset, timeout, validator)
        except urllib.error.HTTPError as exc:
            if exc.code != 416 or offset == 0:
                raise
            # Range not satisfiable: the .part may already be complete, else start again.
            if expected_size is not None and offset == expected_size:
                resp = None
            else:
                offset = 0
                resp = _open(url, 0, timeout)
        if resp is not None:
            with resp:
                if offset and resp.status != 206:
                    offset = 0  # the server ignored the range, or the file changed (If-Range): restart
                if offset == 0:
                    _write_sidecar(sidecar, url, _validator(resp))
                total = _total_size(resp, offset)
                if expected_size is not None and total is not None and total != expected_size:
                    raise DownloadError(
                        f"{url}: server reports {total:,} bytes, expected {expected_size:,}; check the URL"
                    )
                _copy(resp, part, offset, total or expected_size, progress, dest.name)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP error {exc.code} ({exc.reason}); check the URL") from exc
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"{url}: download failed ({reason}); check the network and run the command again to resume"
        ) from exc
    except OSError as exc:  # the local side: a full disk, a path that is a file...
        raise DownloadError(f"{part}: cannot write the download ({exc.strerror or exc}); free space or choose "
                            "another --out") from None
    size = part.stat().st_size
    want = expected_size if expected_size is not None else total
    if want is not None and size != want:
        if size > want:
            part.unlink()
        raise DownloadError(
            f"{url}: got {size:,} bytes, expected {want:,}; run the command again to resume or restart"
        )
    if sha256 is not None and sha256_file(part).lower() != sha256.lower():
        part.unlink()
        raise DownloadError(f"{url}: SHA-256 mismatch (expected {sha256}); the file was removed, download again")
    os.replace(part, dest)
    sidecar.unlink(missing_ok=True)
    return dest


def _write_sidecar(sidecar: Path, url: str, validator: str | None) -> None:
    """Record what a fresh ``.part`` is a download of (no validator: it cannot be resumed safely)."""
    if validator:
        sidecar.write_text(json.dumps({"url": url, "validator": validator}))
    else:
        sidecar.unlink(missing_ok=True)


def _matches(path: Path, expected_size: int | None, sha256: str | None) -> bool:
    if expected_size is not None and path.stat().st_size != expected_size:
        return False
    return sha256 is None or sha256_file(path).lower() == sha256.lower()


def _copy(resp, part: Path, offset: int, total: int | None, progress: bool, label: str) -> None:
    """Stream the response body into ``part`` (appending from ``offset``)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    mode = "ab" if offset else "wb"
    with open(part, mode) as out, Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        disable=not progress, transient=False,
    ) as bar:
        task = bar.add_task(label, total=total, completed=offset)
        while True:
            block = resp.read(_CHUNK)
            if not block:
                break
            out.write(block)
            bar.update(task, advance=len(block))


def check_archive(archive: Path) -> None:
    """Read a downloaded tar archive to its end, or delete it and raise a one-line DownloadError.

    Catches what a size check cannot when the server sends no length: an error page saved as the
    archive, a transfer cut short (a gzip stream that ends early, a plain tar without its end).
    """
    from genomic_ulmfit.data.cohn import tar_stream
    from genomic_ulmfit.data.readers import BZIP2_MAGIC, GZIP_MAGIC, XZ_MAGIC

    with open(archive, "rb") as fh:
        head = fh.read(512)
    is_tar = len(head) == 512 and head[257:262] == b"ustar"
    if not (head.startswith((GZIP_MAGIC, BZIP2_MAGIC, XZ_MAGIC)) or is_tar):
        archive.unlink()
        raise DownloadError(f"{archive}: the server sent no tar archive (it starts with {head[:32]!r}, an error "
                            "page?); it was removed: check the URL")
    try:
        with tar_stream(archive) as tar:
            for member in tar:
                if member.isfile():
                    tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, InputError) as exc:
        archive.unlink()
        raise DownloadError(f"{archive}: the archive is truncated or corrupt ({exc}); it was removed: run the "
                            "command again to download it afresh") from None


def download_cohn(
    out_dir: str | os.PathLike,
    url: str = COHN_URL,
    extract: bool = True,
    *,
    progress: bool = True,
    timeout: float = 60,
) -> Path:
    """Download ``Enhancers_vs_negative.tgz`` into ``out_dir`` and extract it safely.

    Parameters
    ----------
    out_dir : path-like
        Destination folder.
    url : str, default COHN_URL
    extract : bool, default True
        Extract with :func:`genomic_ulmfit.data.cohn.safe_extract` (links, absolute paths and
        ``..`` refused; only the expected members written).
    progress : bool, default True
    timeout : float, default 60

    Returns
    -------
    Path
        The folder holding the species folders, or the archive when ``extract`` is False.
    """
    out = Path(out_dir)
    had = (out / COHN_ARCHIVE).is_file()
    archive = download_file(url, out / COHN_ARCHIVE, progress=progress, timeout=timeout)
    try:
        check_archive(archive)
    except DownloadError:
        if not had:
            raise
        # a bad archive left by an earlier call (now removed): fetch it afresh, once
        archive = download_file(url, out / COHN_ARCHIVE, progress=progress, timeout=timeout)
        check_archive(archive)
    if not extract:
        return archive
    from genomic_ulmfit.data.cohn import safe_extract

    try:
        return safe_extract(archive, out)
    except InputError as exc:  # a bad archive stays and would be reused by the next call: say so
        raise InputError(f"{exc} (delete {archive} first: an archive already in --out is not fetched again)") from exc
