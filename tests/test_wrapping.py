"""texpaste.editor.wrapping: language families, mode choice, inside-math detection, per-family styles,
the pandoc ``$`` guards, options from settings, and the CLI's context-free ``wrap``."""

from __future__ import annotations

import pytest

from texpaste.editor.wrapping import (
    DelimiterStyle,
    WrapOptions,
    choose_mode,
    inside_math,
    is_multiline,
    language_family,
    wrap,
    wrap_for_insert,
)

# ---------------------------------------------------------------- language_family


@pytest.mark.parametrize(
    ("language_id", "family"),
    [
        ("markdown", "markdown"),
        ("Markdown", "markdown"),
        ("rmd", "markdown"),
        ("RMarkdown", "markdown"),
        ("quarto", "markdown"),
        ("md", "markdown"),
        ("mdx", "markdown"),
        ("tex", "tex"),
        ("latex", "tex"),
        ("LaTeX", "tex"),
        ("plaintex", "tex"),
        ("context", "tex"),
        ("python", "other"),
        ("plaintext", "other"),
        ("", "other"),
        (None, "other"),
    ],
)
def test_language_family(language_id, family):
    assert language_family(language_id) == family


# ---------------------------------------------------------------- choose_mode

MODE_CASES = [
    # (mode, latex, line_text, expected)
    ("auto", "x", "", "display"),  # blank line
    ("auto", "x", "   \t", "display"),  # whitespace only counts as blank
    ("auto", "x", "some text", "inline"),
    ("auto", r"a \\ b", "some text", "display"),  # line break forces display
    ("auto", r"\begin{pmatrix}a\end{pmatrix}", "some text", "display"),
    ("auto", "x", None, "inline"),  # no editor context: only the LaTeX decides
    ("auto", r"a \\ b", None, "display"),
    ("inline", r"a \\ b", "", "inline"),  # explicit modes win
    ("display", "x", "some text", "display"),
    ("raw", "x", "", "raw"),
]


@pytest.mark.parametrize(("mode", "latex", "line_text", "expected"), MODE_CASES)
def test_choose_mode(mode, latex, line_text, expected):
    assert choose_mode(mode, latex, line_text) == expected


def test_choose_mode_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        choose_mode("block", "x", "")


@pytest.mark.parametrize(
    ("latex", "expected"), [("x", False), (r"a\\b", True), (r"\begin{cases}", True), (r"\\", True)]
)
def test_is_multiline(latex, expected):
    assert is_multiline(latex) is expected


# ---------------------------------------------------------------- inside_math

INSIDE_CASES = [
    # (text_before, text_after, family, expected)
    # inline $ (Markdown)
    ("a $", "$ b", "markdown", True),  # auto-paired $|$
    ("a $", "", "markdown", True),  # just typed the opener
    ("a $x + ", "$ b", "markdown", True),
    ("a $x$ and ", "", "markdown", False),  # even count
    (r"price \$", "", "markdown", False),  # escaped dollar
    ("I paid $5 for ", "", "markdown", False),  # stray $ with no closer ahead: prose
    ("a $x + ", "", "markdown", False),  # ... same rule (documented limit)
    ("$x$\nnext ", "", "markdown", False),
    ("$x\nnext ", "", "markdown", False),  # inline $ ends with its line ...
    ("$x\nnext $y ", "$", "markdown", True),  # ... and the new line's $ opens afresh
    ("`$x` and ", "", "markdown", False),  # code span
    ("```python\n$x ", "$", "markdown", False),  # code fence
    # $$ blocks
    ("$$\n", "\n$$", "markdown", True),
    ("$$\n\nx = ", "\n\n$$", "markdown", True),  # blank lines inside the block
    ("$$\nx\n$$\n", "", "markdown", False),  # closed
    ("$$x + ", "$$", "markdown", True),  # one-line block
    ("```math\n", "\n```", "markdown", True),  # math fence
    ("```math\nx\n```\n", "", "markdown", False),
    # \( and \[
    (r"text \(", r"\)", "tex", True),
    (r"text \(a\) and ", "", "tex", False),
    ("text \\[\n", "\n\\]", "tex", True),
    ("text \\[ a \\]\n", "", "tex", False),
    (r"a \\[2pt] b ", "", "tex", False),  # \\ then [ is a line break with an argument
    (r"text \(", r"\)", "markdown", True),
    # environments
    ("\\begin{equation}\n  ", "\n\\end{equation}", "tex", True),
    ("\\begin{equation*}\n", "", "tex", True),
    ("\\begin{align*}\n a &= b \\\\\n", "", "tex", True),
    ("\\begin{equation}x\\end{equation}\n", "", "tex", False),
    ("\\begin{itemize}\n\\item ", "", "tex", False),  # not a math environment
    ("\\begin{equation}\n", "", "markdown", True),  # raw TeX in pandoc Markdown
    # TeX $
    ("a $b", "", "tex", True),
    ("a $b\n c ", "", "tex", True),  # TeX inline math spans lines ...
    ("a $b\n\nc ", "", "tex", False),  # ... but not a paragraph break
    ("% $\ntext ", "", "tex", False),  # comment
    ("$$\n", "", "tex", True),
    ("no math here ", "", "tex", False),
    ("", "", "markdown", False),
]


