"""Turn formula images already in a note into LaTeX: the code actions on image links, and their commands.

"Replace image with LaTeX" recognises the linked file and replaces the whole link with the wrapped formula
(display for a link alone on its line, else inline; the image file stays on disk). "Convert all formula images
in this document" recognises every link in one batch under one progress, replaces them in one versioned
edit, and names the images it left as they were in one message. With ``keepImageLink`` the link stays in a
comment beside the formula (Markdown ``<!-- ![](...) -->``, TeX ``% \\includegraphics{...}``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from texpaste.editor.edits import (
    end_after_insert,
    follow_edits,
    language_of,
    offset_at,
    position_at,
    workspace_edit,
)
from texpaste.editor.images import ImageLink, Vault, find_links, resolve
from texpaste.editor.protocol import (
    CONVERT_IMAGES,
    CONVERT_IMAGES_TITLE,
    REPLACE_IMAGE,
    REPLACE_IMAGE_TITLE,
    command_arguments,
    optional_str,
    parse_position,
    position_json,
)
from texpaste.editor.wrapping import language_family, wrap_for_insert
from texpaste.errors import EditConflict, ImageError, RequestError, TexpasteError

if TYPE_CHECKING:
    from texpaste.editor.server import TexpasteServer


@dataclass
class Found:
    """A link of an open document, with its file (or why it has none)."""

    link: ImageLink
    path: Path | None
    problem: str | None


def _document(ls: TexpasteServer, uri: str | None, command: str) -> TextDocument:
    doc = ls.workspace.text_documents.get(uri) if uri else None
    if doc is None:
        raise RequestError(f"{command} needs the uri of a document the editor has open.")
    return doc


def _roots(ls: TexpasteServer) -> list[Path]:
    roots = [Path(p) for f in ls.workspace.folders.values() if (p := to_fs_path(f.uri))]
    if ls.workspace.root_path:
        roots.append(Path(ls.workspace.root_path))
    return list(dict.fromkeys(roots))


def links_of(doc: TextDocument) -> tuple[ImageLink, ...]:
    family = language_family(language_of(doc.uri, doc))
    return _parsed(doc.source, family) if family in ("markdown", "tex") else ()


@functools.lru_cache(maxsize=16)
def _parsed(text: str, family: str) -> tuple[ImageLink, ...]:
    """The links of a document text: parsed once per version, however often the editor asks for
    code actions (on every cursor move in some editors)."""
    return tuple(find_links(text, family))


def _locate(roots: list[Path], doc: TextDocument, link: ImageLink, vault: Vault | None = None) -> Found:
    path = Path(p) if (p := to_fs_path(doc.uri)) else None
    try:
        return Found(link, resolve(link, path, roots, doc.source, vault), None)
    except ImageError as exc:
        return Found(link, None, str(exc))


def code_actions(
    ls: TexpasteServer, doc: TextDocument, where: types.Range, invoked: bool
) -> list[types.CodeAction]:
    """ "Replace image with LaTeX" on a link the range touches, and "Convert all…" beside it (or, when
    asked for explicitly, anywhere in a document with links). Parsing only: nothing is recognised."""
    links = links_of(doc)
    if not links:
        return []
    start, end = offset_at(doc, where.start), offset_at(doc, where.end)
    here = [link for link in links if link.start <= end and start <= link.end]
    actions = []
    for link in here[:1]:
        args = {"uri": doc.uri, "position": position_json(position_at(doc, link.start))}
        command = types.Command(title=REPLACE_IMAGE_TITLE, command=REPLACE_IMAGE, arguments=[args])
        actions.append(
            types.CodeAction(
                title=REPLACE_IMAGE_TITLE, kind=types.CodeActionKind.RefactorRewrite, command=command
            )
        )
    if here or invoked:
        command = types.Command(
            title=CONVERT_IMAGES_TITLE, command=CONVERT_IMAGES, arguments=[{"uri": doc.uri}]
        )
        actions.append(
            types.CodeAction(
                title=CONVERT_IMAGES_TITLE, kind=types.CodeActionKind.RefactorRewrite, command=command
            )
        )
    return actions


def _replacement(ls: TexpasteServer, doc: TextDocument, link: ImageLink, latex: str) -> tuple[str, int, str]:
    """The text replacing ``link``, where the formula starts in it, and text for the end of its line
    (a TeX comment cannot sit in the middle of a line)."""
    text, language = doc.source, language_of(doc.uri, doc)
    formula = wrap_for_insert(
        latex,
        language_id=language,
        mode="display" if link.alone else "inline",
        text_before=text[: link.start],
        text_after=text[link.end :],
        options=ls.settings.wrap,
    )
    if not ls.settings.keep_image_link:
        return formula, 0, ""
    original = text[link.start : link.end]
    if link.family == "markdown":
        comment = f"<!-- {original.replace('--', '- -')} -->"
        return (
            (f"{comment}\n{formula}", len(comment) + 1, "") if link.alone else (f"{formula} {comment}", 0, "")
        )
    comment = f"% {original}"
    return (f"{comment}\n{formula}", len(comment) + 1, "") if link.alone else (formula, 0, f" {comment}")


def _edits(
    doc: TextDocument, link: ImageLink, target: types.Range, text: str, line_end: str
) -> list[types.TextEdit]:
    edits = [types.TextEdit(range=target, new_text=text)]
    if line_end:
        eol = doc.source.find("\n", link.end)
        at = position_at(doc, len(doc.source) if eol < 0 else eol)
        edits.append(types.TextEdit(range=types.Range(at, at), new_text=line_end))
    return edits


async def replace_image(ls: TexpasteServer, args: tuple[Any, ...]) -> dict[str, Any]:
    """``texpaste.replaceImageWithLatex {uri, position}``: the link at ``position`` becomes its formula."""
    a = command_arguments(args, REPLACE_IMAGE)
    doc = _document(ls, optional_str(a, "uri"), REPLACE_IMAGE)
    offset = offset_at(doc, parse_position(a.get("position")))
    link = next((k for k in links_of(doc) if k.start <= offset <= k.end), None)
    if link is None:
        raise RequestError("There is no image link at that position.")
    found = _locate(_roots(ls), doc, link)
    if found.path is None:
        raise ImageError(found.problem or "The image was not found.")
    arrived, original = ls.changes.seq, doc.source[link.start : link.end]
    target = types.Range(position_at(doc, link.start), position_at(doc, link.end))
    result = await ls.recognize({"imagePath": str(found.path)}, title="texpaste: converting the image")
    changes = ls.changes.since(arrived, doc.uri)
    if changes is None:
        raise EditConflict("The document changed too much while recognising, so nothing was changed.")
    target = follow_edits(target, changes, doc.position_codec)
    start = offset_at(doc, target.start)
    if doc.source[start : start + len(original)] != original:
        raise EditConflict("The image link was edited while recognising, so nothing was changed.")
    link = next((k for k in links_of(doc) if k.start == start), link)
    text, formula_at, line_end = _replacement(ls, doc, link, result["latex"])
    response = await ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(
            edit=workspace_edit(ls, doc.uri, doc, _edits(doc, link, target, text, line_end)),
            label="texpaste: replace image with LaTeX",
        )
    )
    if not response.applied:
        raise EditConflict("The editor did not apply the edit, so the image link was left as it is.")
    end = end_after_insert(target.start, text, doc.position_codec)
    return {
        "latex": result["latex"],
        "text": text,
        "image": str(found.path),
        "applied": True,
        "range": {"start": position_json(target.start), "end": position_json(end)},
        "formulaOffset": formula_at,
        "model": result.get("model"),
    }


async def convert_all(ls: TexpasteServer, args: tuple[Any, ...]) -> dict[str, Any]:
    """``texpaste.convertAllImages {uri}``: every formula image of the document, in one edit."""
    a = command_arguments(args, CONVERT_IMAGES)
    doc = _document(ls, optional_str(a, "uri"), CONVERT_IMAGES)
    roots = _roots(ls)
    vault = Vault(roots)  # one search of the workspace for all the links
    found = [_locate(roots, doc, link, vault) for link in links_of(doc)]
    if not found:
        raise RequestError("This document has no image links to convert.")
    arrived, before = ls.changes.seq, doc.source
    usable = [f for f in found if f.path is not None]
    results = await ls.recognize_files([f.path for f in usable], "texpaste: converting formula images")
    outcome = dict(zip((id(f) for f in usable), results, strict=True))
    if ls.changes.since(arrived, doc.uri) != [] or doc.source != before:
        raise EditConflict(
            "The document changed while its images were recognised, so nothing was changed; convert them again."
        )
    edits: list[types.TextEdit] = []
    converted, left = [], []
    for f in found:
        result = outcome.get(id(f))
        if isinstance(result, TexpasteError) or result is None:
            reason = str(result) if result is not None else (f.problem or "not found")
            left.append({"image": f.link.target, "reason": reason.rstrip(".")})
            continue
        target = types.Range(position_at(doc, f.link.start), position_at(doc, f.link.end))
        text, _, line_end = _replacement(ls, doc, f.link, result["latex"])
        edits += _edits(doc, f.link, target, text, line_end)
        converted.append({"image": str(f.path), "latex": result["latex"]})
    if edits:
        response = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(
                edit=workspace_edit(ls, doc.uri, doc, edits), label="texpaste: convert formula images"
            )
        )
        if not response.applied:
            raise EditConflict("The editor did not apply the edit, so the image links were left as they are.")
    summary = f"Converted {len(converted)} of {len(found)} images"
    if left:
        summary += "; left as they were: " + "; ".join(f"{x['image']} ({x['reason']})" for x in left)
    message_type = types.MessageType.Warning if left else types.MessageType.Info
    ls.window_show_message(types.ShowMessageParams(message_type, f"texpaste: {summary}."))
    return {"converted": converted, "left": left, "message": summary + "."}
