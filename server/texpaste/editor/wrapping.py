"""Wrap recognised LaTeX in the math delimiters a document language expects.

Every function here is pure (strings in, strings out) so that the LSP server and the CLI share one
tested implementation and every editor gets the same text (README, "Wrapping"). The pipeline of
:func:`wrap_for_insert`:

1. strip the delimiters the model may have emitted (:func:`texpaste.engine.postprocess.strip_delimiters`);
2. map the editor's ``languageId`` to a family (:func:`language_family`): ``markdown``, ``tex`` or
   ``other``;
3. insert bare LaTeX when the cursor is already inside math (:func:`inside_math`) or the mode is ``raw``;
4. choose inline or display (:func:`choose_mode`) and wrap with the family's configured style
   (:class:`WrapOptions`), applying the pandoc / markdown-it ``$`` rules and putting display blocks on
   their own lines.

:func:`wrap` is the context-free variant used by the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

from texpaste.engine.postprocess import strip_delimiters

__all__ = [
    "MODES",
    "MARKDOWN",
    "TEX",
    "DelimiterStyle",
    "WrapOptions",
    "language_family",
    "is_multiline",
    "choose_mode",
    "inside_math",
    "wrap_for_insert",
    "wrap",
]

Family = Literal["markdown", "tex", "other"]
Mode = Literal["auto", "inline", "display", "raw"]
ChosenMode = Literal["inline", "display", "raw"]
OtherStyle = Literal["raw", "markdown"]

MODES: tuple[str, ...] = ("auto", "inline", "display", "raw")

# languageId aliases (compared lower-cased); img-clip.nvim's aliases plus common editor ids.
MARKDOWN = frozenset({"markdown", "md", "mdx", "rmd", "rmarkdown", "quarto", "qmd", "pandoc"})
TEX = frozenset({"tex", "latex", "plaintex", "context", "latex-expl3"})

# Allowed styles per family: (inline styles, display styles); the first of each is the default.
_STYLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "markdown": (("dollar", "paren"), ("dollars", "math-fence", "brackets")),
    "tex": (("paren", "dollar"), ("brackets", "equation", "equation*", "dollars")),
}
_OTHER_STYLES: tuple[str, ...] = ("raw", "markdown")

_INLINE_DELIMS = {"dollar": ("$", "$"), "paren": ("\\(", "\\)")}
_DISPLAY_DELIMS = {
    "dollars": ("$$", "$$"),
    "brackets": ("\\[", "\\]"),
    "equation": ("\\begin{equation}", "\\end{equation}"),
    "equation*": ("\\begin{equation*}", "\\end{equation*}"),
}

# Spellings accepted from JSON settings, after lower-casing and mapping "_" to "-".
_VALUE_ALIASES = {
    "mathfence": "math-fence",
    "equationstar": "equation*",
    "equation-star": "equation*",
}


@dataclass(frozen=True)
class DelimiterStyle:
    """The inline and display style of one language family (validated by :class:`WrapOptions`,
    since the allowed names differ between families)."""

    inline: str
    display: str


def _default_markdown() -> DelimiterStyle:
    return DelimiterStyle("dollar", "dollars")


def _default_tex() -> DelimiterStyle:
    return DelimiterStyle("paren", "brackets")


@dataclass(frozen=True)
class WrapOptions:
    """Delimiter styles per family; immutable, so one instance can be shared by all requests.

    - ``markdown.inline``: ``dollar`` (``$…$``) | ``paren`` (``\\(…\\)``);
      ``markdown.display``: ``dollars`` (``$$`` lines) | ``math-fence`` (a ````` ```math ````` fence) |
      ``brackets`` (``\\[ … \\]``).
    - ``tex.inline``: ``paren`` | ``dollar``; ``tex.display``: ``brackets`` | ``equation`` |
      ``equation*`` | ``dollars``.
    - ``other``: ``raw`` (bare LaTeX for any other language; the server default) | ``markdown``
      (use the Markdown styles; the CLI default).
    """

    markdown: DelimiterStyle = field(default_factory=_default_markdown)
    tex: DelimiterStyle = field(default_factory=_default_tex)
    other: OtherStyle = "raw"

    def __post_init__(self) -> None:
        for family in ("markdown", "tex"):
            style = getattr(self, family)
            if not isinstance(style, DelimiterStyle):
                raise ValueError(f"wrapping option '{family}' must be a DelimiterStyle (got {style!r}).")
            inline_ok, display_ok = _STYLES[family]
            _check(f"{family}.inline", style.inline, inline_ok)
            _check(f"{family}.display", style.display, display_ok)
        _check("other", self.other, _OTHER_STYLES)

    @classmethod
    def from_dict(cls, d: Mapping[str, object] | None) -> WrapOptions:
        """Options from LSP ``initializationOptions`` / workspace configuration (JSON).

        Accepts the nested form ``{"markdown": {"inline": "dollar", "display": "dollars"},
        "tex": {...}, "other": "raw"}`` and the flat camelCase keys ``markdownInline``,
        ``markdownDisplay``, ``texInline``, ``texDisplay``. Keys are matched ignoring case, ``_`` and
        ``-``; values ignoring case, with ``mathFence`` / ``math_fence`` for ``math-fence`` and
        ``equationStar`` for ``equation*``. Missing or ``null`` entries keep the defaults. Unknown
        keys, wrong types and unknown values raise :class:`ValueError` with a one-sentence message,
        so a typo in the settings is reported instead of silently ignored.
        """
        if d is None:
            return cls()
        if not isinstance(d, Mapping):
            raise ValueError(f"wrapping options must be an object (got {type(d).__name__}).")
        given: dict[str, object] = {}

        def put(path: str, value: object) -> None:
            if value is None:
                return
            if path in given:
                raise ValueError(f"wrapping option '{path}' is given twice.")
            given[path] = value

        flat = {
            "markdowninline": "markdown.inline",
            "markdowndisplay": "markdown.display",
            "texinline": "tex.inline",
            "texdisplay": "tex.display",
            "other": "other",
        }
        for key, value in d.items():
            k = _norm_key(key)
            if k in ("markdown", "tex"):
                if value is None:
                    continue
                if not isinstance(value, Mapping):
                    raise ValueError(
                        f"wrapping option '{k}' must be an object with 'inline' and/or 'display' "
                        f"(got {value!r})."
                    )
                for sub, subvalue in value.items():
                    s = _norm_key(sub)
                    if s not in ("inline", "display"):
                        raise ValueError(
                            f"unknown wrapping option '{k}.{sub}' (expected 'inline' or 'display')."
                        )
                    put(f"{k}.{s}", subvalue)
            elif k in flat:
                put(flat[k], value)
            else:
                raise ValueError(
                    f"unknown wrapping option {key!r} (expected 'markdown', 'tex', 'other' or "
                    "'markdownInline', 'markdownDisplay', 'texInline', 'texDisplay')."
                )
        values: dict[str, str] = {}
        for path, value in given.items():
            if not isinstance(value, str):
                raise ValueError(f"wrapping option '{path}' must be a string (got {value!r}).")
            values[path] = _norm_value(value)
        defaults = cls()
        return cls(
            markdown=DelimiterStyle(
                values.get("markdown.inline", defaults.markdown.inline),
                values.get("markdown.display", defaults.markdown.display),
            ),
            tex=DelimiterStyle(
                values.get("tex.inline", defaults.tex.inline),
                values.get("tex.display", defaults.tex.display),
            ),
            other=cast(OtherStyle, values.get("other", defaults.other)),
        )

    def to_dict(self) -> dict[str, object]:
        """The nested JSON form accepted by :meth:`from_dict` (for logging / echoing settings)."""
        return {
            "markdown": {"inline": self.markdown.inline, "display": self.markdown.display},
            "tex": {"inline": self.tex.inline, "display": self.tex.display},
            "other": self.other,
        }


def _check(path: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"wrapping option '{path}' must be one of {names} (got {value!r}).")


def _norm_key(key: object) -> str:
    return str(key).lower().replace("_", "").replace("-", "")


def _norm_value(value: str) -> str:
    v = value.strip().lower().replace("_", "-")
    return _VALUE_ALIASES.get(v, v)


# --------------------------------------------------------------------------------------------
# Family and mode
# --------------------------------------------------------------------------------------------


def language_family(language_id: str | None) -> Family:
    """``markdown`` / ``tex`` / ``other`` for an LSP ``languageId`` (case-insensitive aliases), so
    that ``rmd``, ``quarto`` etc. share the Markdown rules and ``plaintex`` etc. the TeX rules."""
    lang = (language_id or "").strip().lower()
    if lang in MARKDOWN:
        return "markdown"
    if lang in TEX:
        return "tex"
    return "other"


_MULTILINE = re.compile(r"\\\\|\\begin\s*\{")


def is_multiline(latex: str) -> bool:
    """True when the LaTeX has a line break (``\\\\``) or an environment, which read badly inline."""
    return bool(_MULTILINE.search(latex))


def choose_mode(mode: str, latex: str, line_text: str | None) -> ChosenMode:
    """Resolve ``auto``: display when the cursor line is blank (whitespace only) or the LaTeX is
    multi-line, else inline. ``line_text=None`` means "no editor context" (the CLI): then only the
    LaTeX decides. Raises :class:`ValueError` for a mode outside :data:`MODES`."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)} (got {mode!r}).")
    if mode != "auto":
        return cast(ChosenMode, mode)
    if line_text is not None and not line_text.strip():
        return "display"
    return "display" if is_multiline(latex) else "inline"


# --------------------------------------------------------------------------------------------
# Inside-math detection
# --------------------------------------------------------------------------------------------

_MATH_ENVS = frozenset(
    {
        "equation",
        "equation*",
        "align",
        "align*",
        "alignat",
        "alignat*",
        "flalign",
        "flalign*",
        "gather",
        "gather*",
        "multline",
        "multline*",
        "eqnarray",
        "eqnarray*",
        "displaymath",
        "math",
    }
)
_MATH_FENCE_INFO = frozenset({"math", "latex", "tex", "katex"})
_FENCE_OPEN = re.compile(r"[ \t]{0,3}(`{3,}|~{3,})[ \t]*([^\s`{]*)")
_BEGIN_END = re.compile(r"\\(begin|end)[ \t]*\{[ \t]*([A-Za-z]+\*?)[ \t]*\}")
_INTERESTING_MD = re.compile(r"[\\$`\n]")
_INTERESTING_TEX = re.compile(r"[\\$%\n]")

# Scanner states: None (text), "$", "$$", "\\(", "\\[", "env:<name>", and, in Markdown,
# "fence" (a math code fence) or "code" (any other code fence).


def _line_end(s: str, i: int) -> int:
    j = s.find("\n", i)
    return len(s) if j == -1 else j


def _is_closing_fence(line: str, fence: str) -> bool:
    t = line.strip(" \t")
    return len(line) - len(line.lstrip(" ")) <= 3 and len(t) >= len(fence) and t == fence[0] * len(t)


def _scan(full: str, stop: int, md: bool) -> tuple[str | None, int]:
    """The math construct open at index ``stop`` of ``full`` and its opener's index.

    ``full`` may extend past ``stop`` (the rest of the cursor line), which is used only as lookahead:
    the character after a ``$``, a code span's closing backticks, a ``\\begin{…}`` name.
    """
    interesting = _INTERESTING_MD if md else _INTERESTING_TEX
    state: str | None = None
    opener = -1
    fence = ""
    i = 0
    line_start = True
    while i < stop:
        if line_start:
            line_start = False
            end = _line_end(full, i)
            line = full[i:end]
            if not line.strip() and state in ("$", "\\("):
                state = None  # a paragraph break ends inline math
            if md and state in ("fence", "code"):
                if _is_closing_fence(line, fence):
                    state = None
                i = end
                continue
            if md and state is None and end < stop:
                m = _FENCE_OPEN.match(line)
                if m and (m.group(1)[0] == "~" or "`" not in line[m.end(1) :]):
                    fence = m.group(1)
                    state = "fence" if m.group(2).lower() in _MATH_FENCE_INFO else "code"
                    opener = i
                    i = end
                    continue
        m = interesting.search(full, i, stop)
        if m is None:
            break
        i = m.start()
        c = full[i]
        if c == "\n":
            if md and state == "$":
                state = None  # Markdown inline math is taken to end with its line
            i += 1
            line_start = True
        elif c == "%":  # TeX comment
            i = _line_end(full, i)
        elif c == "`":  # Markdown code span: skip to the matching run of backticks on this line
            j = i
            while j < len(full) and full[j] == "`":
                j += 1
            if state is not None:
                i = j
                continue
            run = full[i:j]
            close = re.compile(rf"(?<!`){run}(?!`)").search(full, j, _line_end(full, j))
            i = close.end() if close else j
        elif c == "\\":
            be = _BEGIN_END.match(full, i)
            if be:
                kind, name = be.groups()
                if kind == "begin" and state is None and name in _MATH_ENVS:
                    state, opener = f"env:{name}", i
                elif kind == "end" and state == f"env:{name}":
                    state = None
                i = be.end()
                continue
            d = full[i + 1 : i + 2]
            if d == "\n" or d == "":
                i += 1
                continue
            if state is None and d in ("(", "["):
                state, opener = "\\" + d, i
            elif (state, d) in (("\\(", ")"), ("\\[", "]")):
                state = None
            i += 2  # also skips escaped \$, \%, \` and the \\ line break
        else:  # "$"
            if state is not None and state not in ("$", "$$"):
                i += 1
                continue
            double = full.startswith("$$", i)
            prev = full[i - 1] if i else ""
            nxt = full[i + 1 : i + 2]
            if state == "$$":
                if double:
                    state = None
                i += 2 if double else 1
            elif state == "$":
                # pandoc: a closing $ has a non-space on its left and no digit on its right.
                if not md or (prev and not prev.isspace() and not nxt.isdigit()):
                    state = None
                i += 1
            elif double:
                state, opener = "$$", i
                i += 2
            else:
                # pandoc: an opening $ has a non-space on its right; one typed just before the
                # cursor counts too (the user is about to type the formula).
                if not md or (nxt and not nxt.isspace()) or i + 1 == stop:
                    state, opener = "$", i
                i += 1
    return state, opener


def inside_math(text_before: str, text_after: str, family: str) -> bool:
    """Whether the cursor (between ``text_before`` and ``text_after``) is already inside math, in
    which case the caller should insert bare LaTeX.

    ``text_before`` is the document text before the cursor (the whole document, a window of it, or
    at least the cursor line's prefix); ``text_after`` the text after it (only its first line is
    used). Recognised: ``$…$`` and ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``, the display environments
    ``equation``, ``align``, ``gather``, ``multline``, ``flalign``, ``alignat``, ``eqnarray`` (and
    their ``*`` forms), ``displaymath`` and ``math``; in Markdown also a ````` ```math ````` (or
    ``latex`` / ``tex`` / ``katex``) code fence. Escaped ``\\$`` never counts.

    Heuristics and limits:

    - Markdown (and ``other``): inline ``$`` follows pandoc's pairing rules and only spans its own
      line; an open ``$`` counts when it is right before the cursor (just typed) or a ``$`` follows
      later on the line (so a stray ``$5`` before the cursor is prose, not math). ``$`` inside other
      code fences and code spans is ignored; indented code blocks and HTML are not recognised.
    - TeX: inline ``$`` spans lines up to a blank line; ``%`` comments are skipped; verbatim
      environments, ``\\text{…}`` inside math and macros that hide delimiters are not understood.
    - ``$$`` blocks and environments stay open until closed, so an unmatched opener above the
      cursor makes everything after it count as math.
    """
    md = family != "tex"
    before = text_before.replace("\r\n", "\n").replace("\r", "\n")
    after_line = text_after.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0]
    stop = len(before)
    state, opener = _scan(before + after_line, stop, md)
    if state is None or state == "code":
        return False
    if state == "$" and md:
        return opener == stop - 1 or _has_unescaped_dollar(after_line)
    return True


