"""``texpaste serve``: the language server editors start on stdio (docs/protocol.md).

A thin front: it validates arguments, reads the clipboard when asked, forwards recognition to a
backend (the shared daemon by default, :mod:`texpaste.service.backend`), wraps the LaTeX for the document
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
from collections.abc import Callable
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

from texpaste import __version__
from texpaste.editor import alternatives, conversion, offer
from texpaste.editor.edits import (
    ChangeLog,
    DocumentContext,
    end_after_insert,
    follow_edits,
    language_of,
    workspace_edit,
)
from texpaste.editor.pastes import PasteLog
from texpaste.editor.progress import Progress
from texpaste.editor.protocol import (
    ACCEPT_FORMULA,
    CANDIDATE_KIND,
    CODE_ACTION_TITLE,
    CONVERT_IMAGES,
    DECLINE_OFFER,
    DOWNLOAD_MODEL,
    INSERT,
    INSERT_FROM_CLIPBOARD,
    INSERT_FROM_SCREENSHOT,
    RECOGNIZE,
    REPLACE_IMAGE,
    REPLACE_WITH_CANDIDATE,
    REQUEST_FAILED,
    STATUS,
    command_arguments,
    optional_str,
    parse_mode,
    parse_position,
    parse_range,
    plain_json,
    position_json,
)
from texpaste.editor.settings import Settings
from texpaste.editor.wrapping import language_family, wrap, wrap_for_insert
from texpaste.engine.store import choose
from texpaste.errors import Cancelled, EditConflict, RequestError, TexpasteError
from texpaste.limits import check_decode_options
from texpaste.service import wire
from texpaste.service.backend import Backend, DaemonBackend, InProcessBackend
from texpaste.service.client import DaemonClient
from texpaste.service.wire import absolute_image_source, image_source

log = logging.getLogger(__name__)


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
                msg_id = (
                    data["id"]
                    if isinstance(data["id"], (int, str)) and not isinstance(data["id"], bool)
                    else None
                )
                method = str(data["method"])[:80]
                self._send_response(
                    msg_id,
                    error=JsonRpcInvalidParams(f"Malformed parameters for {method}.").to_response_error(),
                )
            return JsonRPCNotification(
                method="$/texpaste/ignored", jsonrpc="2.0", params=None
            )  # dropped quietly

    def _handle_request(self, msg_id: Any, method_name: str, params: Any) -> None:
        server = self._server
        if method_name == types.WORKSPACE_EXECUTE_COMMAND and params.command not in self.fm.commands:
            known = " and ".join(sorted(self.fm.commands))
            self._send_response(
                msg_id,
                error=JsonRpcInvalidParams(
                    f"Unknown command {params.command[:80]!r}: texpaste offers {known}."
                ).to_response_error(),
            )
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
        self.pastes = PasteLog()  # what this server pasted, for "Replace with candidate N"
        self.published: dict[str, list[tuple[int, int, int, int]]] = {}  # doubt diagnostics sent per uri
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

    def request_for(self, params: dict[str, Any]) -> dict[str, Any]:
        """A recognition request with every choice explicit: the daemon never picks for us."""
        return {
            **params,
            **(absolute_image_source(params) if "imagePath" in params else {}),
            "model": choose(self.settings.model).model,
            "device": self.settings.device,
            "candidates": params.get("candidates") or self.settings.candidates,
        }

    async def recognize_files(self, paths: list[Any], title: str) -> list[dict[str, Any] | TexpasteError]:
        """Recognise several image files under one cancellable progress with a percentage; the
        daemon batches them. Each result is the recognition or the error for that file."""
        progress = Progress(self)
        await progress.begin(title)
        done = 0
        slots = asyncio.Semaphore(8)  # within the daemon's per-connection limit; it batches these

        async def one(path: Any) -> dict[str, Any] | TexpasteError:
            nonlocal done
            async with slots:
                try:
                    return await self.backend.recognize(
                        self.request_for({"imagePath": str(path)}), lambda *a: None
                    )
                except TexpasteError as exc:
                    return exc
                finally:
                    done += 1
                    progress.report(f"{done} of {len(paths)} images", 100 * done / len(paths))

        task = asyncio.ensure_future(asyncio.gather(*(one(p) for p in paths)))
        return await self.run_job(task, progress, "The conversion was cancelled; nothing was changed.")

    async def recognize(self, params: dict[str, Any], title: str = "texpaste") -> dict[str, Any]:
        """Run one recognition through the backend with ``$/progress``; cancellable both ways."""
        request = self.request_for(params)
        progress = Progress(self)
        await progress.begin(title)
        task = asyncio.ensure_future(self.backend.recognize(request, progress.report))
        return await self.run_job(task, progress, "Recognition was cancelled.")

    async def run_job(self, task: asyncio.Future, progress: Progress, cancelled: str) -> Any:
        """Await ``task`` under ``progress``, registered for ``$/cancelRequest`` of the current
        request; a cancel from either side ends it with ``Cancelled(cancelled)``."""
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
            raise Cancelled(cancelled) from None
        finally:
            if msg_id is not None and self.jobs.get(msg_id) is task:
                del self.jobs[msg_id]
            progress.end()


# -- argument checking ------------------------------------------------------------------------------
# -- the server ------------------------------------------------------------------------------------


def _open_document(server: TexpasteServer, uri: str) -> TextDocument | None:
    """The document if the editor has opened it, else None. Never ``get_text_document``: for a
    document that is not open it reads the file from disk on the event loop (a FIFO would wedge the
    server, ``/dev/zero`` fill its memory); a paste into it simply gets no surrounding context."""
    return server.workspace.text_documents.get(uri)


def _record_paste(
    server: TexpasteServer,
    uri: str,
    doc: TextDocument | None,
    start: types.Position,
    end: types.Position,
    result: dict[str, Any],
    text: str,
    candidates: list[dict[str, Any]],
) -> None:
    """Remember a formula now in the document, for its candidates and its doubt mark."""
    server.pastes.record(
        uri,
        start,
        end,
        *alternatives.with_current(candidates, result, text),
        doc=doc,
        doubtful=bool(result.get("doubtful")),
    )
    alternatives.publish_doubts(server, uri)


def _wrapped(
    server: TexpasteServer, result: dict[str, Any], language: str, mode: str, context: DocumentContext | None
) -> tuple[str, list[dict[str, Any]]]:
    """The text for the best candidate and every candidate wrapped for the same spot."""

    def one(latex: str) -> str:
        if context is None:
            return wrap(latex, mode, language, options=server.settings.wrap)
        return wrap_for_insert(
            latex,
            language_id=language,
            mode=mode,
            text_before=context.before,
            text_after=context.after,
            options=server.settings.wrap,
        )

    candidates = [
        {"latex": c["latex"], "score": c["score"], "text": one(c["latex"])} for c in result["candidates"]
    ]
    return one(result["latex"]), candidates


async def _insert(server: TexpasteServer, args: tuple[Any, ...], command: str) -> dict[str, Any]:
    msg_id = server.protocol.msg_id
    arrived = server.arrivals.get(msg_id, server.changes.seq)
    try:
        a = command_arguments(args, command)
        uri = optional_str(a, "uri")
        if not uri:
            raise RequestError(f"{command} needs the document's uri.")
        position = parse_position(a.get("position"))
        target = parse_range(a["range"]) if a.get("range") is not None else types.Range(position, position)
        mode = parse_mode(a, server.settings.mode)
        language = optional_str(a, "languageId")
        if command == INSERT_FROM_CLIPBOARD:
            image = await _clipboard_image()
        elif command == INSERT_FROM_SCREENSHOT:
            image = await _screenshot_image(server.settings.screenshot_command)
        else:
            image = image_source(a)
        result = await server.recognize(image)
        doc = _open_document(server, uri)
        language = language or language_of(uri, doc)
        try:
            # the user may have typed meanwhile: move the target through those edits, then read the text
            changes = server.changes.since(arrived, uri)
            if changes is None:
                raise EditConflict("The document changed too much while recognising, so nothing was changed")
            target = follow_edits(target, changes, server.workspace.position_codec)
            text, candidates = _wrapped(
                server, result, language, mode, DocumentContext(doc, target.start, target.end)
            )
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
        end = end_after_insert(target.start, text, codec)
        _record_paste(server, uri, doc, target.start, end, result, text, candidates)
        return {
            "latex": result["latex"],
            "text": text,
            "applied": True,
            "candidates": candidates,
            "range": {"start": position_json(target.start), "end": position_json(end)},
            "model": result.get("model"),
            "timings": result.get("timings", {}),
        }
    finally:
        server.arrivals.pop(msg_id, None)
        server.cancelled.discard(msg_id)


def _edit(
    server: TexpasteServer, uri: str, doc: TextDocument | None, target: types.Range, text: str
) -> types.WorkspaceEdit:
    """The paste as a versioned ``TextDocumentEdit`` (:func:`~texpaste.editor.edits.workspace_edit`)."""
    return workspace_edit(server, uri, doc, [types.TextEdit(range=target, new_text=text)])


async def _clipboard_image() -> dict[str, Any]:
    import base64

    from texpaste.editor.clipboard import read_image_bytes

    data = await asyncio.to_thread(read_image_bytes)
    return {"imageBase64": base64.b64encode(data).decode("ascii")}


async def _screenshot_image(command: list[str] | None) -> dict[str, Any]:
    import base64

    from texpaste.editor.screenshot import capture

    data = await capture(command)
    return {"imageBase64": base64.b64encode(data).decode("ascii")}


INTERNAL_ERROR = "texpaste failed unexpectedly; the details are in its log."


def _within(kind: str, requested: str) -> bool:
    """Whether an action of ``kind`` is asked for by ``requested`` (kinds nest by dots)."""
    return kind == requested or kind.startswith(requested + ".")


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


def _command_handler(name: str, run: Callable[[TexpasteServer, tuple[Any, ...]], Any]) -> Callable[..., Any]:
    """A pygls command handler (``ls, *args``) for ``run(ls, args)``, async when ``run`` is."""
    target = run.func if isinstance(run, functools.partial) else run
    if asyncio.iscoroutinefunction(target):

        async def handler(ls: TexpasteServer, *args: Any) -> Any:
            return await run(ls, args)
    else:

        def handler(ls: TexpasteServer, *args: Any) -> Any:
            return run(ls, args)

    handler.__name__ = name.replace(".", "_")
    return handler


def build_server(backend: Backend, defaults: Settings | None = None) -> TexpasteServer:
    server = TexpasteServer(backend)
    server.settings = defaults or Settings()
    base = server.settings

    @server.feature(types.INITIALIZE)
    def initialize(ls: TexpasteServer, params: types.InitializeParams) -> None:
        ls.initialized = True
        try:
            ls.settings = Settings.from_dict(plain_json(params.initialization_options), base=base)
        except ValueError as exc:
            ls.window_show_message(
                types.ShowMessageParams(
                    types.MessageType.Error, f"texpaste: invalid initializationOptions, using defaults: {exc}"
                )
            )

    @server.feature(types.INITIALIZED)
    def initialized(ls: TexpasteServer, params: types.InitializedParams) -> None:
        if isinstance(ls.backend, DaemonBackend):
            ls.backend.client.daemon_args = _daemon_args(ls.settings, ls.backend.client.daemon_args)
        ls.backend.start()

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TexpasteServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        for change in params.content_changes:
            ls.changes.add(uri, change)
        doc = _open_document(ls, uri)
        codec = doc.position_codec if doc is not None else ls.workspace.position_codec
        ls.pastes.changed(uri, list(params.content_changes), doc, codec)
        alternatives.publish_doubts(ls, uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TexpasteServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.pastes.closed(params.text_document.uri)
        alternatives.publish_doubts(ls, params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: TexpasteServer, params: types.DidChangeConfigurationParams) -> None:
        settings = plain_json(params.settings)
        if isinstance(settings, dict) and isinstance(settings.get("texpaste"), dict):
            settings = settings["texpaste"]
        try:
            ls.settings = Settings.from_dict(settings, base=ls.settings)
        except ValueError as exc:
            ls.window_show_message(
                types.ShowMessageParams(
                    types.MessageType.Error, f"texpaste: invalid settings, keeping the previous ones: {exc}"
                )
            )

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.RefactorRewrite], resolve_provider=False
        ),
    )
    @guarded
    def code_action(ls: TexpasteServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        # Listing actions must stay instant: never recognise here (VS Code asks on every cursor move).
        ctx = params.context
        uri = params.text_document.uri
        doc = _open_document(ls, uri)
        only = [str(getattr(k, "value", k)) for k in ctx.only or []]
        actions: list[types.CodeAction] = []
        if not only or any(_within(CANDIDATE_KIND, k) for k in only):
            picker = CANDIDATE_KIND in only  # a client's picker: the last paste when none is here
            pastes = ls.pastes.at(uri, params.range, doc)
            last = ls.pastes.last(uri, doc) if picker and not pastes else None
            caps = ls.client_capabilities.text_document
            greys = bool(caps and caps.code_action and caps.code_action.disabled_support)
            for paste in pastes[:1] or ([last] if last else []):
                actions += alternatives.code_actions(ls, paste, show_current=picker or greys)
        rewrite = not only or any(_within(types.CodeActionKind.RefactorRewrite.value, k) for k in only)
        invoked = ctx.trigger_kind != types.CodeActionTriggerKind.Automatic
        if rewrite and doc is not None:
            actions += conversion.code_actions(ls, doc, params.range, invoked)
        if not invoked or not rewrite:
            return actions
        language = language_of(uri, doc)
        if language_family(language) == "other":
            return actions
        args: dict[str, Any] = {
            "uri": uri,
            "position": position_json(params.range.start),
            "languageId": language,
        }
        if params.range.start != params.range.end:
            args["range"] = {
                "start": position_json(params.range.start),
                "end": position_json(params.range.end),
            }
        command = types.Command(title=CODE_ACTION_TITLE, command=INSERT_FROM_CLIPBOARD, arguments=[args])
        return [
            *actions,
            types.CodeAction(
                title=CODE_ACTION_TITLE, kind=types.CodeActionKind.RefactorRewrite, command=command
            ),
        ]

    # workspace/executeCommand: each command's one argument object goes to the function that owns it
    commands: dict[str, Callable[[TexpasteServer, tuple[Any, ...]], Any]] = {
        INSERT: functools.partial(_insert, command=INSERT),
        INSERT_FROM_CLIPBOARD: functools.partial(_insert, command=INSERT_FROM_CLIPBOARD),
        INSERT_FROM_SCREENSHOT: functools.partial(_insert, command=INSERT_FROM_SCREENSHOT),
        REPLACE_WITH_CANDIDATE: alternatives.replace,
        ACCEPT_FORMULA: alternatives.accept,
        DOWNLOAD_MODEL: offer.download,
        DECLINE_OFFER: offer.decline,
        REPLACE_IMAGE: conversion.replace_image,
        CONVERT_IMAGES: conversion.convert_all,
    }
    for name, run in commands.items():
        server.command(name)(guarded(_command_handler(name, run)))

    @server.feature(RECOGNIZE)
    @guarded
    async def recognize(ls: TexpasteServer, params: Any) -> dict[str, Any]:
        a = plain_json(params)
        if not isinstance(a, dict):
            raise RequestError(f"{RECOGNIZE} takes an object {{imageBase64 | imagePath, ...}}.")
        mode = parse_mode(a, ls.settings.mode)
        candidates = a.get("candidates")
        if candidates is not None:
            check_decode_options(candidates=candidates)
        uri = optional_str(a, "uri")
        position = parse_position(a["position"]) if uri and a.get("position") is not None else None
        result = await ls.recognize({**image_source(a), "candidates": candidates})
        doc = _open_document(ls, uri) if uri else None
        context = DocumentContext(doc, position, position) if position is not None else None
        language = optional_str(a, "languageId") or (language_of(uri, doc) if uri else "plaintext")
        text, cands = _wrapped(ls, result, language, mode, context)
        if position is not None and doc is not None:  # the editor inserts it (VS Code's paste edit)
            end = end_after_insert(position, text, doc.position_codec)
            _record_paste(ls, uri, doc, position, end, result, text, cands)
        return {
            "latex": result["latex"],
            "text": text,
            "candidates": cands,
            "model": result.get("model"),
            "timings": result.get("timings", {}),
        }

    @server.feature(STATUS)
    @guarded
    async def status(ls: TexpasteServer, params: Any = None) -> dict[str, Any]:
        choice = choose(ls.settings.model)
        status = await ls.backend.status(choice.model, ls.settings.device)
        if choice.notice and status.get("state") == "ready":
            status["notice"] = choice.notice
        from texpaste.editor.tools import report

        tools = await asyncio.to_thread(report, ls.settings.screenshot_command)
        offered = offer.current_offer(ls)
        return {
            **status,
            "engine": ls.backend.name,
            "version": __version__,
            "tools": tools,
            **({"offer": offered} if offered else {}),
        }

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
    handler: logging.Handler = (
        logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    )
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
