"""The client's settings: ``initializationOptions`` and the ``texpaste`` configuration section."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from texpaste.editor.wrapping import MODES, WrapOptions
from texpaste.limits import MAX_CANDIDATES

log = logging.getLogger(__name__)


@dataclass
class Settings:
    """The client's settings (initializationOptions / the ``texpaste`` configuration section)."""

    model: str | None = None
    device: str | None = None
    mode: str = "auto"
    candidates: int = 5
    wrap: WrapOptions = field(default_factory=WrapOptions)
    show_errors: bool = True

    @classmethod
    def from_dict(cls, d: Any, base: Settings | None = None) -> Settings:
        """Settings from JSON, keeping ``base``'s values for missing keys; ValueError names a bad key."""
        out = Settings(**vars(base)) if base else cls()
        if d is None:
            return out
        if not isinstance(d, dict):
            raise ValueError("texpaste settings must be an object.")
        for key, value in d.items():
            if value is None:
                continue
            if key in ("model", "device"):
                if not isinstance(value, str):
                    raise ValueError(f"setting '{key}' must be a string.")
                setattr(out, key, value or None)
            elif key == "mode":
                if value not in MODES:
                    raise ValueError(f"setting 'mode' must be one of {', '.join(MODES)} (got {value!r}).")
                out.mode = value
            elif key == "candidates":
                if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CANDIDATES:
                    raise ValueError(
                        f"setting 'candidates' must be a whole number from 1 to {MAX_CANDIDATES} (got {value!r})."
                    )
                out.candidates = value
            elif key == "delimiters":
                out.wrap = WrapOptions.from_dict(value)
            elif key == "showErrors":
                if not isinstance(value, bool):
                    raise ValueError("setting 'showErrors' must be true or false.")
                out.show_errors = value
            elif key in (
                "engine",
                "command",
                "path",
                "trace",
                "pasteProvider",
                "idleTimeout",
                "serverCommand",
            ):
                pass  # client-side settings some clients send along
            else:
                log.warning("ignoring unknown setting %r", key)
        return out
