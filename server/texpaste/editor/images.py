"""Formula images already in a note: the image links of a Markdown or TeX document, and the files they name.

Markdown: ``![alt](path)``, ``![alt](<path with spaces> "title")``, ``![[eq3.png]]`` (Obsidian); percent escapes
and backslash escapes are decoded; links in code fences and inline code are ignored. TeX:
``\\includegraphics[...]{eq3}`` outside comments and verbatim environments, found in the document's folder, the
``\\graphicspath`` folders and the workspace folders, with or without an extension (as TeX does). Offsets are
code points of the document text; the server converts them to the client's units.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from texpaste.errors import ImageError

RASTER = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_VAULT_ENTRIES = 200_000  # files and folders one vault search looks at before it gives up


@dataclass(frozen=True)
class ImageLink:
    start: int  # code-point offsets of the whole link in the document
    end: int
    target: str  # the file as written, escapes decoded
    family: str  # markdown | tex
    alone: bool  # nothing else on its line: it becomes a display formula

    @property
    def is_url(self) -> bool:
        return re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://|data:", self.target) is not None


_MD_IMAGE = re.compile(
    r"!\[(?:[^\]\\\n]|\\.)*\]"  # ![alt]
    r"\(\s*(?:<(?P<angle>[^>\n]*)>|(?P<bare>(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))+))"  # (<path> | path
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^)\n]*\)))?\s*\)"  # "title")
    r"|!\[\[(?P<wiki>[^\]|\n]+)(?:\|[^\]\n]*)?\]\]"  # ![[file.png|width]]
)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_TEX_IMAGE = re.compile(r"\\includegraphics\s*\*?\s*(?:\[[^\]]*\]\s*)?\{(?P<target>[^{}\n]+)\}")
_TEX_COMMENT = re.compile(r"(?<!\\)%.*")
_TEX_VERBATIM = re.compile(r"\\begin\{(verbatim|lstlisting|minted|comment)\*?\}.*?\\end\{\1\*?\}", re.DOTALL)
_GRAPHICSPATH = re.compile(r"\\graphicspath\s*\{((?:\s*\{[^{}]*\})+)\s*\}")


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the spans replaced by spaces (newlines kept), so offsets stay put."""
    chars = list(text)
    for a, b in spans:
        for i in range(a, b):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


def _markdown_code(text: str) -> list[tuple[int, int]]:
    """Fenced code blocks and inline code spans. (Indented blocks are not skipped: in notes an
    indented image is far more often a list item's content than code.)"""
    spans, offset, fence, fence_start = [], 0, None, 0
    for line in text.splitlines(keepends=True):
        m = _FENCE.match(line)
        if fence is None and m:
            fence, fence_start = m.group(1), offset
        elif fence is not None and m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
            spans.append((fence_start, offset + len(line)))
            fence = None
        offset += len(line)
    if fence is not None:
        spans.append((fence_start, len(text)))
    blanked = _blank(text, spans)
    return spans + [m.span() for m in _INLINE_CODE.finditer(blanked)]


def _alone(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    return not text[line_start:start].strip() and not text[end:line_end].strip()


def find_links(text: str, family: str) -> list[ImageLink]:
    """The image links of a document of ``family`` (``markdown`` or ``tex``), in order."""
    links = []
    if family == "markdown":
        visible = _blank(text, _markdown_code(text))
        for m in _MD_IMAGE.finditer(visible):
            if m.group("wiki") is not None:
                target = m.group("wiki").strip()
            elif m.group("angle") is not None:
                target = unquote(m.group("angle"))
            else:
                target = unquote(re.sub(r"\\(.)", r"\1", m.group("bare")))
            links.append(ImageLink(m.start(), m.end(), target, family, _alone(text, *m.span())))
    elif family == "tex":
        visible = _blank(text, [m.span() for m in _TEX_VERBATIM.finditer(text)])
        visible = _blank(visible, [m.span() for m in _TEX_COMMENT.finditer(visible)])
        for m in _TEX_IMAGE.finditer(visible):
            links.append(
                ImageLink(m.start(), m.end(), m.group("target").strip(), family, _alone(text, *m.span()))
            )
    return links


def graphics_paths(text: str) -> list[str]:
    """The folders of a TeX document's ``\\graphicspath{{img/}{figs/}}``."""
    return [d for m in _GRAPHICSPATH.finditer(text) for d in re.findall(r"\{([^{}]*)\}", m.group(1))]


def resolve(
    link: ImageLink, document: Path | None, roots: list[Path], text: str = "", vault: Vault | None = None
) -> Path:
    """The image file ``link`` names; ImageError (one sentence) when it is not a local raster image.
    ``vault`` shares one search of the workspace between the links of a document."""
    if link.is_url:
        raise ImageError(f"{link.target} is a web address, not a file on this machine.")
    target = Path(link.target).expanduser()
    folders: list[Path] = []
    if document is not None:
        folders.append(document.parent)
        if link.family == "tex":
            folders += [document.parent / d for d in graphics_paths(text)]
    folders += roots
    if link.family == "tex":
        folders += [root / d for root in roots for d in graphics_paths(text)]
    names = [target]
    if link.family == "tex" and not target.suffix:
        names = [target.with_name(target.name + ext) for ext in (".png", ".jpg", ".jpeg", ".PNG", ".JPG")]
    tried = [n if n.is_absolute() else folder / n for n in names for folder in (folders or [Path.cwd()])]
    if target.is_absolute():
        tried = names
    for path in tried:
        if path.is_file():
            if path.suffix.lower() not in RASTER:
                raise ImageError(
                    f"{link.target} is a {path.suffix.lstrip('.').upper()} file, not a raster image."
                )
            return path
    if link.family == "markdown" and not target.is_absolute() and "/" not in link.target:
        found = (vault or Vault(roots)).find(target.name, document)  # Obsidian-style, by name
        if found is not None:
            return found
    raise ImageError(f"{link.target} was not found next to the document or in the workspace.")


@dataclass
class Vault:
    """The raster images under the workspace folders by file name, for Obsidian's ``![[eq3.png]]``,
    which names an attachment anywhere in the vault. One walk, made on the first lookup and shared by
    every link of a request; hidden folders (``.git``, ``.obsidian``, ``.trash``) are not searched,
    and a walk stops after ``MAX_VAULT_ENTRIES`` entries, so a huge workspace costs a bounded time."""

    roots: list[Path]
    _index: dict[str, list[Path]] | None = field(default=None, init=False, repr=False)

    def find(self, name: str, document: Path | None = None) -> Path | None:
        """The image called ``name``; of several, the one nearest the document's folder."""
        matches = [p for p in self._files().get(name, []) if p.is_file()]
        if not matches:
            return None
        here = document.parent if document is not None else None
        return min(matches, key=lambda p: (_distance(p.parent, here), len(p.parts), str(p)))

    def _files(self) -> dict[str, list[Path]]:
        if self._index is None:
            self._index, budget = {}, MAX_VAULT_ENTRIES
            for root in self.roots:
                for folder, dirs, files in os.walk(root):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    budget -= len(dirs) + len(files)
                    for f in files:
                        if Path(f).suffix.lower() in RASTER:
                            self._index.setdefault(f, []).append(Path(folder) / f)
                    if budget <= 0:
                        return self._index
        return self._index


def _distance(folder: Path, here: Path | None) -> int:
    """Folder steps between ``folder`` and ``here`` (up to their common ancestor and down)."""
    if here is None:
        return 0
    a, b = folder.parts, here.parts
    common = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return len(a) + len(b) - 2 * common
