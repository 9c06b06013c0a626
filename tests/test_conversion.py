"""Formula images already in a note become LaTeX: the links found (Markdown and TeX, every way of writing
them, none inside code), the files they name, and the code actions and commands of the real server."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from lsprotocol import types
from PIL import Image
from pygls.exceptions import JsonRpcException

from texpaste.editor import images
from texpaste.editor.images import ImageLink, find_links, resolve
from texpaste.editor.wrapping import wrap_for_insert
from texpaste.errors import ImageError

from .editor import DATA, start_editor, stop_editor

MARKDOWN = """# Notes
![euler](img/eq%201.png "Euler's identity")
Inline ![x](<img/eq 1.png>) and ![[eq3.png|200]] here.
```python
![not this](img/code.png)
```
`![nor this](img/inline.png)` but ![esc](img/a\\(1\\).png) yes
![web](https://example.org/eq.png)
~~~
![fenced](img/tilde.png)
~~~
"""


def test_markdown_links_in_every_form_and_none_in_code():
    links = find_links(MARKDOWN, "markdown")
    assert [(link.target, link.alone) for link in links] == [
        ("img/eq 1.png", True),  # URL-escaped, with a title, alone on its line
        ("img/eq 1.png", False),  # angle-bracketed
        ("eq3.png", False),  # Obsidian
        ("img/a(1).png", False),  # backslash escapes
        ("https://example.org/eq.png", True),
    ]
    assert MARKDOWN[links[0].start : links[0].end] == '![euler](img/eq%201.png "Euler\'s identity")'
    assert links[4].is_url and not links[0].is_url


def test_tex_links_outside_comments_and_verbatim():
    tex = "\\graphicspath{{img/}{figs/}}\n\\includegraphics[width=3cm]{eq3}\n% \\includegraphics{old}\n"
    tex += "see \\includegraphics*{dir/eq 4.png} 50\\% off\n\\begin{verbatim}\n\\includegraphics{v}\n\\end{verbatim}\n"
    links = find_links(tex, "tex")
    assert [(link.target, link.alone) for link in links] == [("eq3", True), ("dir/eq 4.png", False)]


def test_files_are_found_where_markdown_and_tex_look(tmp_path):
    (tmp_path / "notes" / "img").mkdir(parents=True)
    (tmp_path / "figs").mkdir()
    shutil.copy(DATA / "formula.png", tmp_path / "notes" / "img" / "eq 1.png")
    shutil.copy(DATA / "formula.png", tmp_path / "figs" / "eq3.png")
    (tmp_path / "notes" / "fig.pdf").write_bytes(b"%PDF-1.4")
    doc = tmp_path / "notes" / "a.md"

    def link(target: str, family: str = "markdown") -> ImageLink:
        return ImageLink(0, 1, target, family, True)

    assert resolve(link("img/eq 1.png"), doc, []) == tmp_path / "notes" / "img" / "eq 1.png"
    assert resolve(link(str(tmp_path / "figs" / "eq3.png")), doc, []) == tmp_path / "figs" / "eq3.png"
    assert resolve(link("eq3.png"), doc, [tmp_path]) == tmp_path / "figs" / "eq3.png"  # the vault, by name
    tex = "\\graphicspath{{../figs/}}"
    assert (
        resolve(link("eq3", "tex"), tmp_path / "notes" / "p.tex", [], tex)
        == tmp_path / "notes" / "../figs/eq3.png"
    )
    with pytest.raises(ImageError, match="web address"):
        resolve(link("https://example.org/a.png"), doc, [])
    with pytest.raises(ImageError, match="PDF file, not a raster image"):
        resolve(link("fig.pdf"), doc, [])
    with pytest.raises(ImageError, match="was not found next to the document or in the workspace"):
        resolve(link("img/missing.png"), doc, [tmp_path])


def test_vault_search_walks_once_skips_hidden_folders_and_prefers_the_nearest(tmp_path, monkeypatch):
    for folder in ("a/attachments", "b", ".trash", "a/deep/er"):
        (tmp_path / folder).mkdir(parents=True)
    for where in ("a/attachments/eq.png", "b/eq.png", ".trash/old.png", "a/deep/er/x.png"):
        shutil.copy(DATA / "formula.png", tmp_path / where)
    walks = []
    real_walk = images.os.walk
    monkeypatch.setattr(images.os, "walk", lambda root: walks.append(root) or real_walk(root))

    def link(target: str) -> ImageLink:
        return ImageLink(0, 1, target, "markdown", True)

    vault = images.Vault([tmp_path])
    assert resolve(link("eq.png"), tmp_path / "a" / "note.md", [tmp_path], vault=vault) == (
        tmp_path / "a" / "attachments" / "eq.png"
    )
    assert resolve(link("eq.png"), tmp_path / "b" / "c" / "note.md", [tmp_path], vault=vault) == (
        tmp_path / "b" / "eq.png"
    )
    assert (
        resolve(link("x.png"), tmp_path / "note.md", [tmp_path], vault=vault) == tmp_path / "a/deep/er/x.png"
    )
    with pytest.raises(ImageError, match="was not found"):
        resolve(link("old.png"), tmp_path / "note.md", [tmp_path], vault=vault)  # in the trash
    assert walks == [tmp_path]  # one walk for every lookup
    monkeypatch.setattr(images, "MAX_VAULT_ENTRIES", 2)
    assert images.Vault([tmp_path]).find("x.png") is None  # past the budget the walk stops


@pytest.fixture
def notes():
    """A folder under the scripted editor's document root, with a formula image and a blank one."""
    name = f"conv-{uuid.uuid4().hex[:8]}"
    folder = Path("/tmp/texpaste-test") / name
    (folder / "img").mkdir(parents=True)
    shutil.copy(DATA / "formula.png", folder / "img" / "eq 1.png")
    Image.new("RGB", (200, 60), "white").save(folder / "img" / "blank.png")
    yield name, folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def latex(tiny_recognizer):
    return tiny_recognizer.recognize(DATA / "formula.png", candidates=5).latex


async def _actions(ed, uri, line, character, trigger=types.CodeActionTriggerKind.Invoked):
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri),
        range=types.Range(types.Position(line, character), types.Position(line, character)),
        context=types.CodeActionContext(diagnostics=[], trigger_kind=trigger),
    )
    return {a.title: a for a in await ed.client.text_document_code_action_async(params) or []}