@pytest.mark.parametrize(("before", "after", "family", "expected"), INSIDE_CASES)
def test_inside_math(before, after, family, expected):
    assert inside_math(before, after, family) is expected


# ---------------------------------------------------------------- every family x mode x style

CUSTOM = WrapOptions(
    markdown=DelimiterStyle("paren", "math-fence"), tex=DelimiterStyle("dollar", "equation"), other="markdown"
)

STYLE_CASES = [
    # (language_id, mode, options, expected) -- cursor on a blank line, no surrounding text
    ("markdown", "inline", WrapOptions(), "$x$"),
    ("markdown", "display", WrapOptions(), "$$\nx\n$$"),
    ("markdown", "inline", WrapOptions(markdown=DelimiterStyle("paren", "dollars")), r"\(x\)"),
    ("markdown", "display", WrapOptions(markdown=DelimiterStyle("dollar", "math-fence")), "```math\nx\n```"),
    ("markdown", "display", WrapOptions(markdown=DelimiterStyle("dollar", "brackets")), "\\[\nx\n\\]"),
    ("quarto", "inline", WrapOptions(), "$x$"),
    ("rmd", "display", WrapOptions(), "$$\nx\n$$"),
    ("tex", "inline", WrapOptions(), r"\(x\)"),
    ("latex", "display", WrapOptions(), "\\[\nx\n\\]"),
    ("latex", "inline", WrapOptions(tex=DelimiterStyle("dollar", "brackets")), "$x$"),
    (
        "latex",
        "display",
        WrapOptions(tex=DelimiterStyle("paren", "equation")),
        "\\begin{equation}\nx\n\\end{equation}",
    ),
    (
        "plaintex",
        "display",
        WrapOptions(tex=DelimiterStyle("paren", "equation*")),
        "\\begin{equation*}\nx\n\\end{equation*}",
    ),
    ("latex", "display", WrapOptions(tex=DelimiterStyle("paren", "dollars")), "$$\nx\n$$"),
    # other languages: raw by default, Markdown styles on request
    ("python", "inline", WrapOptions(), "x"),
    ("python", "display", WrapOptions(), "x"),
    ("python", "auto", WrapOptions(), "x"),
    ("python", "inline", CUSTOM, r"\(x\)"),
    ("plaintext", "display", CUSTOM, "```math\nx\n```"),
    # raw mode everywhere
    ("markdown", "raw", WrapOptions(), "x"),
    ("latex", "raw", WrapOptions(), "x"),
    # auto on a blank line is display
    ("markdown", "auto", WrapOptions(), "$$\nx\n$$"),
    ("latex", "auto", CUSTOM, "\\begin{equation}\nx\n\\end{equation}"),
]


@pytest.mark.parametrize(("language_id", "mode", "options", "expected"), STYLE_CASES)
def test_styles(language_id, mode, options, expected):
    assert wrap_for_insert("x", language_id=language_id, mode=mode, options=options) == expected


# ---------------------------------------------------------------- cursor context

CONTEXT_CASES = [
    # (language_id, mode, line_text, character, expected)
    # auto: inline in running text, display on a blank line
    ("markdown", "auto", "see  here", 4, "$x$"),
    ("latex", "auto", "see  here", 4, r"\(x\)"),
    ("markdown", "auto", "   ", 3, "$$\n   x\n   $$"),  # indented blank line: continuation indented
    # multi-line LaTeX forces display, moved onto its own lines
    ("markdown", "auto", "see here", 8, "\n$$\nx \\\\ y\n$$"),
    # display in the middle of a line: newlines before and after
    ("markdown", "display", "see here", 3, "\n$$\nx\n$$\n"),
    ("markdown", "display", "text", 0, "$$\nx\n$$\n"),
    ("markdown", "display", "  - item", 8, "\n  $$\n  x\n  $$"),  # keeps the line's indentation
    # pandoc $ rules: a following digit, a neighbouring $, a preceding backslash
    ("markdown", "inline", "a 2", 2, "$x$ "),
    ("quarto", "inline", "12", 1, "$x$ "),
    ("latex", "inline", "a 2", 2, r"\(x\)"),  # \) is not subject to the digit rule
    ("markdown", "inline", "$a$", 3, " $x$"),  # would otherwise read $a$$x$
    ("markdown", "inline", "a $b$", 2, "$x$ "),
    ("markdown", "inline", "\\", 1, " $x$"),  # \$ would be an escaped dollar
    ("markdown", "inline", "\\\\", 2, "$x$"),  # \\ is a line break, not an escape
    ("markdown", "inline", r"costs \$", 8, "$x$"),  # an escaped $ is not a delimiter
    # inside math already: bare LaTeX
    ("markdown", "auto", "a $$ b", 3, "x"),
    ("markdown", "display", "a $ b", 3, "x"),
    ("latex", "auto", r"\(\)", 2, "x"),
]


