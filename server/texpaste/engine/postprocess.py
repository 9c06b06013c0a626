"""pix2tex's space removal and delimiter stripping: the last step of recognition.

Pure string functions (``str`` -> ``str``); nothing here imports torch or a tokenizer.
"""

from __future__ import annotations

import re

__all__ = ["post_process", "strip_delimiters"]

# --------------------------------------------------------------------------------------------
# pix2tex's post_process (docs/compatibility.md §3.3)
# --------------------------------------------------------------------------------------------

# Step 1: "\name", optional one whitespace, optional "*", a literal space, then "{" up to the
# first "}" (lazy, "." does not cross newlines). Note the literal space: "\mathrm{ab}" written
# without a space before the brace is not a match (pix2tex's behaviour, kept on purpose).
_TEXT_GROUP = re.compile(r"\\(?:operatorname|mathrm|text|mathbf)\s?\*? \{.*?\}")

_NOLETTER = r"[\W_^\d]"
_LETTER = r"[a-zA-Z]"
# Step 2, applied in this order on every round; a match may not begin with a control space "\ ".
_SPACE_RULES = (
    re.compile(rf"(?!\\ )({_NOLETTER})\s+?({_NOLETTER})"),
    re.compile(rf"(?!\\ )({_NOLETTER})\s+?({_LETTER})"),
    re.compile(rf"({_LETTER})\s+?({_NOLETTER})"),
)


def post_process(s: str) -> str:
    """pix2tex's ``post_process``: remove the spaces that do not change the LaTeX.

    1. In every ``\\operatorname|mathrm|text|mathbf`` group of the form ``\\name {...}`` (see
       ``_TEXT_GROUP``), delete all space characters: ``\\operatorname { s i n }`` ->
       ``\\operatorname{sin}``.
    2. Repeat until the string no longer changes: delete the whitespace between two
       "non-letters" (``[\\W_^\\d]``), then between a non-letter and a letter, then between a
       letter and a non-letter; the first two rules skip a match that starts with ``\\ ``.
       Whitespace between two ASCII letters is kept (``\\alpha x``).

    ``\\frac { 1 } { 2 } \\alpha _ { i }`` -> ``\\frac{1}{2}\\alpha_{i}``.
    """
    s = _TEXT_GROUP.sub(lambda m: m.group(0).replace(" ", ""), s)
    while True:
        new = s
        for rule in _SPACE_RULES:
            new = rule.sub(r"\1\2", new)
        if new == s:
            return s
        s = new


# --------------------------------------------------------------------------------------------
# Delimiters
# --------------------------------------------------------------------------------------------

_ENVS = ("equation", "equation*", "displaymath", "math")
_BEGIN = re.compile(r"\\begin\s*\{\s*([a-z]+\*?)\s*\}")
_END = re.compile(r"\\end\s*\{\s*([a-z]+\*?)\s*\}$")


def _find_closer(s: str, start: int, closer: str) -> int:
    """Index of the first ``closer`` (``"$"``, ``"\\)"`` or ``"\\]"``) at or after ``start`` that is
    not part of a control sequence (``\\$`` is not a ``$``; ``\\\\]`` is ``\\\\`` then ``]``); -1 if none."""
    i, n = start, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            if s.startswith(closer, i):
                return i
            i += 2  # a control symbol, or the first letter of a control word (letters can't close)
            continue
        if c == closer:
            return i
        i += 1
    return -1


def _strip_once(t: str) -> str | None:
    n = len(t)
    if n >= 4 and t.startswith("$$") and t.endswith("$$") and _find_closer(t, 2, "$") == n - 2:
        return t[2:-2]
    if n >= 2 and t.startswith("$") and _find_closer(t, 1, "$") == n - 1:
        return t[1:-1]
    for opener, closer in (("\\(", "\\)"), ("\\[", "\\]")):
        if n >= 4 and t.startswith(opener) and _find_closer(t, 2, closer) == n - 2:
            return t[2:-2]
    begin = _BEGIN.match(t)
    if begin and begin.group(1) in _ENVS:
        end = _END.search(t)
        if end and end.group(1) == begin.group(1):
            inner = t[begin.end() : end.start()]
            name = re.escape(begin.group(1))
            # A second \begin or \end of the same environment inside: the pair does not enclose it all.
            if not re.search(rf"\\(?:begin|end)\s*\{{\s*{name}\s*\}}", inner):
                return inner
    return None


def strip_delimiters(s: str) -> str:
    """Remove math delimiters that enclose the *whole* formula, repeatedly.

    Recognised: ``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]`` and the environments
    ``equation``, ``equation*``, ``displaymath`` and ``math``. A delimiter only counts when its
    first closer is the end of the string, so ``$a$ + $b$`` and ``\\(a\\) \\(b\\)`` are left alone,
    and escaped dollars (``\\$``) never close. Surrounding whitespace is removed (also when
    nothing else is).
    """
    t = s.strip()
    while True:
        inner = _strip_once(t)
        if inner is None:
            return t
        t = inner.strip()
