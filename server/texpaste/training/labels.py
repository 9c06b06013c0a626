"""Training labels and scoring forms: an im2markup-style lexer and a canonical form for exact match.


Nothing here imports torch or a tokenizer; every function maps ``str`` to ``str`` (or a token list).

Conventions of the lexer (:func:`tokenize_latex`), chosen to match the space-separated,
KaTeX-normalised labels of im2latex-100k / pix2tex (``\\frac { 1 } { 2 } \\alpha _ { i }``):

- a control word (``\\`` followed by ASCII letters) is one token: ``\\frac``, ``\\alpha``;
- a control symbol (``\\`` followed by one non-letter) is one token: ``\\{``, ``\\,``, ``\\\\``, ``\\%``;
  a backslash followed by any whitespace character is the control space, emitted as ``"\\ "``;
- ``\\begin{name}`` and ``\\end{name}`` are one token each (whitespace around/inside the name
  removed): ``\\begin {matrix}`` -> ``\\begin{matrix}``; the arguments that follow are lexed normally
  (``\\begin{array}{cc}`` -> ``\\begin{array} { c c }``);
- every other character is its own token, so the letters inside ``\\mathrm{...}``, ``\\text{...}`` or
  ``\\operatorname{...}`` come out one per token (``\\mathrm { h o p f }``), and
  ``\\left(`` becomes ``\\left (``;
- whitespace is dropped everywhere (it only separates tokens), including inside text-mode groups:
  word spaces in ``\\text{a b}`` are lost unless written as ``\\ `` or ``~``. This is what makes
  :func:`normalize_latex` idempotent on its own output;
- ``%`` starts a comment up to the end of the line (``\\%`` is the control symbol);
- no rewriting: ``\\over``, ``\\rm``, ``\\le`` etc. are kept as written (im2markup's KaTeX
  normaliser rewrites some of them; this lexer does not).
"""

from __future__ import annotations

from texpaste.engine.postprocess import strip_delimiters

__all__ = ["tokenize_latex", "normalize_latex", "training_label", "normalize_for_match"]

# --------------------------------------------------------------------------------------------
# Lexer
# --------------------------------------------------------------------------------------------


def _is_letter(c: str) -> bool:
    return ("a" <= c <= "z") or ("A" <= c <= "Z")


def tokenize_latex(s: str) -> list[str]:
    """Split LaTeX into im2markup-style tokens (see the module docstring for the rules).

    >>> tokenize_latex(r"\\frac{1}{2}\\left(x\\right)")
    ['\\\\frac', '{', '1', '}', '{', '2', '}', '\\\\left', '(', 'x', '\\\\right', ')']
    """
    tokens: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            if i + 1 == n:
                tokens.append("\\")
                break
            d = s[i + 1]
            if _is_letter(d):
                j = i + 2
                while j < n and _is_letter(s[j]):
                    j += 1
                word = s[i:j]
                if word in ("\\begin", "\\end"):
                    k = j
                    while k < n and s[k].isspace():
                        k += 1
                    if k < n and s[k] == "{":
                        close = s.find("}", k + 1)
                        if close != -1:
                            name = "".join(s[k + 1 : close].split())
                            if name and "{" not in name:
                                tokens.append(f"{word}{{{name}}}")
                                i = close + 1
                                continue
                tokens.append(word)
                i = j
            elif d.isspace():
                tokens.append("\\ ")
                i += 2
            else:
                tokens.append("\\" + d)
                i += 2
        elif c == "%":
            nl = s.find("\n", i)
            i = n if nl == -1 else nl
        elif c.isspace():
            i += 1
        else:
            tokens.append(c)
            i += 1
    return tokens


def normalize_latex(s: str) -> str:
    """The tokens of :func:`tokenize_latex` joined by single spaces (idempotent).

    ``\\frac{1}{2}\\alpha_i`` -> ``\\frac { 1 } { 2 } \\alpha _ i``. A control space is the token
    ``"\\ "``, so it shows as a backslash followed by two spaces in the joined string.
    """
    return " ".join(tokenize_latex(s))


