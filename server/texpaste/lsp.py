"""``texpaste serve``: the language server editors start on stdio (docs/protocol.md).

A thin front: it validates arguments, reads the clipboard when asked, forwards recognition to a
backend (the shared daemon by default, :mod:`texpaste.backend`), wraps the LaTeX for the document
and inserts it with ``workspace/applyEdit``. It advertises only executeCommand, codeAction and text
sync, so it sits beside texlab or marksman. stdout is the JSON-RPC channel: logs go to stderr or
``--log-file``. Every failure becomes one sentence, sent as the JSON-RPC error and (unless the client
opts out) ``window/showMessage``, in :meth:`TexpasteServer.fail`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import re
import sys
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcRequestCancelled,
    JsonRpcServerNotInitialized,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, LanguageServerProtocol
from pygls.workspace import TextDocument

from . import __version__, wire
from .backend import Backend, DaemonBackend, InProcessBackend
from .daemon_client import DaemonClient
from .errors import Cancelled, EditConflict, RequestError, TexpasteError
from .limits import MAX_CANDIDATES, check_decode_options
from .store import choose
from .wire import absolute_image_source, image_source
from .wrapping import MODES, WrapOptions, language_family, wrap, wrap_for_insert

log = logging.getLogger(__name__)

INSERT = "texpaste.insertFormula"
INSERT_FROM_CLIPBOARD = "texpaste.insertFormulaFromClipboard"
RECOGNIZE = "texpaste/recognize"
STATUS = "texpaste/status"
CODE_ACTION_TITLE = "Paste formula from clipboard"
REQUEST_FAILED = -32803  # LSP's RequestFailed

_EXTENSION_LANGUAGES = {".md": "markdown", ".markdown": "markdown", ".rmd": "rmd", ".qmd": "quarto",
                        ".tex": "tex", ".latex": "latex", ".sty": "tex", ".cls": "tex"}  # fmt: skip


@dataclass
class Settings:
    """The client's settings (initializationOptions / the ``texpaste`` configuration section)."""

    model: str | None = None
    device: str | None = None
    mode: str = "auto"
    candidates: int = 5
    wrap: WrapOptions = field(default_factory=WrapOptions)
    show_errors: bool = True

    @classmethod
    def from_dict(cls, d: Any, base: Settings | None = None) -> Settings:
        """Settings from JSON, keeping ``base``'s values for missing keys; ValueError names a bad key."""
        out = Settings(**vars(base)) if base else cls()
        if d is None:
            return out
        if not isinstance(d, dict):
            raise ValueError("texpaste settings must be an object.")
        for key, value in d.items():
            if value is None:
                continue
            if key in ("model", "device"):
                if not isinstance(value, str):
                    raise ValueError(f"setting '{key}' must be a string.")
                setattr(out, key, value or None)
            elif key == "mode":
                if value not in MODES:
                    raise ValueError(f"setting 'mode' must be one of {', '.join(MODES)} (got {value!r}).")
                out.mode = value
            elif key == "candidates":
                if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CANDIDATES:
                    raise ValueError(f"setting 'candidates' must be a whole number from 1 to {MAX_CANDIDATES} (got {value!r}).")
                out.candidates = value
            elif key == "delimiters":
                out.wrap = WrapOptions.from_dict(value)
            elif key == "showErrors":
                if not isinstance(value, bool):
                    raise ValueError("setting 'showErrors' must be true or false.")
                out.show_errors = value
            elif key in ("engine", "command", "path", "trace", "pasteProvider", "idleTimeout", "serverCommand"):
                pass  # client-side settings some clients send along
            else:
                log.warning("ignoring unknown setting %r", key)
        return out


