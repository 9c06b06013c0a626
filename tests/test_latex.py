"""texpaste.engine.postprocess: pix2tex's post_process, delimiter stripping, the lexer and the exact-match form."""

from __future__ import annotations

import pytest

from texpaste.engine.postprocess import post_process, strip_delimiters
from texpaste.training.labels import normalize_for_match, normalize_latex, tokenize_latex, training_label

# ---------------------------------------------------------------- post_process (docs/compatibility.md §3.3)

POST_PROCESS_CASES = [
    # text groups: every space inside "\name {...}" goes
    (r"\operatorname { s i n }", r"\operatorname{sin}"),
    (r"\mathrm { h o p f }", r"\mathrm{hopf}"),
    (r"\mathbf * { a b }", r"\mathbf*{ab}"),
    # only up to the first "}" (lazy); the rest goes through the space rules
    (r"\mathrm { a { b } c }", r"\mathrm{a{b}c}"),
    # pix2tex's pattern needs a space before "{": without it the letters keep their space
    (r"\mathrm{a b}", r"\mathrm{a b}"),
    # the space rules
    (r"\frac { 1 } { 2 } \alpha _ { i }", r"\frac{1}{2}\alpha_{i}"),
    (r"\alpha x", r"\alpha x"),  # letter-letter: kept
    # a space is itself a "non-letter" (\W): letter, space, space -> the first space goes
    (r"a  b", r"a b"),
    (r"x + y", r"x+y"),
    (r"1 2 3 4", r"1234"),  # needs several rounds (matches do not overlap)
    (r"2 x", r"2x"),
    (r"x 2", r"x2"),
    (r"a \ b", r"a\ b"),  # the control space survives
    (r"\, x", r"\,x"),
    (r"x ^ { 2 } + \operatorname { s i n } ( x )", r"x^{2}+\operatorname{sin}(x)"),
    ("", ""),
]


@pytest.mark.parametrize(("src", "expected"), POST_PROCESS_CASES)
def test_post_process(src, expected):
    assert post_process(src) == expected


def test_post_process_is_stable():
    for src, _ in POST_PROCESS_CASES:
        once = post_process(src)
        assert post_process(once) == once


# ---------------------------------------------------------------- strip_delimiters

STRIP_CASES = [
    ("$x^2$", "x^2"),
    ("  $$ x^2 $$ ", "x^2"),
    (r"\(a+b\)", "a+b"),
    (r"\[ \frac{1}{2} \]", r"\frac{1}{2}"),
    (r"\begin{equation} E=mc^2 \end{equation}", "E=mc^2"),
    (r"\begin{equation*}x\end{equation*}", "x"),
    (r"\begin {displaymath} x \end {displaymath}", "x"),
    (r"$\[x\]$", "x"),  # repeated
    # not enclosing the whole string: left alone
    ("$a$ + $b$", "$a$ + $b$"),
    (r"\(a\) = \(b\)", r"\(a\) = \(b\)"),
    (r"\[a\] \[b\]", r"\[a\] \[b\]"),
    (
        r"\begin{equation}a\end{equation} \begin{equation}b\end{equation}",
        r"\begin{equation}a\end{equation} \begin{equation}b\end{equation}",
    ),
    (r"\begin{matrix}a\end{matrix}", r"\begin{matrix}a\end{matrix}"),  # not a math delimiter
    # escapes never close
    (r"$a\$", r"$a\$"),
    (r"$\$5$", r"\$5"),
    (r"a \\[2pt] b", r"a \\[2pt] b"),  # "\\" then "[", not "\["
    (r"x^2", "x^2"),
    ("$$", ""),
]


@pytest.mark.parametrize(("src", "expected"), STRIP_CASES)
def test_strip_delimiters(src, expected):
    assert strip_delimiters(src) == expected


# ---------------------------------------------------------------- lexer