# Commands whose meaning needs what follows them (arguments, or the rest of the group for a
# declaration): ``x^\hat a`` and ``x^\rm T`` cannot become ``x^{\hat} a`` / ``x^{\rm} T``.
_TAKES_WHAT_FOLLOWS = frozenset(
    "\\" + name
    for name in (
        "frac dfrac tfrac cfrac binom dbinom tbinom sqrt root stackrel overset underset atop over choose "
        "hat widehat bar overline underline tilde widetilde vec dot ddot dddot check breve acute grave "
        "mathring overrightarrow overleftarrow overleftrightarrow overbrace underbrace "
        "mathrm mathbf mathit mathsf mathtt mathcal mathbb mathfrak mathscr mathnormal boldsymbol bm pmb "
        "text textrm textbf textit textsf texttt textnormal mbox hbox operatorname "
        "rm bf it sf tt cal mit bold em scriptstyle scriptscriptstyle displaystyle textstyle "
        "left right big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr color"
    ).split()
)


def _brace_scripts(tokens: list[str]) -> list[str]:
    """``_ x`` -> ``_ { x }`` where the script is one self-contained token (a character, a symbol)."""
    out: list[str] = []
    for t in tokens:
        if (
            out
            and out[-1] in ("^", "_")
            and t not in ("{", "}", "^", "_", "&", "\\\\")
            and t not in _TAKES_WHAT_FOLLOWS
            and not t.startswith(("\\begin{", "\\end{"))
        ):
            out += ["{", t, "}"]
        else:
            out.append(t)
    return out


def training_label(s: str) -> str:
    """The label a model is trained on: :func:`normalize_latex` with every one-token sub/superscript
    braced (``x^2`` -> ``x ^ { 2 }``), the KaTeX-normalised convention of im2latex-100k and pix2tex's
    labels. One convention for what sources write either way teaches the model one output style and
    keeps its text comparable with pix2tex's (its BLEU is over BPE pieces, where ``^2`` and ``^{2}``
    differ). Renders the same; idempotent."""
    return " ".join(_brace_scripts(tokenize_latex(s)))


# --------------------------------------------------------------------------------------------
# Canonical form for exact match
# --------------------------------------------------------------------------------------------

# Tokens that only change spacing or the math style, dropped before comparing.
_DROP_FOR_MATCH = frozenset(
    {"\\displaystyle", "\\textstyle", "\\,", "\\;", "\\:", "\\!", "\\>", "\\ ", "~", "\\quad", "\\qquad"}
)


def _collapse_braces(tokens: list[str]) -> list[str]:
    """Replace ``{ t }`` by ``t`` where that cannot change the rendering (repeated for nesting)."""
    changed = True
    while changed:
        changed = False
        out: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            if tokens[i] == "{" and i + 2 < n and tokens[i + 2] == "}" and tokens[i + 1] not in ("{", "}"):
                inner = tokens[i + 1]
                after_script = bool(out) and out[-1] in ("^", "_")
                if (len(inner) == 1 and inner.isascii() and inner.isalnum()) or after_script:
                    out.append(inner)
                    i += 3
                    changed = True
                    continue
            out.append(tokens[i])
            i += 1
        tokens = out
    return tokens


def normalize_for_match(s: str) -> str:
    """Canonical string for exact-match scoring; two formulas match iff their forms are equal.

    Rules, in order (deliberately conservative: each one leaves the rendered formula unchanged,
    up to spacing):

    1. :func:`strip_delimiters` (``$x$``, ``\\[x\\]``, ``\\begin{equation}x\\end{equation}`` -> ``x``).
    2. :func:`tokenize_latex`, which drops whitespace and ``%`` comments.
    3. Drop the style/spacing tokens ``\\displaystyle \\textstyle \\, \\; \\: \\! \\> \\  ~ \\quad
       \\qquad``.
    4. Collapse a brace group holding exactly one token, ``{ t }`` -> ``t``, when ``t`` is a single
       ASCII letter or digit (``\\frac{1}{2}`` = ``\\frac12``, ``\\mathrm{d}`` = ``\\mathrm d``), or
       when the group is a sub/superscript (``x^{\\prime}`` = ``x^\\prime``, ``x_{\\alpha}`` =
       ``x_\\alpha``). Repeated, so ``{{x}}`` -> ``x``. Groups around other single tokens are kept
       (``{\\bf}`` scopes a declaration, ``{,}`` and ``{-}`` change spacing).

    Not normalised: ``\\left``/``\\right`` (kept), synonyms (``\\le`` vs ``\\leq``, ``\\over`` vs
    ``\\frac``, ``\\rm`` vs ``\\mathrm``), multi-token braces (``x^{10}`` differs from ``x^10``, as
    it should), and word spaces inside ``\\text{}`` (lost, see the module docstring).
    """
    tokens = [t for t in tokenize_latex(strip_delimiters(s)) if t not in _DROP_FOR_MATCH]
    return " ".join(_collapse_braces(tokens))