class TexpasteProtocol(LanguageServerProtocol):
    """pygls' protocol, plus: custom requests may omit ``params``, and ``$/cancelRequest`` also stops a
    command's running job.

    pygls runs a command handler as a separate task from the ``workspace/executeCommand`` request,
    so cancelling the request alone would let the recognition finish and edit the document.
    """

    def structure_message(self, data: dict[str, Any]) -> Any:
        # JSON-RPC lets a request without parameters omit "params" (VS Code's client and Neovim do for
        # texpaste/status); pygls would fail to build the message and never answer.
        if "jsonrpc" not in data:
            return data  # a nested object of some message's params
        method = data.get("method")
        if isinstance(method, str) and "params" not in data and self.get_message_type(method) is None:
            data = {**data, "params": None}
        try:
            return super().structure_message(data)
        except JsonRpcException:
            # pygls would log it and never answer: a request with malformed params gets its error here
            if "method" in data and "id" in data:
                msg_id = data["id"] if isinstance(data["id"], (int, str)) and not isinstance(data["id"], bool) else None
                method = str(data["method"])[:80]
                self._send_response(msg_id, error=JsonRpcInvalidParams(
                    f"Malformed parameters for {method}.").to_response_error())  # fmt: skip
            return JsonRPCNotification(method="$/texpaste/ignored", jsonrpc="2.0", params=None)  # dropped quietly

    def _handle_request(self, msg_id: Any, method_name: str, params: Any) -> None:
        server = self._server
        if method_name == types.WORKSPACE_EXECUTE_COMMAND and params.command not in self.fm.commands:
            known = " and ".join(sorted(self.fm.commands))
            self._send_response(msg_id, error=JsonRpcInvalidParams(
                f"Unknown command {params.command[:80]!r}: texpaste offers {known}.").to_response_error())  # fmt: skip
            return
        if isinstance(server, TexpasteServer) and method_name == types.WORKSPACE_EXECUTE_COMMAND:
            server.arrivals[msg_id] = server.changes.seq  # which edits a paste's position predates
        super()._handle_request(msg_id, method_name, params)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        super()._handle_cancel_notification(msg_id)
        server = self._server
        if isinstance(server, TexpasteServer):
            server.cancel_job(msg_id)


class TexpasteServer(LanguageServer):
    def __init__(self, backend: Backend) -> None:
        super().__init__("texpaste", __version__, protocol_cls=TexpasteProtocol, max_workers=2)
        self.backend = backend
        self.settings = Settings()
        self.jobs: dict[Any, asyncio.Task] = {}
        self.changes = ChangeLog()
        self.arrivals: dict[Any, int] = {}  # pending paste request id -> changes.seq when it arrived
        self.cancelled: set[Any] = set()  # pending paste request ids cancelled before their job started
        self.initialized = False  # set by initialize; requests before it are refused (``guarded``)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Failures outside a request (a notification's handler, a message that cannot be read) go to
        the log only: pygls would show the editor the Python exception text."""
        log.error("%s: %s", getattr(source, "__name__", source), error)

    def cancel_job(self, msg_id: Any) -> None:
        if msg_id in self.arrivals:
            self.cancelled.add(msg_id)  # checked when its job starts and again just before its edit
        task = self.jobs.get(msg_id)
        if task is not None:
            task.cancel()

    # -- errors: the one place TexpasteError becomes JSON-RPC ----------------------------------

    def fail(self, exc: TexpasteError) -> JsonRpcException:
        """The JSON-RPC error for ``exc``, shown to the user too unless they opted out."""
        message = str(exc)
        if isinstance(exc, Cancelled):
            return JsonRpcRequestCancelled(message, data={"kind": exc.code})
        if self.settings.show_errors:
            self.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"texpaste: {message}"))
        log.warning("%s: %s", exc.code, message)
        data: dict[str, Any] = {"kind": exc.code}
        if isinstance(exc, EditConflict) and exc.text is not None:
            data["text"] = exc.text  # clients offer it (copy) instead of losing the paste
        if isinstance(exc, RequestError):
            return JsonRpcInvalidParams(message, data=data)
        return JsonRpcException(message, REQUEST_FAILED, data=data)

    # -- recognition with progress and cancellation ---------------------------------------------

    async def recognize(self, params: dict[str, Any], title: str = "texpaste") -> dict[str, Any]:
        """Run one recognition through the backend with ``$/progress``; cancellable both ways."""
        request = {
            **params,
            **(absolute_image_source(params) if "imagePath" in params else {}),
            "model": choose(self.settings.model).model,  # explicit: the daemon never picks for us
            "device": self.settings.device,
            "candidates": params.get("candidates") or self.settings.candidates,
        }
        progress = _Progress(self)
        await progress.begin(title)
        task = asyncio.ensure_future(self.backend.recognize(request, progress.report))
        progress.attach(task)
        msg_id = self.protocol.msg_id
        if msg_id is not None:
            self.jobs[msg_id] = task
            if msg_id in self.cancelled:
                task.cancel()
        try:
            result = await task
            if progress.cancelled:  # the cancel arrived as the job finished: too late for the task
                raise asyncio.CancelledError
            return result
        except asyncio.CancelledError:
            task.cancel()
            current = asyncio.current_task()
            if current is not None and getattr(current, "cancelling", lambda: 0)():
                raise  # this handler itself was cancelled ($/cancelRequest of a custom request)
            raise Cancelled("Recognition was cancelled.") from None
        finally:
            if msg_id is not None and self.jobs.get(msg_id) is task:
                del self.jobs[msg_id]
            progress.end()


class ChangeLog:
    """The documents' recent incremental changes, so a paste can follow the edits made while it ran."""

    def __init__(self, size: int = 10_000) -> None:
        self.seq = 0
        self.entries: deque[tuple[int, str, Any]] = deque(maxlen=size)

    def add(self, uri: str, change: Any) -> None:
        self.seq += 1
        self.entries.append((self.seq, uri, change))

    def since(self, seq: int, uri: str) -> list[Any] | None:
        """The changes to ``uri`` after ``seq``, oldest first; None when they are no longer all known."""
        if seq < self.seq and (not self.entries or self.entries[0][0] > seq + 1):
            return None
        return [change for s, u, change in self.entries if s > seq and u == uri]


