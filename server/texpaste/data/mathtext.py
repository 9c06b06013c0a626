"""Pure-Python fallback renderer (matplotlib mathtext) for machines without TeX.

mathtext knows a subset of LaTeX; anything it cannot parse counts as a failed formula.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image

from texpaste.data.tex import RenderResult, screen
from texpaste.errors import RenderError

FONTS = {"cm": "cm", "stix": "stix", "dejavu": "dejavuserif", "stixsans": "stixsans"}


def mathtext_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def render_mathtext(
    formulas: Sequence[str], *, font: str = "cm", dpi: int = 150, timeout: float = 0.0
) -> RenderResult:
    """Render each formula with matplotlib's mathtext; failures are None and counted."""
    if font not in FONTS:
        raise RenderError(f"Unknown mathtext font '{font}'; choose one of {', '.join(FONTS)}.")
    if not mathtext_available():
        raise RenderError("matplotlib is not installed; install texpaste[render] for the mathtext renderer.")
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import mathtext

    images: list[Image.Image | None] = []
    with matplotlib.rc_context({"mathtext.fontset": FONTS[font]}):
        for latex in formulas:
            if screen(latex) is not None or "\n" in latex:
                images.append(None)
                continue
            buf = io.BytesIO()
            try:
                mathtext.math_to_image(f"${latex}$", buf, dpi=dpi, format="png")
                img = Image.open(io.BytesIO(buf.getvalue())).convert("L")
            except Exception:  # mathtext raises ValueError and friends for unsupported input
                images.append(None)
                continue
            box = Image.eval(img, lambda v: 255 - v).getbbox()
            images.append(img.crop(box) if box else None)
    return RenderResult(images, sum(i is None for i in images))