LEX_CASES = [
    (r"\frac{1}{2}", r"\frac { 1 } { 2 }"),
    (r"x^2_{i}", r"x ^ 2 _ { i }"),
    (r"\alpha\beta", r"\alpha \beta"),
    (r"\left(x\right)", r"\left ( x \right )"),
    (r"\left\{ a \right.", r"\left \{ a \right ."),
    (r"a\,b\\c\;d\!e", r"a \, b \\ c \; d \! e"),
    (r"\begin {matrix} a & b \\ c & d \end{ matrix }", r"\begin{matrix} a & b \\ c & d \end{matrix}"),
    (r"\begin{array}{cc} 1 \end{array}", r"\begin{array} { c c } 1 \end{array}"),
    (r"\begin{align*}x\end{align*}", r"\begin{align*} x \end{align*}"),
    (r"\mathrm{hopf}", r"\mathrm { h o p f }"),
    (r"\operatorname{sin}x", r"\operatorname { s i n } x"),
    (r"_{\rm hopf}", r"_ { \rm h o p f }"),  # no \rm -> \mathrm rewriting
    (r"\sqrt[3]{x}", r"\sqrt [ 3 ] { x }"),
    ("x % a comment\n+ y", "x + y"),
    (r"50\%", r"5 0 \%"),
    ("α+β", "α + β"),
    ("  \t\n ", ""),
]


@pytest.mark.parametrize(("src", "expected"), LEX_CASES)
def test_normalize_latex(src, expected):
    assert normalize_latex(src) == expected
    assert normalize_latex(expected) == expected  # idempotent


@pytest.mark.parametrize(
    ("src", "tokens"),
    [
        (r"a\ b", ["a", "\\ ", "b"]),
        ("a\\\nb", ["a", "\\ ", "b"]),  # backslash-newline is a control space
        ("a\\", ["a", "\\"]),  # a lone trailing backslash
        (r"\begin{}x", ["\\begin", "{", "}", "x"]),  # empty name: not merged
        (r"\text{a b}", ["\\text", "{", "a", "b", "}"]),  # word spaces are lost (documented)
        (r"\text{a\ b}", ["\\text", "{", "a", "\\ ", "b", "}"]),
    ],
)
def test_tokenize_latex(src, tokens):
    assert tokenize_latex(src) == tokens
    assert tokenize_latex(" ".join(tokens)) == tokens


# ---------------------------------------------------------------- exact-match form

MATCH_FORM_CASES = [
    (r"$x^{2}$", "x ^ 2"),
    (r"\frac{1}{2}", r"\frac 1 2"),
    (r"\frac12", r"\frac 1 2"),
    (r"\displaystyle a\,b \quad c", "a b c"),
    (r"x^{\prime}", r"x ^ \prime"),
    (r"{{x}}", "x"),
    (r"x^{10}", "x ^ { 1 0 }"),
    (r"{\bf x}", r"{ \bf x }"),
    (r"1{,}000", "1 { , } 0 0 0"),
    (r"\left( x \right)", r"\left ( x \right )"),
    (r"\mathrm{d}x", r"\mathrm d x"),
]


@pytest.mark.parametrize(("src", "expected"), MATCH_FORM_CASES)
def test_normalize_for_match(src, expected):
    assert normalize_for_match(src) == expected
    assert normalize_for_match(expected) == expected


# ---------------------------------------------------------------- training labels

TRAINING_LABEL_CASES = [
    (r"x^2_i", r"x ^ { 2 } _ { i }"),
    (r"e^\alpha+x^{2}", r"e ^ { \alpha } + x ^ { 2 }"),
    (r"f^\prime(x)", r"f ^ { \prime } ( x )"),
    (r"x^23", r"x ^ { 2 } 3"),  # only the first token is the script, in TeX too
    # what needs its arguments or the rest of its group is left alone
    (r"x^\hat a", r"x ^ \hat a"),
    (r"A^\rm T", r"A ^ \rm T"),
    (r"x_\mathrm{max}", r"x _ \mathrm { m a x }"),
    (r"a_{}", r"a _ { }"),
]


@pytest.mark.parametrize(("latex", "label"), TRAINING_LABEL_CASES)
def test_training_label_braces_one_token_scripts(latex, label):
    assert training_label(latex) == label
    assert training_label(label) == label


def test_training_label_renders_like_its_source():
    from texpaste.data.tex import render_tex
    from texpaste.training.evaluate import images_match

    sources = [r"x^2_i+e^\alpha", r"f^\prime(x)=\sum_i^n a_i", r"x^23", r"\int_0^\infty e^{-x}dx"]
    images = render_tex([f for s in sources for f in (s, training_label(s))], dpi=120).images
    for k, source in enumerate(sources):
        assert images_match(images[2 * k], images[2 * k + 1]), source