def _before(p: types.Position, q: types.Position) -> bool:
    return (p.line, p.character) < (q.line, q.character)


def _moved(p: types.Position, start: types.Position, end: types.Position, new_end: types.Position) -> types.Position:
    """Where ``p`` is after ``start``-``end`` was replaced by text ending at ``new_end``."""
    if _before(p, start):
        return p
    if not _before(p, end):
        if p.line == end.line:
            return types.Position(new_end.line, new_end.character + p.character - end.character)
        return types.Position(p.line + new_end.line - end.line, p.character)
    return new_end  # inside the replaced text: just after what replaced it


def follow_edits(target: types.Range, changes: list[Any], codec: Any) -> types.Range:
    """``target`` moved through the user's later edits; EditConflict when they touched its text."""
    for change in changes:
        if not isinstance(change, types.TextDocumentContentChangePartial):  # a formatter, a reload
            raise EditConflict("The whole document was replaced while recognising, so nothing was changed.")
        start, end = change.range.start, change.range.end
        if _before(target.start, target.end) and _before(start, target.end) and _before(target.start, end):
            raise EditConflict("The text to replace was edited while recognising, so nothing was changed.")
        new_end = _end_after_insert(start, change.text, codec)
        target = types.Range(_moved(target.start, start, end, new_end), _moved(target.end, start, end, new_end))
    return target


class _Progress:
    """``window/workDoneProgress`` for one job, when the client supports it; cancel stops ``task``."""

    def __init__(self, server: TexpasteServer) -> None:
        self.server = server
        self.task: asyncio.Task | None = None
        self.cancelled = False
        caps = server.client_capabilities.window
        self.enabled = bool(caps and caps.work_done_progress)
        self.token = str(uuid.uuid4())
        self.begun = False

    async def begin(self, title: str) -> None:
        if not self.enabled:
            return
        wdp = self.server.work_done_progress
        try:
            await wdp.create_async(self.token)
        except Exception as exc:  # the client refused: carry on without progress
            log.info("no progress: %s", exc)
            self.enabled = False
            return
        wdp.begin(self.token, types.WorkDoneProgressBegin(title=title, message="Recognising…", cancellable=True))
        self.begun = True
        cancel_future = wdp.tokens.get(self.token)
        if cancel_future is not None:
            cancel_future.add_done_callback(self._on_token_done)

    def _on_token_done(self, future: Any) -> None:
        if future.cancelled():
            self.cancelled = True
            if self.task is not None:
                self.task.cancel()

    def attach(self, task: asyncio.Task) -> None:
        self.task = task
        if self.cancelled:
            task.cancel()

    def report(self, message: str, percentage: float | None = None) -> None:
        if self.begun:
            pct = None if percentage is None else int(max(0, min(100, percentage)))
            self.server.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message, percentage=pct))

    def end(self, message: str | None = None) -> None:
        if self.begun:
            self.begun = False
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))


