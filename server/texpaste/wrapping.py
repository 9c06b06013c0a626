"""Wrap recognised LaTeX in the delimiters a document language expects (pure functions)."""

from __future__ import annotations

import re

MARKDOWN = {"markdown", "rmd", "rmarkdown", "quarto", "md"}
TEX = {"tex", "latex", "plaintex", "context"}
MODES = ("auto", "inline", "display", "raw")

_MULTILINE = re.compile(r"\\\\|\\begin\{")


def is_multiline(latex: str) -> bool:
    return bool(_MULTILINE.search(latex))


def wrap(latex: str, mode: str = "inline", language: str = "markdown") -> str:
    """``mode``: inline / display / raw (``auto`` here means display for multi-line LaTeX).

    Markdown family: ``$…$`` and ``$$`` blocks; TeX family: ``\\(…\\)`` and ``\\[…\\]``;
    anything else gets the Markdown/MathJax delimiters, since the CLI output is most often pasted there.
    """
    latex = latex.strip()
    if mode == "raw" or not latex:
        return latex
    if mode == "auto":
        mode = "display" if is_multiline(latex) else "inline"
    if language in TEX:
        return f"\\({latex}\\)" if mode == "inline" else f"\\[\n{latex}\n\\]"
    return f"${latex}$" if mode == "inline" else f"$$\n{latex}\n$$"