def _has_unescaped_dollar(s: str) -> bool:
    return bool(re.search(r"(?<!\\)(?:\\\\)*\$", s))


# --------------------------------------------------------------------------------------------
# Wrapping
# --------------------------------------------------------------------------------------------


def _odd_backslashes_at_end(s: str) -> bool:
    return (len(s) - len(s.rstrip("\\"))) % 2 == 1


def _inline(body: str, style: str, family: str, before_line: str, after_line: str) -> str:
    """``body`` in inline delimiters, with the guards that keep the delimiters meaning what they
    should next to the surrounding characters."""
    if "\n" in body and "%" not in body:
        body = re.sub(r"\s*\n\s*", " ", body)  # inline math must not span a paragraph break
    left, right = _INLINE_DELIMS[style]
    pre = post = ""
    if _odd_backslashes_at_end(before_line):
        pre = " "  # "\" + "$" would be an escaped dollar, "\" + "\(" a line break
    if style == "dollar":
        if before_line.endswith("$") and not _odd_backslashes_at_end(before_line[:-1]):
            pre = " "  # "$a$" + "$x$" would read "$$" (display math) in pandoc and TeX
        if after_line.startswith("$"):
            post = " "
        elif family != "tex" and after_line[:1].isdigit():
            post = " "  # pandoc / markdown-it: a closing $ followed by a digit does not close
    return f"{pre}{left}{body}{right}{post}"