# -- argument checking ------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """pygls hands custom params over as namedtuples; make them plain JSON-like values."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _arguments(args: tuple[Any, ...], command: str) -> dict[str, Any]:
    if len(args) != 1 or not isinstance(_plain(args[0]), dict):
        raise RequestError(f"{command} takes one argument object {{uri, position, ...}} (got {len(args)} arguments).")
    return _plain(args[0])


def _position(value: Any, name: str = "position") -> types.Position:
    if isinstance(value, dict):
        line, character = value.get("line"), value.get("character")
        if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (line, character)):
            return types.Position(line=line, character=character)
    raise RequestError(f"{name} must be {{line, character}} with whole numbers >= 0 (got {value!r}).")


def _range(value: Any) -> types.Range:
    if not isinstance(value, dict):
        raise RequestError(f"range must be {{start, end}} (got {value!r}).")
    start, end = _position(value.get("start"), "range.start"), _position(value.get("end"), "range.end")
    if (end.line, end.character) < (start.line, start.character):
        raise RequestError("range.end comes before range.start.")
    return types.Range(start=start, end=end)


def _optional_str(args: dict[str, Any], key: str) -> str | None:
    value = args.get(key)
    if value is not None and not isinstance(value, str):
        raise RequestError(f"{key} must be a string (got {value!r}).")
    return value or None


def _mode(args: dict[str, Any], default: str) -> str:
    mode = _optional_str(args, "mode") or default
    if mode not in MODES:
        raise RequestError(f"mode must be one of {', '.join(MODES)} (got {mode!r}).")
    return mode


def _pos_dict(p: types.Position) -> dict[str, int]:
    return {"line": p.line, "character": p.character}


# -- the server ------------------------------------------------------------------------------------


class _Context:
    """The document text around an insertion point, for wrapping (code points, not client units)."""

    def __init__(self, doc: TextDocument | None, start: types.Position, end: types.Position) -> None:
        self.before, self.after = "", ""
        if doc is None:
            return
        try:
            lines = doc.lines
        except (OSError, UnicodeDecodeError, TypeError, ValueError):
            return  # an unsaved or unreadable document: wrap without context
        codec = doc.position_codec
        text = "".join(lines)
        self.before = text[: self._offset(lines, codec.position_from_client_units(lines, start))]
        self.after = text[self._offset(lines, codec.position_from_client_units(lines, end)) :]

    @staticmethod
    def _offset(lines: list[str], pos: Any) -> int:
        if pos.line >= len(lines):
            return sum(map(len, lines))
        return sum(map(len, lines[: pos.line])) + min(pos.character, len(lines[pos.line]))


def _end_after_insert(start: types.Position, text: str, codec: Any) -> types.Position:
    """Where ``text`` ends once inserted at ``start`` (client units)."""
    parts = text.replace("\r\n", "\n").split("\n")
    if len(parts) == 1:
        return types.Position(start.line, start.character + codec.client_num_units(text))
    return types.Position(start.line + len(parts) - 1, codec.client_num_units(parts[-1]))


def _language_of(uri: str, doc: TextDocument | None) -> str:
    if doc is not None and doc.language_id:
        return doc.language_id
    suffix = Path(uri.split("?", 1)[0]).suffix.lower()
    return _EXTENSION_LANGUAGES.get(suffix, "plaintext")


def _open_document(server: TexpasteServer, uri: str) -> TextDocument | None:
    """The document if the editor has opened it, else None. Never ``get_text_document``: for a
    document that is not open it reads the file from disk on the event loop (a FIFO would wedge the
    server, ``/dev/zero`` fill its memory); a paste into it simply gets no surrounding context."""
    return server.workspace.text_documents.get(uri)


def _wrapped(server: TexpasteServer, result: dict[str, Any], language: str, mode: str,
             context: _Context | None) -> tuple[str, list[dict[str, Any]]]:  # fmt: skip
    """The text for the best candidate and every candidate wrapped for the same spot."""

    def one(latex: str) -> str:
        if context is None:
            return wrap(latex, mode, language, options=server.settings.wrap)
        return wrap_for_insert(latex, language_id=language, mode=mode, text_before=context.before,
                               text_after=context.after, options=server.settings.wrap)  # fmt: skip

    candidates = [{"latex": c["latex"], "score": c["score"], "text": one(c["latex"])} for c in result["candidates"]]
    return one(result["latex"]), candidates


