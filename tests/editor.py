"""A scripted LSP editor for the server tests: the real ``texpaste serve`` over stdio, driven by
pytest-lsp's client, with an in-memory document store that applies ``workspace/applyEdit`` the way
an editor does (in the negotiated position encoding)."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Union

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

DATA = Path(__file__).parent / "data"


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def ns(value: Any) -> Any:
    """Results as attribute objects, whether pygls returned dicts or namedtuples."""
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, dict):
        return SimpleNamespace(**{k: ns(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return [ns(v) for v in value]
    return value


def units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def to_index(line: str, character: int, encoding: str) -> int:
    """Code-point index in ``line`` of a client-unit column."""
    count = 0
    for i, ch in enumerate(line):
        if count >= character:
            return i
        count += units(ch, encoding)
    return len(line)


class Editor:
    def __init__(self, client: LanguageClient, encoding: str) -> None:
        self.client, self.encoding = client, encoding
        self.docs: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        self.apply_result = True
        self.before_apply: Any = None

    def open(self, name: str, text: str, language: str) -> str:
        uri = f"file:///tmp/texpaste-test/{name}"
        self.docs[uri], self.versions[uri] = text, 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, 1, text))
        )
        return uri

    def type(self, uri: str, line: int, character: int, text: str) -> None:
        """The user types ``text`` (sent to the server as an incremental change)."""
        pos = types.Position(line, character)
        self._edit(uri, types.Range(pos, pos), text)
        self.versions[uri] += 1
        change = types.TextDocumentContentChangePartial(range=types.Range(pos, pos), text=text)
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]), [change]
            )
        )

    def _offset(self, text: str, pos: types.Position) -> int:
        lines = text.split("\n")
        before = sum(len(ln) + 1 for ln in lines[: pos.line])
        return before + to_index(
            lines[pos.line] if pos.line < len(lines) else "", pos.character, self.encoding
        )

    def _edit(self, uri: str, rng: types.Range, new_text: str) -> None:
        text = self.docs[uri]
        start, end = self._offset(text, rng.start), self._offset(text, rng.end)
        self.docs[uri] = text[:start] + new_text + text[end:]

    def apply(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        """Apply a workspace edit as an editor does: a ``TextDocumentEdit`` for another version of the
        document than the current one is refused; an applied edit is reported back with didChange."""
        self.edits.append(params)
        if self.before_apply is not None:
            self.before_apply()  # e.g. the user types just before the editor gets to the edit
        if not self.apply_result:
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason="document is read-only")
        per_doc = list((params.edit.changes or {}).items())
        for change in params.edit.document_changes or []:
            doc = change.text_document
            if doc.version is not None and doc.version != self.versions.get(doc.uri):
                return types.ApplyWorkspaceEditResult(
                    applied=False, failure_reason="the document has changed"
                )
            per_doc.append((doc.uri, change.edits))
        for uri, edits in per_doc:
            ordered = sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True)
            for e in ordered:
                self._edit(uri, e.range, e.new_text)
            self.versions[uri] = self.versions.get(uri, 0) + 1
            self.client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                    [types.TextDocumentContentChangePartial(range=e.range, text=e.new_text) for e in ordered],
                )
            )
        return types.ApplyWorkspaceEditResult(applied=True)

    def replace_all(self, uri: str, text: str) -> None:
        """A whole-document change (a formatter, a reload from disk): one the server cannot follow."""
        self.docs[uri] = text
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                [types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    async def command(self, name: str, **args: Any) -> Any:
        params = types.ExecuteCommandParams(command=name, arguments=[args])
        return ns(await self.client.workspace_execute_command_async(params))

    async def insert(
        self, uri: str, line: int, character: int, image: Path = DATA / "formula.png", **args: Any
    ) -> Any:
        return await self.command(
            "texpaste.insertFormula",
            uri=uri,
            position={"line": line, "character": character},
            imageBase64=b64(image),
            **args,
        )

    async def request(self, method: str, params: Any = None) -> Any:
        return ns(await self.client.protocol.send_request_async(method, params or {}))

    def range_text(self, uri: str, rng: dict[str, dict[str, int]]) -> str:
        text = self.docs[uri]
        start = self._offset(text, types.Position(**rng["start"]))
        end = self._offset(text, types.Position(**rng["end"]))
        return text[start:end]


def _parse_code_actions_correctly(client: LanguageClient) -> None:
    """lsprotocol's client-side hook reads every ``Command | CodeAction`` with a ``command`` key as a
    Command, so a CodeAction carrying a command would lose its kind; tell them apart by the type of
    ``command`` (a string only in a Command), as the LSP specification does."""
    converter = client.protocol._converter

    def hook(obj: Any, _: type) -> Any:
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return converter.structure(obj, kind)

    converter.register_structure_hook(types.Command | types.CodeAction, hook)
    converter.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007


async def start_editor(
    *serve_args: str,
    preset: str = "neovim@v0.11.0",
    options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    argv: list[str] | None = None,
) -> Editor:
    """The real server (``argv`` replaces ``-m texpaste serve SERVE_ARGS``, e.g. a script that wraps it)."""
    client = make_test_lsp_client()
    editor = Editor(client, "utf-16")

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        return editor.apply(params)

    _parse_code_actions_correctly(client)
    full_env = {**os.environ, "TEXPASTE_THREADS": "1", **(env or {})}
    await client.start_io(sys.executable, *(argv or ["-m", "texpaste", "serve", *serve_args]), env=full_env)
    result = await asyncio.wait_for(
        client.initialize_session(
            types.InitializeParams(capabilities=client_capabilities(preset), initialization_options=options)
        ),
        60,
    )
    editor.encoding = str(result.capabilities.position_encoding or "utf-16")
    editor.init_result = result  # type: ignore[attr-defined]
    return editor


async def stop_editor(editor: Editor) -> None:
    try:
        await asyncio.wait_for(editor.client.shutdown_session(), 30)
    finally:
        await editor.client.stop()
