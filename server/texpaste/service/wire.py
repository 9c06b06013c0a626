"""The daemon's wire format: one UTF-8 JSON object per line (docs/protocol.md, "texpaste daemon").

Kept deliberately small: requests ``{"id", "method", "params"}``, responses ``{"id", "result"}`` or
``{"id", "error": {"kind", "message"}}``, notifications ``{"method", "params"}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from texpaste.errors import ImageError, RequestError
from texpaste.limits import MAX_IMAGE_BYTES

PROTOCOL = 2  # the daemon wire's version: 2 = explicit models and absolute paths, TCP proofs both ways

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
        raise RequestError(
            f"Malformed message: {exc.msg if isinstance(exc, json.JSONDecodeError) else exc}."
        ) from exc
    except (
        ValueError,
        RecursionError,
    ) as exc:  # a number of over 4,300 digits; nesting deeper than the stack
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


def proof(token: str, role: str, nonce: str) -> str:
    """What one side of a TCP connection sends to show it knows the daemon's token without sending it
    (``role`` is ``daemon`` or ``client``, so a proof cannot be reflected back)."""
    return hmac.new(token.encode(), f"texpaste {role} {nonce}".encode(), hashlib.sha256).hexdigest()


def image_source(params: dict[str, Any]) -> dict[str, Any]:
    """``{"imageBase64": …}`` or ``{"imagePath": …}``: the one image a request names (not yet decoded)."""
    b64, path = params.get("imageBase64"), params.get("imagePath")
    if (b64 is None) == (path is None):
        raise RequestError("Give exactly one of imageBase64 and imagePath.")
    return {"imageBase64": b64} if b64 is not None else {"imagePath": path}


def absolute_image_source(params: dict[str, Any], base: str | None = None) -> dict[str, Any]:
    """:func:`image_source` with ``imagePath`` made absolute here, in the requesting process
    (``~`` expanded, relative to ``base`` or this process's working directory)."""
    source = image_source(params)
    path = source.get("imagePath")
    if isinstance(path, str) and path and "\0" not in path:
        expanded = os.path.expanduser(path)
        if expanded.startswith("~"):  # ~nosuchuser/...
            raise ImageError(f"imagePath {path} names an unknown home directory.")
        source["imagePath"] = os.path.abspath(os.path.join(base or os.getcwd(), expanded))
    return source


def image_from_params(params: dict[str, Any]) -> bytes | Path:
    """The image a request names: ``imageBase64`` (decoded bytes) or ``imagePath`` (an absolute path,
    read later off the engine thread by :func:`texpaste.engine.imaging.read_image_file`).

    A relative or ``~`` path is refused: it means something else in the requester's working directory
    and environment than in this process's, so requesters send :func:`absolute_image_source`.
    """
    source = image_source(params)
    b64, path = source.get("imageBase64"), source.get("imagePath")
    if path is not None:
        if not isinstance(path, str) or not path:
            raise RequestError("imagePath must be a non-empty string.")
        if "\0" in path or len(path) > 4096:
            raise RequestError("imagePath is not a valid path.")
        if not os.path.isabs(path):
            raise RequestError(f"imagePath must be an absolute path (got {path!r}).")
        return Path(path)
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