_TOP_LEVEL_TOKENS = re.compile(r"\\begin\s*\{|\\end\s*\{|\\\\|\\.|[{}]", re.S)


def _top_level_linebreak(body: str) -> bool:
    """``\\\\`` outside every environment and brace group: LaTeX display math does not accept it."""
    envs = braces = 0
    for m in _TOP_LEVEL_TOKENS.finditer(body):
        t = m.group(0)
        if t.startswith("\\begin"):
            envs += 1
        elif t.startswith("\\end"):
            envs = max(envs - 1, 0)
        elif t == "\\\\":
            if envs == 0 and braces == 0:
                return True
        elif t == "{":
            braces += 1
        elif t == "}":
            braces = max(braces - 1, 0)
    return False


def _display(body: str, family: str, style: str, before_line: str, after_line: str) -> str:
    """``body`` in display delimiters on their own lines, adding the newlines needed to move the
    block off the cursor line's other text and indenting continuation lines like the cursor line."""
    if family == "tex" and _top_level_linebreak(body):
        env = "aligned" if re.search(r"(?<!\\)&", body) else "gathered"
        body = f"\\begin{{{env}}}\n{body}\n\\end{{{env}}}"
    if style == "math-fence":
        longest = max((len(r) for r in re.findall(r"`+", body)), default=0)
        fence = "`" * max(3, longest + 1)
        left, right = fence + "math", fence
    else:
        left, right = _DISPLAY_DELIMS[style]
    stripped = before_line.strip()
    indent = before_line if not stripped else before_line[: len(before_line) - len(before_line.lstrip())]
    lines = [left, *body.split("\n"), right]
    text = ("\n" + indent).join(lines)
    if stripped:
        text = "\n" + indent + text
    if after_line.strip():
        text += "\n" + indent
    return text