async def _insert(server: TexpasteServer, args: tuple[Any, ...], command: str) -> dict[str, Any]:
    msg_id = server.protocol.msg_id
    arrived = server.arrivals.get(msg_id, server.changes.seq)
    try:
        a = _arguments(args, command)
        uri = _optional_str(a, "uri")
        if not uri:
            raise RequestError(f"{command} needs the document's uri.")
        position = _position(a.get("position"))
        target = _range(a["range"]) if a.get("range") is not None else types.Range(position, position)
        mode = _mode(a, server.settings.mode)
        language = _optional_str(a, "languageId")
        if command == INSERT_FROM_CLIPBOARD:
            image = await _clipboard_image()
        else:
            image = image_source(a)
        result = await server.recognize(image)
        doc = _open_document(server, uri)
        language = language or _language_of(uri, doc)
        try:
            # the user may have typed meanwhile: move the target through those edits, then read the text
            changes = server.changes.since(arrived, uri)
            if changes is None:
                raise EditConflict("The document changed too much while recognising, so nothing was changed")
            target = follow_edits(target, changes, server.workspace.position_codec)
            text, candidates = _wrapped(server, result, language, mode, _Context(doc, target.start, target.end))
            if msg_id in server.cancelled:  # cancelled after the recognition finished: still no edit
                raise Cancelled("The paste was cancelled; nothing was changed.")
            response = await server.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=_edit(server, uri, doc, target, text))
            )
            if not response.applied:
                reason = f" ({response.failure_reason})" if response.failure_reason else ""
                raise EditConflict(f"The editor did not apply the edit{reason}, so nothing was changed")
        except EditConflict as exc:
            offered = _wrapped(server, result, language, mode, None)[0]
            raise EditConflict(f"{str(exc).rstrip('.')}; the formula was: {offered}", text=offered) from None
        codec = doc.position_codec if doc is not None else server.workspace.position_codec
        end = _end_after_insert(target.start, text, codec)
        return {
            "latex": result["latex"], "text": text, "applied": True, "candidates": candidates,
            "range": {"start": _pos_dict(target.start), "end": _pos_dict(end)},
            "model": result.get("model"), "timings": result.get("timings", {}),
        }  # fmt: skip
    finally:
        server.arrivals.pop(msg_id, None)
        server.cancelled.discard(msg_id)


def _edit(server: TexpasteServer, uri: str, doc: TextDocument | None, target: types.Range,
          text: str) -> types.WorkspaceEdit:  # fmt: skip
    """The paste as a versioned ``TextDocumentEdit``: an editor whose document has moved on since
    (a formatter ran, the user typed) refuses it instead of inserting at stale coordinates. Clients
    without ``documentChanges`` get the plain ``changes`` form."""
    edits = [types.TextEdit(range=target, new_text=text)]
    caps = server.client_capabilities.workspace
    if caps and caps.workspace_edit and caps.workspace_edit.document_changes:
        document = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=doc.version if doc else None)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=document, edits=edits)])
    return types.WorkspaceEdit(changes={uri: edits})


async def _clipboard_image() -> dict[str, Any]:
    import base64

    from .clipboard import read_image_bytes

    data = await asyncio.to_thread(read_image_bytes)
    return {"imageBase64": base64.b64encode(data).decode("ascii")}


INTERNAL_ERROR = "texpaste failed unexpectedly; the details are in its log."


