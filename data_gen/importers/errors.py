"""The importers' one exception type (kept apart so every helper module can raise it without import cycles)."""

from __future__ import annotations


class ImporterError(ValueError):
    """Outside data could not be imported; the message names the file, the line or record and the field."""


def fail(where: str, field: str, message: str) -> ImporterError:
    return ImporterError(f"{where}: field {field}: {message}")