@pytest.mark.parametrize(("language_id", "mode", "line_text", "character", "expected"), CONTEXT_CASES)
def test_cursor_context(language_id, mode, line_text, character, expected):
    latex = r"x \\ y" if "\\\\" in expected else "x"
    got = wrap_for_insert(latex, language_id=language_id, mode=mode, line_text=line_text, character=character)
    assert got == expected


def test_tex_guard_digit_and_dollar():
    tex_dollar = WrapOptions(tex=DelimiterStyle("dollar", "brackets"))
    # TeX has no digit rule, but "$a$" + "$x$" would start display math
    assert (
        wrap_for_insert(
            "x", language_id="latex", mode="inline", line_text="a 2", character=2, options=tex_dollar
        )
        == "$x$"
    )
    assert (
        wrap_for_insert(
            "x", language_id="latex", mode="inline", line_text="$a$", character=3, options=tex_dollar
        )
        == " $x$"
    )


SURROUNDING_CASES = [
    # (language_id, text_before, text_after, expected) -- whole-document context, no line_text
    ("markdown", "$$\n", "\n$$", "x"),
    ("markdown", "```math\n", "\n```", "x"),
    ("latex", "\\begin{equation}\n  ", "\n\\end{equation}", "x"),
    ("latex", "\\begin{equation}x\\end{equation}\n", "", "\\[\nx\n\\]"),
    ("latex", "Let ", " be", r"\(x\)"),
    ("markdown", "Let $", "$ be", "x"),
    ("markdown", "para\n\nLet ", " be", "$x$"),
]


@pytest.mark.parametrize(("language_id", "before", "after", "expected"), SURROUNDING_CASES)
def test_surrounding_text(language_id, before, after, expected):
    assert wrap_for_insert("x", language_id=language_id, text_before=before, text_after=after) == expected


# ---------------------------------------------------------------- stripping model output

STRIP_CASES = [
    # (model output, language_id, mode, expected)
    ("$x$", "markdown", "inline", "$x$"),
    ("$$x$$", "markdown", "inline", "$x$"),
    (r"\[x\]", "markdown", "inline", "$x$"),
    (r"\(x\)", "markdown", "display", "$$\nx\n$$"),
    ("$$ x $$", "latex", "inline", r"\(x\)"),
    (r"\[x\]", "latex", "display", "\\[\nx\n\\]"),
    ("\\begin{equation}x\\end{equation}", "latex", "display", "\\[\nx\n\\]"),
    ("  $x$  ", "python", "auto", "x"),
    ("$x$", "markdown", "raw", "x"),
    ("", "markdown", "auto", ""),
]


@pytest.mark.parametrize(("latex", "language_id", "mode", "expected"), STRIP_CASES)
def test_strips_model_delimiters(latex, language_id, mode, expected):
    assert wrap_for_insert(latex, language_id=language_id, mode=mode) == expected


# ---------------------------------------------------------------- TeX display with top-level \\

TEX_MULTILINE_CASES = [
    (r"a \\ b", "brackets", "\\[\n\\begin{gathered}\na \\\\ b\n\\end{gathered}\n\\]"),
    (
        r"a &= b \\ &= c",
        "equation",
        "\\begin{equation}\n\\begin{aligned}\na &= b \\\\ &= c\n\\end{aligned}\n\\end{equation}",
    ),
    # \\ inside an environment or a group is fine as it is
    (r"\begin{cases}a \\ b\end{cases}", "brackets", "\\[\n\\begin{cases}a \\\\ b\\end{cases}\n\\]"),
    (r"\substack{a \\ b}", "brackets", "\\[\n\\substack{a \\\\ b}\n\\]"),
]


@pytest.mark.parametrize(("latex", "display", "expected"), TEX_MULTILINE_CASES)
def test_tex_display_top_level_linebreak(latex, display, expected):
    options = WrapOptions(tex=DelimiterStyle("paren", display))
    assert wrap_for_insert(latex, language_id="latex", mode="display", options=options) == expected


def test_markdown_display_keeps_top_level_linebreak():
    assert wrap_for_insert(r"a \\ b", language_id="markdown") == "$$\na \\\\ b\n$$"


