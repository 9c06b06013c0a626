"""The small error hierarchy every layer raises; each carries one user-facing sentence.

Front ends (CLI, language server, daemon) translate these in one place; anything else that
escapes is a bug and is logged with its traceback.
"""

from __future__ import annotations


class TexpasteError(Exception):
    """Base class: ``str(error)`` is a single sentence fit to show a user."""

    code = "error"


class ImageError(TexpasteError):
    """The input could not be used as an image (not an image, truncated, too large, ...)."""

    code = "bad-image"


class NoFormulaError(ImageError):
    """The image decoded fine but holds no ink (e.g. a blank or uniform picture)."""

    code = "no-formula"


class ModelError(TexpasteError):
    """A model directory or checkpoint is missing, malformed or does not fit the architecture."""

    code = "model"


class DownloadError(ModelError):
    """Model files could not be fetched or failed verification."""

    code = "download"


class ClipboardError(TexpasteError):
    """No image could be read from the clipboard."""

    code = "clipboard"


class RenderError(TexpasteError):
    """A formula could not be rendered to an image."""

    code = "render"