def guarded(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Every request handler's one exit for errors: before ``initialize`` the LSP's
    ServerNotInitialized; a ``TexpasteError`` its one sentence (``fail``); anything unexpected
    one sentence to the editor and the traceback to the log only (pygls would send the exception
    text and traceback)."""

    def check(ls: TexpasteServer) -> None:
        if not ls.initialized:
            raise JsonRpcServerNotInitialized("texpaste has not been initialized: send initialize first.")

    def translate(ls: TexpasteServer, exc: Exception) -> JsonRpcException:
        if isinstance(exc, TexpasteError):
            return ls.fail(exc)
        log.error("%s failed unexpectedly", handler.__name__, exc_info=exc)
        return JsonRpcInternalError(INTERNAL_ERROR, data={"kind": "internal"})

    if asyncio.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def run_async(ls: TexpasteServer, *args: Any) -> Any:
            check(ls)
            try:
                return await handler(ls, *args)
            except JsonRpcException:
                raise
            except Exception as exc:
                raise translate(ls, exc) from None

        return run_async

    @functools.wraps(handler)
    def run(ls: TexpasteServer, *args: Any) -> Any:
        check(ls)
        try:
            return handler(ls, *args)
        except JsonRpcException:
            raise
        except Exception as exc:
            raise translate(ls, exc) from None

    return run


def build_server(backend: Backend, defaults: Settings | None = None) -> TexpasteServer:
    server = TexpasteServer(backend)
    server.settings = defaults or Settings()
    base = server.settings

    @server.feature(types.INITIALIZE)
    def initialize(ls: TexpasteServer, params: types.InitializeParams) -> None:
        ls.initialized = True
        try:
            ls.settings = Settings.from_dict(_plain(params.initialization_options), base=base)
        except ValueError as exc:
            ls.window_show_message(types.ShowMessageParams(types.MessageType.Error,
                                                           f"texpaste: invalid initializationOptions, using defaults: {exc}"))  # fmt: skip

    @server.feature(types.INITIALIZED)
    def initialized(ls: TexpasteServer, params: types.InitializedParams) -> None:
        if isinstance(ls.backend, DaemonBackend):
            ls.backend.client.daemon_args = _daemon_args(ls.settings, ls.backend.client.daemon_args)
        ls.backend.start()

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TexpasteServer, params: types.DidChangeTextDocumentParams) -> None:
        for change in params.content_changes:
            ls.changes.add(params.text_document.uri, change)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: TexpasteServer, params: types.DidChangeConfigurationParams) -> None:
        settings = _plain(params.settings)
        if isinstance(settings, dict) and isinstance(settings.get("texpaste"), dict):
            settings = settings["texpaste"]
        try:
            ls.settings = Settings.from_dict(settings, base=ls.settings)
        except ValueError as exc:
            ls.window_show_message(types.ShowMessageParams(types.MessageType.Error,
                                                           f"texpaste: invalid settings, keeping the previous ones: {exc}"))  # fmt: skip

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.RefactorRewrite], resolve_provider=False),
    )
    @guarded
    def code_action(ls: TexpasteServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        # Listing actions must stay instant: never recognise here (VS Code asks on every cursor move).
        ctx = params.context
        if ctx.trigger_kind == types.CodeActionTriggerKind.Automatic:
            return []
        if ctx.only and not any(types.CodeActionKind.RefactorRewrite.value.startswith(k) for k in ctx.only):
            return []
        uri = params.text_document.uri
        language = _language_of(uri, ls.workspace.text_documents.get(uri))
        if language_family(language) == "other":
            return []
        args: dict[str, Any] = {"uri": uri, "position": _pos_dict(params.range.start), "languageId": language}
        if params.range.start != params.range.end:
            args["range"] = {"start": _pos_dict(params.range.start), "end": _pos_dict(params.range.end)}
        command = types.Command(title=CODE_ACTION_TITLE, command=INSERT_FROM_CLIPBOARD, arguments=[args])
        return [types.CodeAction(title=CODE_ACTION_TITLE, kind=types.CodeActionKind.RefactorRewrite, command=command)]

    @server.command(INSERT)
    @guarded
    async def insert_formula(ls: TexpasteServer, *args: Any) -> dict[str, Any]:
        return await _insert(ls, args, INSERT)

    @server.command(INSERT_FROM_CLIPBOARD)
    @guarded
    async def insert_formula_from_clipboard(ls: TexpasteServer, *args: Any) -> dict[str, Any]:
        return await _insert(ls, args, INSERT_FROM_CLIPBOARD)

    @server.feature(RECOGNIZE)
    @guarded
    async def recognize(ls: TexpasteServer, params: Any) -> dict[str, Any]:
        a = _plain(params)
        if not isinstance(a, dict):
            raise RequestError(f"{RECOGNIZE} takes an object {{imageBase64 | imagePath, ...}}.")
        mode = _mode(a, ls.settings.mode)
        candidates = a.get("candidates")
        if candidates is not None:
            check_decode_options(candidates=candidates)
        uri = _optional_str(a, "uri")
        position = _position(a["position"]) if uri and a.get("position") is not None else None
        result = await ls.recognize({**image_source(a), "candidates": candidates})
        doc = _open_document(ls, uri) if uri else None
        context = _Context(doc, position, position) if position is not None else None
        language = _optional_str(a, "languageId") or (_language_of(uri, doc) if uri else "plaintext")
        text, cands = _wrapped(ls, result, language, mode, context)
        return {"latex": result["latex"], "text": text, "candidates": cands, "model": result.get("model"),
                "timings": result.get("timings", {})}  # fmt: skip

    @server.feature(STATUS)
    @guarded
    async def status(ls: TexpasteServer, params: Any = None) -> dict[str, Any]:
        choice = choose(ls.settings.model)
        status = await ls.backend.status(choice.model, ls.settings.device)
        if choice.notice and status.get("state") == "ready":
            status["notice"] = choice.notice
        return {**status, "engine": ls.backend.name, "version": __version__}

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: TexpasteServer, params: Any = None) -> None:
        ls.backend.close()

    return server


def _daemon_args(settings: Settings, base: list[str]) -> list[str]:
    """The daemon's command line: the serve flags, with the client's model/device preferred."""
    args = list(base)
    for flag, value in (("--model", choose(settings.model).model), ("--device", settings.device)):
        if value and flag not in args:
            args += [flag, value]
    return args


def _quiet_expected_errors(record: logging.LogRecord) -> bool:
    """Drop pygls' tracebacks for the errors we raise on purpose (they are logged once, in fail())."""
    exc = record.exc_info[1] if record.exc_info else None
    return not (isinstance(exc, JsonRpcException) and isinstance(exc.data, dict) and "kind" in exc.data)


def claim_stdio() -> tuple[BinaryIO, BinaryIO]:
    """The JSON-RPC channel as private file descriptors, with fds 0 and 1 pointed elsewhere.

    Anything else that writes to fd 1 (a stray print, a C library, a child process such as an
    image decoder's helper) would otherwise write into the editor's protocol stream, and could
    inject messages; a child reading fd 0 could swallow the editor's. After this, fd 1 is
    stderr and fd 0 is /dev/null for everyone but the server."""
    sys.stdout.flush()
    rpc_in = os.fdopen(os.dup(0), "rb")
    rpc_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr  # a stray print must never corrupt the JSON-RPC stream
    return rpc_in, rpc_out


MAX_HEADER_LINE = 4096  # bytes of one LSP header line


class _FramedInput:
    """The editor's stream as pygls reads it, with its framing bounded: a header line is cut at 4 KiB,
    and a ``Content-Length`` above the largest message we accept (a frame with a base64 screenshot)
    is dropped with a log line instead of pygls trying to allocate it (a terabyte length killed the
    server); reading resumes at the next valid header."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw

    def readline(self) -> bytes:
        line = self.raw.readline(MAX_HEADER_LINE)
        match = re.fullmatch(rb"Content-Length: *(\d+)\r?\n", line, re.IGNORECASE)
        if match and int(match[1]) > wire.MAX_LINE:
            log.error("ignored a message of %s bytes: the limit is %d", match[1][:40].decode(), wire.MAX_LINE)
            return b"X-Texpaste-Refused: too large\r\n"
        return line

    def read(self, n: int) -> bytes:
        return self.raw.read(n)


def run_server(args: argparse.Namespace) -> int:
    """Serve LSP on stdio until the editor exits."""
    rpc_in, rpc_out = claim_stdio()
    handler: logging.Handler = logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s texpaste serve %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    logging.getLogger("pygls").setLevel(logging.WARNING)
    handler.addFilter(_quiet_expected_errors)
    if args.engine == "in-process":
        backend: Backend = InProcessBackend(args.model, args.device, args.threads)
    else:
        daemon_args = ["--idle-timeout", str(args.idle_timeout)]
        for flag, value in (("--device", args.device), ("--threads", args.threads)):
            if value:
                daemon_args += [flag, str(value)]
        backend = DaemonBackend(DaemonClient(daemon_args))
    server = build_server(backend, Settings(model=args.model, device=args.device))
    server.start_io(_FramedInput(rpc_in), rpc_out)  # type: ignore[arg-type]
    return 0