async def test_replace_image_with_latex_display_when_alone_inline_otherwise(tiny_model_dir, notes, latex):
    name, folder = notes
    ed = await start_editor("--model", str(tiny_model_dir))
    try:
        text = 'Intro\n![euler](img/eq%201.png "Euler")\nSee ![x](<img/eq 1.png>) here.\n'
        uri = ed.open(f"{name}/note.md", text, "markdown")
        assert "Replace image with LaTeX" not in await _actions(ed, uri, 0, 2)  # not on a link
        on_link = await _actions(ed, uri, 1, 3, trigger=types.CodeActionTriggerKind.Automatic)
        assert {"Replace image with LaTeX", "Convert all formula images in this document"} <= set(on_link)
        action = on_link["Replace image with LaTeX"]
        result = await ed.command(action.command.command, **action.command.arguments[0])
        display = wrap_for_insert(
            latex, language_id="markdown", mode="display", text_before="Intro\n", text_after="\nSee"
        )
        assert result.latex == latex and result.text == display
        assert ed.docs[uri] == "Intro\n" + display + "\nSee ![x](<img/eq 1.png>) here.\n"
        line = ed.docs[uri].split("\n").index("See ![x](<img/eq 1.png>) here.")
        action = (await _actions(ed, uri, line, 6))["Replace image with LaTeX"]
        result = await ed.command(action.command.command, **action.command.arguments[0])
        assert result.text.startswith("$") and not result.text.startswith("$$")
        assert ed.docs[uri].endswith("See " + result.text + " here.\n")
        assert (folder / "img" / "eq 1.png").is_file()  # the image stays on disk
        with pytest.raises(JsonRpcException, match="no image link at that position"):
            await ed.command("texpaste.replaceImageWithLatex", uri=uri, position={"line": 0, "character": 0})
    finally:
        await stop_editor(ed)


async def test_convert_all_in_one_edit_with_one_progress_and_one_message(tiny_model_dir, notes, latex):
    name, _ = notes
    ed = await start_editor("--model", str(tiny_model_dir), preset="visual_studio_code")
    try:
        text = (
            "![a](img/eq%201.png)\n\nText ![b](<img/eq 1.png> 'title') and ![c](img/blank.png).\n\n"
            "```\n![code](img/eq%201.png)\n```\n![gone](img/missing.png) ![web](https://example.org/x.png)\n"
        )
        uri = ed.open(f"{name}/all.md", text, "markdown")
        edits_before = len(ed.edits)
        result = await ed.command("texpaste.convertAllImages", uri=uri)
        assert [c.latex for c in result.converted] == [latex, latex]
        assert [x.image for x in result.left] == [
            "img/blank.png",
            "img/missing.png",
            "https://example.org/x.png",
        ]
        assert len(ed.edits) == edits_before + 1  # one versioned workspace edit
        assert ed.edits[-1].edit.document_changes[0].text_document.version is not None
        doc = ed.docs[uri]
        assert "![a]" not in doc and "![b]" not in doc and "![c](img/blank.png)" in doc
        assert "![code](img/eq%201.png)" in doc and "![gone](img/missing.png)" in doc
        [message] = [m for m in ed.client.messages if "Converted" in m.message]
        assert message.message.startswith(
            "texpaste: Converted 2 of 5 images; left as they were: img/blank.png ("
        )
        assert message.type == types.MessageType.Warning
        reports = [r for token in ed.client.progress_reports.values() for r in token]
        assert [
            getattr(r, "percentage", None) for r in reports if getattr(r, "percentage", None) is not None
        ][-1] == 100
    finally:
        await stop_editor(ed)


async def test_keep_image_link_leaves_the_link_in_a_comment(tiny_model_dir, notes, latex):
    name, _ = notes
    ed = await start_editor("--model", str(tiny_model_dir), options={"keepImageLink": True})
    try:
        md = ed.open(
            f"{name}/keep.md", "![e](img/eq%201.png)\nAnd ![i](img/eq%201.png) inline.\n", "markdown"
        )
        await ed.command("texpaste.convertAllImages", uri=md)
        lines = ed.docs[md].split("\n")
        assert lines[0] == "<!-- ![e](img/eq%201.png) -->" and lines[1].startswith("$$")
        assert ed.docs[md].rstrip("\n").endswith(" <!-- ![i](img/eq%201.png) --> inline.")
        tex_text = (
            "\\graphicspath{{img/}}\n\\includegraphics{eq 1}\nwhere \\includegraphics[h=1em]{eq 1} holds\n"
        )
        tex = ed.open(f"{name}/keep.tex", tex_text, "latex")
        result = await ed.command("texpaste.convertAllImages", uri=tex)
        assert len(result.converted) == 2, result
        lines = ed.docs[tex].split("\n")
        assert lines[1] == "% \\includegraphics{eq 1}" and lines[2] == "\\["
        where = next(ln for ln in lines if ln.startswith("where "))
        assert where.startswith("where \\(") and where.endswith(" holds % \\includegraphics[h=1em]{eq 1}")
    finally:
        await stop_editor(ed)