def test_math_fence_outgrows_backticks_in_body():
    opts = WrapOptions(markdown=DelimiterStyle("dollar", "math-fence"))
    assert (
        wrap_for_insert("a```b", language_id="markdown", mode="display", options=opts)
        == "````math\na```b\n````"
    )


def test_inline_joins_lines():
    assert wrap_for_insert("a +\n b", language_id="markdown", mode="inline") == "$a + b$"


def test_bad_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        wrap_for_insert("x", language_id="markdown", mode="block")


# ---------------------------------------------------------------- options

FROM_DICT_CASES = [
    (None, WrapOptions()),
    ({}, WrapOptions()),
    (
        {
            "markdown": {"inline": "paren", "display": "mathFence"},
            "tex": {"inline": "dollar"},
            "other": "markdown",
        },
        WrapOptions(DelimiterStyle("paren", "math-fence"), DelimiterStyle("dollar", "brackets"), "markdown"),
    ),
    (
        {"markdownInline": "dollar", "markdownDisplay": "brackets", "texDisplay": "equationStar"},
        WrapOptions(DelimiterStyle("dollar", "brackets"), DelimiterStyle("paren", "equation*")),
    ),
    ({"tex": {"display": "EQUATION"}}, WrapOptions(tex=DelimiterStyle("paren", "equation"))),
    ({"markdown": {"display": "math_fence"}}, WrapOptions(markdown=DelimiterStyle("dollar", "math-fence"))),
    ({"markdown": None, "other": None}, WrapOptions()),  # JSON null keeps the default
    ({"tex_display": "dollars"}, WrapOptions(tex=DelimiterStyle("paren", "dollars"))),
]


@pytest.mark.parametrize(("d", "expected"), FROM_DICT_CASES)
def test_options_from_dict(d, expected):
    assert WrapOptions.from_dict(d) == expected


BAD_OPTIONS = [
    ({"markdown": {"inline": "dollars"}}, "'markdown.inline' must be one of"),
    ({"markdown": {"display": "equation"}}, "'markdown.display' must be one of"),
    ({"tex": {"inline": "brackets"}}, "'tex.inline' must be one of"),
    ({"tex": {"display": "math-fence"}}, "'tex.display' must be one of"),
    ({"other": "latex"}, "'other' must be one of"),
    ({"other": 3}, "must be a string"),
    ({"tex": "paren"}, "must be an object"),
    ({"markdown": {"block": "dollars"}}, "unknown wrapping option 'markdown.block'"),
    ({"typst": {}}, "unknown wrapping option 'typst'"),
    ({"markdown": {"inline": "dollar"}, "markdownInline": "paren"}, "given twice"),
    (["markdown"], "must be an object"),
]


@pytest.mark.parametrize(("d", "message"), BAD_OPTIONS)
def test_options_from_dict_errors(d, message):
    with pytest.raises(ValueError, match=message) as info:
        WrapOptions.from_dict(d)
    text = str(info.value)
    assert text.endswith(".") and "\n" not in text


def test_options_validate_on_construction_and_round_trip():
    with pytest.raises(ValueError, match="'tex.display' must be one of"):
        WrapOptions(tex=DelimiterStyle("paren", "align"))
    custom = WrapOptions.from_dict({"markdown": {"display": "brackets"}, "other": "markdown"})
    assert WrapOptions.from_dict(custom.to_dict()) == custom
    assert WrapOptions().other == "raw"


# ---------------------------------------------------------------- CLI wrap()

CLI_CASES = [
    # (latex, mode, language, expected)
    ("x", "inline", "markdown", "$x$"),
    ("x", "display", "markdown", "$$\nx\n$$"),
    ("x", "inline", "tex", r"\(x\)"),
    ("x", "display", "latex", "\\[\nx\n\\]"),
    ("x", "raw", "markdown", "x"),
    ("  x  ", "raw", "markdown", "x"),
    ("x", "auto", "markdown", "$x$"),  # no cursor line: auto is inline unless multi-line
    (r"a \\ b", "auto", "markdown", "$$\na \\\\ b\n$$"),
    ("x", "inline", "python", "$x$"),  # unknown languages: Markdown delimiters for the CLI
    ("x", "display", "python", "$$\nx\n$$"),
    ("$x$", "inline", "markdown", "$x$"),  # emitted delimiters are not doubled
    ("", "inline", "markdown", ""),
]


@pytest.mark.parametrize(("latex", "mode", "language", "expected"), CLI_CASES)
def test_cli_wrap(latex, mode, language, expected):
    assert wrap(latex, mode, language) == expected


def test_cli_wrap_defaults_and_other_raw():
    assert wrap("x") == "$x$"
    assert wrap("x", "inline", "python", other="raw") == "x"
    with pytest.raises(ValueError):
        wrap("x", "block")
