"""texpaste: pictures of formulas to LaTeX, locally.

``from texpaste import Recognizer`` is resolved lazily so importing the package stays cheap
(the language-server front end never loads torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.2.0"
__all__ = ["Recognizer", "Recognition", "Candidate", "__version__"]

if TYPE_CHECKING:
    from texpaste.engine.recognizer import Candidate, Recognition, Recognizer


def __getattr__(name: str):
    if name in ("Recognizer", "Recognition", "Candidate"):
        from texpaste.engine import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module 'texpaste' has no attribute {name!r}")
