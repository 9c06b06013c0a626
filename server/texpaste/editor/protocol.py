"""texpaste's LSP vocabulary (docs/protocol.md): command and request names, and the checks on their arguments.

Every check raises :class:`~texpaste.errors.RequestError` with one sentence naming the bad argument.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from texpaste.editor.wrapping import MODES
from texpaste.errors import RequestError

INSERT = "texpaste.insertFormula"
INSERT_FROM_CLIPBOARD = "texpaste.insertFormulaFromClipboard"
INSERT_FROM_SCREENSHOT = "texpaste.insertFormulaFromScreenshot"
REPLACE_WITH_CANDIDATE = "texpaste.replaceWithCandidate"
ACCEPT_FORMULA = "texpaste.acceptFormula"
DOWNLOAD_MODEL = "texpaste.downloadModel"
DECLINE_OFFER = "texpaste.declineModelOffer"
DOUBT_MESSAGE = "texpaste is unsure of this formula: Choose another candidate"
DOUBT_CODE = "doubtful"
REPLACE_IMAGE = "texpaste.replaceImageWithLatex"
CONVERT_IMAGES = "texpaste.convertAllImages"
REPLACE_IMAGE_TITLE = "Replace image with LaTeX"
CONVERT_IMAGES_TITLE = "Convert all formula images in this document"
RECOGNIZE = "texpaste/recognize"
STATUS = "texpaste/status"
CODE_ACTION_TITLE = "Paste formula from clipboard"
# A pasted formula's other candidates; the clients' pickers ask for exactly this kind.
CANDIDATE_KIND = "refactor.rewrite.texpaste.candidate"
REQUEST_FAILED = -32803  # LSP's RequestFailed


def plain_json(value: Any) -> Any:
    """pygls hands custom params over as namedtuples; make them plain JSON-like values."""
    if hasattr(value, "_asdict"):
        return {k: plain_json(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    return value


def command_arguments(args: tuple[Any, ...], command: str) -> dict[str, Any]:
    if len(args) != 1 or not isinstance(plain_json(args[0]), dict):
        raise RequestError(
            f"{command} takes one argument object {{uri, position, ...}} (got {len(args)} arguments)."
        )
    return plain_json(args[0])


def parse_position(value: Any, name: str = "position") -> types.Position:
    if isinstance(value, dict):
        line, character = value.get("line"), value.get("character")
        if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (line, character)):
            return types.Position(line=line, character=character)
    raise RequestError(f"{name} must be {{line, character}} with whole numbers >= 0 (got {value!r}).")


def parse_range(value: Any) -> types.Range:
    if not isinstance(value, dict):
        raise RequestError(f"range must be {{start, end}} (got {value!r}).")
    start, end = (
        parse_position(value.get("start"), "range.start"),
        parse_position(value.get("end"), "range.end"),
    )
    if (end.line, end.character) < (start.line, start.character):
        raise RequestError("range.end comes before range.start.")
    return types.Range(start=start, end=end)


def optional_str(args: dict[str, Any], key: str) -> str | None:
    value = args.get(key)
    if value is not None and not isinstance(value, str):
        raise RequestError(f"{key} must be a string (got {value!r}).")
    return value or None


def parse_mode(args: dict[str, Any], default: str) -> str:
    mode = optional_str(args, "mode") or default
    if mode not in MODES:
        raise RequestError(f"mode must be one of {', '.join(MODES)} (got {mode!r}).")
    return mode


def position_json(p: types.Position) -> dict[str, int]:
    return {"line": p.line, "character": p.character}
