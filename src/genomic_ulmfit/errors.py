"""User-facing errors.

Every problem caused by the user's input or configuration is raised as a subclass of
:class:`GenomicUlmfitError` whose message is a single line naming the file, the record or line,
what is wrong and how to fix it. The CLI prints that line and exits non-zero, without a traceback.
"""

from __future__ import annotations


class GenomicUlmfitError(Exception):
    """Base class of errors that the CLI reports as one line (exit code 2)."""

    def __init__(self, message: str):
        # Keep the message on one line whatever the caller passed.
        super().__init__(" ".join(str(message).split()))


class InputError(GenomicUlmfitError):
    """Bad input data: a file, a record, a sequence or a label."""


class ConfigError(GenomicUlmfitError):
    """Bad configuration: an unknown preset or key, a value of the wrong type or range."""
