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


class DaemonError(TexpasteError):
    """The model daemon could not be started, reached, or answered out of protocol."""

    code = "daemon"


class DaemonStopping(DaemonError):
    """The daemon stopped before finishing this request; nothing ran to completion, so a client
    asks a fresh daemon once more."""

    code = "daemon-stopping"


class Busy(TexpasteError):
    """Too many requests are waiting (on one connection or in the whole daemon); try again shortly."""

    code = "busy"


class RequestError(TexpasteError):
    """A request's arguments are missing or malformed (an editor or client bug, not the user's)."""

    code = "invalid-params"


class Cancelled(TexpasteError):
    """The client cancelled the job; nothing was changed."""

    code = "cancelled"


_BY_CODE: dict[str, type[TexpasteError]] = {}


def by_code(code: str) -> type[TexpasteError]:
    """The error class for a wire ``kind`` (unknown kinds map to the base class)."""
    if not _BY_CODE:
        stack: list[type[TexpasteError]] = [TexpasteError]
        while stack:
            cls = stack.pop()
            _BY_CODE.setdefault(cls.code, cls)
            stack.extend(cls.__subclasses__())
    return _BY_CODE.get(code, TexpasteError)


def to_wire(exc: TexpasteError) -> dict[str, str]:
    """``{"kind", "message"}``: how an error crosses a process boundary."""
    return {"kind": exc.code, "message": str(exc)}


def from_wire(error: object) -> TexpasteError:
    """Rebuild the error a peer reported (tolerating malformed payloads)."""
    if not isinstance(error, dict):
        return DaemonError(f"The model daemon sent a malformed error: {error!r}.")
    kind, message = str(error.get("kind", "error")), str(error.get("message") or "Unknown error.")
    return by_code(kind)(message)


class EditConflict(TexpasteError):
    """The document changed so that the paste's place is no longer known; nothing was changed.

    ``text`` is the formula that was to be inserted, so the front end can offer it instead."""

    code = "conflict"

    def __init__(self, message: str, text: str | None = None) -> None:
        super().__init__(message)
        self.text = text
