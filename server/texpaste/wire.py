"""The daemon's wire format: one UTF-8 JSON object per line (docs/protocol.md, "texpaste daemon").

Kept deliberately small: requests ``{"id", "method", "params"}``, responses ``{"id", "result"}`` or
``{"id", "error": {"kind", "message"}}``, notifications ``{"method", "params"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import stat
from pathlib import Path
from typing import Any

from .errors import ImageError, RequestError
from .limits import MAX_IMAGE_BYTES

# A line may carry a base64 screenshot: 4/3 of the largest accepted image plus headroom.
MAX_LINE = MAX_IMAGE_BYTES * 4 // 3 + 1024 * 1024


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


MAX_ID_LENGTH = 256  # characters of a string id


def decode(line: bytes) -> dict[str, Any]:
    """One frame as a message whose ``id`` (if any) is a number or a short string and whose
    ``method`` and ``params`` have their types: anything else is a ``RequestError``, so a handler
    never meets an unhashable id or list params."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"Malformed message: {exc.msg if isinstance(exc, json.JSONDecodeError) else exc}.") from exc
    except (ValueError, RecursionError) as exc:  # a number of over 4,300 digits; nesting deeper than the stack
        raise RequestError("Malformed message: too deeply nested or too long a number.") from exc
    if not isinstance(message, dict):
        raise RequestError("Malformed message: expected a JSON object.")
    msg_id = message.get("id")
    if msg_id is not None and not (
        (isinstance(msg_id, int) and not isinstance(msg_id, bool) and abs(msg_id) < 2**63)
        or (isinstance(msg_id, str) and len(msg_id) <= MAX_ID_LENGTH and msg_id.isascii())
    ):
        raise RequestError("Malformed message: id must be an integer or a short ASCII string.")
    if not isinstance(message.get("method", ""), str):
        raise RequestError("Malformed message: method must be a string.")
    if message.get("params") is not None and not isinstance(message["params"], dict):
        raise RequestError("Malformed message: params must be an object.")
    return message


def image_source(params: dict[str, Any]) -> dict[str, Any]:
    """``{"imageBase64": …}`` or ``{"imagePath": …}``: the one image a request names (not yet decoded)."""
    b64, path = params.get("imageBase64"), params.get("imagePath")
    if (b64 is None) == (path is None):
        raise RequestError("Give exactly one of imageBase64 and imagePath.")
    return {"imageBase64": b64} if b64 is not None else {"imagePath": path}


def image_from_params(params: dict[str, Any]) -> bytes | Path:
    """The image a request names: ``imageBase64`` (bytes) or ``imagePath`` (an existing file)."""
    source = image_source(params)
    b64, path = source.get("imageBase64"), source.get("imagePath")
    if path is not None:
        if not isinstance(path, str) or not path:
            raise RequestError("imagePath must be a non-empty string.")
        if "\0" in path or len(path) > 4096:
            raise RequestError("imagePath is not a valid path.")
        try:
            p = Path(path).expanduser()
            info = p.stat()
        except RuntimeError as exc:  # ~nosuchuser/...
            raise ImageError(f"imagePath {path} names an unknown home directory.") from exc
        except OSError as exc:
            raise ImageError(f"No such image file: {path}.") from exc
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"imagePath {path} is not a regular file.")
        if info.st_size > MAX_IMAGE_BYTES:
            raise ImageError(f"The image file is larger than {MAX_IMAGE_BYTES // 2**20} MB.")
        return p
    if not isinstance(b64, str):
        raise RequestError("imageBase64 must be a string.")
    if len(b64) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise ImageError(f"The image is larger than {MAX_IMAGE_BYTES // 2**20} MB.")
    if b64.startswith("data:") and "," in b64:  # tolerate data: URLs from web clients
        b64 = b64.split(",", 1)[1]
    try:
        data = base64.b64decode(b64, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ImageError("The image data is not valid base64.") from exc
    if not data:
        raise ImageError("The image is empty.")
    return data