def _apply(
    body: str, family: Family, mode: ChosenMode, options: WrapOptions, before_line: str, after_line: str
) -> str:
    """Wrap ``body`` (already stripped, not inside math) for ``family`` in the chosen ``mode``."""
    if mode == "raw" or not body:
        return body
    if family == "other":
        if options.other == "raw":
            return body
        style, style_family = options.markdown, "markdown"
    else:
        style, style_family = (options.markdown if family == "markdown" else options.tex), family
    if mode == "inline":
        return _inline(body, style.inline, style_family, before_line, after_line)
    return _display(body, style_family, style.display, before_line, after_line)


def wrap_for_insert(
    latex: str,
    *,
    language_id: str,
    mode: str = "auto",
    line_text: str = "",
    character: int = 0,
    text_before: str = "",
    text_after: str = "",
    options: WrapOptions = WrapOptions(),  # noqa: B008 (frozen, so sharing the default is safe)
) -> str:
    """The text to insert at the cursor for recognised ``latex`` (the server's whole pipeline).

    ``line_text`` is the cursor line and ``character`` the cursor's column in it (code points);
    ``text_before`` / ``text_after`` the document text around the cursor for :func:`inside_math`
    (when both are empty, the cursor line split at ``character`` is used; when ``line_text`` is
    empty, the cursor line is taken from them). Steps: strip model-emitted delimiters; bare LaTeX
    for ``raw``, inside math, or another language with ``options.other == "raw"``; otherwise
    :func:`choose_mode` and the family's inline or display style, with the ``$`` guards (no inner
    padding; a space before/after when the neighbour is ``$``, after when it is a digit) and display
    blocks put on lines of their own.
    """
    body = strip_delimiters(latex)
    family = language_family(language_id)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)} (got {mode!r}).")
    if not line_text and (text_before or text_after):
        before_line = text_before.replace("\r\n", "\n").rsplit("\n", 1)[-1]
        after_line = text_after.replace("\r\n", "\n").split("\n", 1)[0]
        line_text = before_line + after_line
    else:
        col = min(max(character, 0), len(line_text))
        before_line, after_line = line_text[:col], line_text[col:]
    if not text_before and not text_after:
        text_before, text_after = before_line, after_line
    if mode == "raw" or not body or (family == "other" and options.other == "raw"):
        return body
    if inside_math(text_before, text_after, family):
        return body
    return _apply(body, family, choose_mode(mode, body, line_text), options, before_line, after_line)


def wrap(
    latex: str,
    mode: str = "inline",
    language: str = "markdown",
    *,
    other: OtherStyle = "markdown",
    options: WrapOptions | None = None,
) -> str:
    """Context-free wrapping for the CLI: ``mode`` is inline / display / raw / auto (``auto`` means
    display for multi-line LaTeX, there being no cursor line).

    Markdown family: ``$…$`` and ``$$`` blocks; TeX family: ``\\(…\\)`` and ``\\[…\\]``. Any other
    language gets the Markdown delimiters (``other="markdown"``), since CLI output is most often pasted
    into Markdown or MathJax pages; ``other="raw"`` returns bare LaTeX instead, as the server does.
    ``options`` (the server's configured styles) replaces the defaults and ``other``.
    """
    body = strip_delimiters(latex)
    chosen = choose_mode(mode, body, None)
    return _apply(body, language_family(language), chosen, options or WrapOptions(other=other), "", "")
