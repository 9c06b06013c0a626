"""The client's settings: ``initializationOptions`` and the ``texpaste`` configuration section,
read into a typed dataclass by the one converter (:func:`texpaste.typed.structure`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from texpaste.editor.wrapping import WrapOptions
from texpaste.limits import MAX_CANDIDATES
from texpaste.typed import structure

log = logging.getLogger(__name__)

# Client-side settings some clients send along with ours.
CLIENT_KEYS = ("engine", "command", "path", "trace", "pasteProvider", "idleTimeout", "serverCommand")


@dataclass
class Settings:
    """The client's settings (initializationOptions / the ``texpaste`` configuration section)."""

    model: str | None = None  # "" means the default, like None
    device: str | None = None
    mode: Literal["auto", "inline", "display", "raw"] = "auto"  # wrapping.MODES (a test ties them)
    candidates: int = 5
    wrap: WrapOptions = field(
        default_factory=WrapOptions, metadata={"key": "delimiters", "convert": WrapOptions.from_dict}
    )
    show_errors: bool = field(default=True, metadata={"key": "showErrors"})
    # converting an image link keeps the link in a comment beside the formula
    keep_image_link: bool = field(default=False, metadata={"key": "keepImageLink"})
    # overrides the detected region screenshot tool: a program and its arguments
    screenshot_command: list[str] | None = field(default=None, metadata={"key": "screenshotCommand"})

    def __post_init__(self) -> None:
        self.model, self.device = self.model or None, self.device or None
        if not 1 <= self.candidates <= MAX_CANDIDATES:
            raise ValueError(
                f"setting 'candidates' must be a whole number from 1 to {MAX_CANDIDATES} (got {self.candidates!r})."
            )
        if self.screenshot_command is not None and not (
            self.screenshot_command and all(self.screenshot_command)
        ):
            raise ValueError(
                "setting 'screenshotCommand' must be a list of strings (a program and its arguments)."
            )

    @classmethod
    def from_dict(cls, d: Any, base: Settings | None = None) -> Settings:
        """Settings from JSON, keeping ``base``'s values for missing keys; ValueError names a bad key."""
        if d is None:
            return base or cls()
        if not isinstance(d, dict):
            raise ValueError("texpaste settings must be an object.")
        settings, unknown = structure(
            cls, d, where="texpaste setting", base=base, unknown="keep", ignore=CLIENT_KEYS
        )
        for key in unknown:
            log.warning("ignoring unknown setting %r", key)
        return settings
