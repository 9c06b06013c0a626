"""End to end over stdio: the real ``texpaste serve`` (and its daemon) with a tiny random model.

The engine called in this process is the oracle for what the server must insert; the wrapping
functions are the oracle for the delimiters (their own table-driven tests are in test_wrapping.py).
"""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
from lsprotocol import types
from PIL import Image
from pygls.exceptions import JsonRpcException

from texpaste.editor.wrapping import wrap, wrap_for_insert
from texpaste.engine.postprocess import strip_delimiters

from .editor import DATA, b64, start_editor, stop_editor, units

CANDIDATES = 5  # the server's default


@pytest.fixture(scope="module")
def expected(tiny_recognizer):
    """What the engine itself recognises in formula.png with the server's default beam."""
    return tiny_recognizer.recognize(DATA / "formula.png", candidates=CANDIDATES)


@pytest.fixture
async def editor(tiny_model_dir):
    ed = await start_editor("--model", str(tiny_model_dir))
    yield ed
    await stop_editor(ed)


@pytest.fixture
async def vscode(tiny_model_dir):
    ed = await start_editor("--model", str(tiny_model_dir), preset="visual_studio_code")
    yield ed
    await stop_editor(ed)


def blank_png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (200, 60), "white").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


async def test_capabilities_are_only_commands_code_actions_and_sync(editor):
    caps = editor.init_result.capabilities
    assert set(caps.execute_command_provider.commands) == {
        "texpaste.insertFormula",
        "texpaste.insertFormulaFromClipboard",
        "texpaste.insertFormulaFromScreenshot",
        "texpaste.replaceWithCandidate",
        "texpaste.acceptFormula",
        "texpaste.replaceImageWithLatex",
        "texpaste.convertAllImages",
        "texpaste.downloadModel",
        "texpaste.declineModelOffer",
    }
    assert list(caps.code_action_provider.code_action_kinds) == ["refactor.rewrite"]
    assert caps.text_document_sync is not None
    for other in (
        "completion_provider",
        "hover_provider",
        "diagnostic_provider",
        "definition_provider",
        "document_formatting_provider",
        "semantic_tokens_provider",
    ):
        assert getattr(caps, other) is None, other
    assert editor.init_result.server_info.name == "texpaste"


@pytest.mark.parametrize(
    ("language", "line", "column", "mode", "start", "end"),
    [
        ("markdown", "Let  be given.", 4, "inline", "$", "$"),
        ("markdown", "", 0, "display", "$$\n", "\n$$"),
        ("markdown", "", 0, "raw", "", ""),
        ("tex", "where  holds", 6, "inline", "\\(", "\\)"),
        ("plaintex", "", 0, "display", "\\[\n", "\n\\]"),
        ("python", "x = ''", 5, "auto", "", ""),
    ],
)
async def test_insert_formula_wraps_for_language_and_mode(
    editor, expected, language, line, column, mode, start, end
):
    uri = editor.open(f"doc.{language}", line + "\nnext line\n", language)
    result = await editor.insert(uri, 0, column, mode=mode)
    want = wrap_for_insert(expected.latex, language_id=language, mode=mode, line_text=line, character=column)
    assert result.latex == expected.latex
    assert result.text == want and result.applied is True
    body = want.strip("\n")
    assert body.startswith(start.strip("\n")) and body.endswith(end.strip("\n"))
    assert editor.docs[uri] == line[:column] + want + line[column:] + "\nnext line\n"
    assert editor.range_text(uri, _range(result)) == want
    assert [c.latex for c in result.candidates] == [c.latex for c in expected.candidates]
    assert result.candidates[0].text == want


def _range(result) -> dict:
    r = result.range
    return {"start": vars(r.start), "end": vars(r.end)}


async def test_auto_mode_is_display_on_a_blank_line_and_bare_inside_math(editor, expected):
    uri = editor.open("auto.md", "intro\n\nafter\n", "markdown")
    on_blank = await editor.insert(uri, 1, 0)
    assert on_blank.text == wrap_for_insert(expected.latex, language_id="markdown", mode="auto", line_text="")
    uri = editor.open("math.md", "intro\n$$\n\n$$\n", "markdown")
    inside = await editor.insert(uri, 2, 0)
    assert inside.text == strip_delimiters(expected.latex)  # already inside $$ … $$: no new delimiters


async def test_multibyte_lines_in_utf8_and_utf16(editor, vscode, expected):
    line = "αβ 😀 end"
    col_cp = line.index(" end")
    for ed in (editor, vscode):
        uri = ed.open("mb.md", line + "\n", "markdown")
        column = units(line[:col_cp], ed.encoding)
        result = await ed.insert(uri, 0, column, mode="inline")
        assert ed.docs[uri] == line[:col_cp] + result.text + line[col_cp:] + "\n"
        assert result.range.end.character == column + units(result.text, ed.encoding)
        assert ed.range_text(uri, _range(result)) == result.text
    assert editor.encoding == "utf-8" and vscode.encoding == "utf-16"


async def test_range_is_replaced(editor):
    uri = editor.open("r.tex", "a OLD b\n", "tex")
    result = await editor.insert(
        uri,
        0,
        2,
        mode="inline",
        range={"start": {"line": 0, "character": 2}, "end": {"line": 0, "character": 5}},
    )
    assert editor.docs[uri] == "a " + result.text + " b\n"
    assert result.text.startswith("\\(")


async def test_a_document_the_editor_never_opened_is_not_read_from_disk(editor, tmp_path):
    import os

    fifo = tmp_path / "notes.md"  # reading it would block the server's event loop until a writer came
    os.mkfifo(fifo)
    uri = fifo.as_uri()
    editor.docs[uri] = ""  # the editor has it (it applies the edit), the server was never sent didOpen
    try:
        result = await asyncio.wait_for(editor.insert(uri, 0, 0, mode="inline"), 120)
        assert editor.docs[uri] == result.text and result.text.startswith("$")
    finally:
        try:  # release a server stuck opening the FIFO, so the fixture can stop it
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


async def test_text_typed_meanwhile_is_kept(editor):
    uri = editor.open("typing.md", "first\nsecond\n", "markdown")
    job = asyncio.ensure_future(editor.insert(uri, 0, 5, mode="inline"))
    editor.type(uri, 1, 6, " typed")
    result = await job
    assert editor.docs[uri] == "first" + result.text + "\nsecond typed\n"


async def test_edits_made_while_recognising_move_the_formula(editor):
    uri = editor.open("moving.md", "The  here.\n", "markdown")
    job = asyncio.ensure_future(editor.insert(uri, 0, 4, mode="inline"))
    await asyncio.sleep(0)  # the command is on its way; now the user keeps typing
    editor.type(uri, 0, 0, "a line added above\n")
    editor.type(uri, 1, 0, "→ ")
    result = await job
    assert editor.docs[uri] == "a line added above\n→ The " + result.text + " here.\n"
    assert result.range.start.line == 1 and editor.range_text(uri, _range(result)) == result.text


async def test_editing_the_text_to_replace_cancels_the_paste(editor):
    uri = editor.open("conflict.md", "The PLACEHOLDER here.\n", "markdown")
    job = asyncio.ensure_future(
        editor.insert(
            uri,
            0,
            4,
            mode="inline",
            range={"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 15}},
        )
    )
    await asyncio.sleep(0)
    editor.type(uri, 0, 8, "EDIT")
    with pytest.raises(JsonRpcException) as info:
        await job
    assert info.value.data["kind"] == "conflict"
    assert editor.docs[uri] == "The PLACEDITEHOLDER here.\n" and editor.edits == []


async def test_progress_begin_reports_end(editor):
    uri = editor.open("p.md", "\n", "markdown")
    await editor.insert(uri, 0, 0)
    reports = list(editor.client.progress_reports.values())
    assert len(reports) == 1
    kinds = [r.kind for r in reports[0]]
    assert kinds[0] == "begin" and kinds[-1] == "end" and reports[0][0].cancellable is True
    assert any(getattr(r, "message", "") == "Recognising…" for r in reports[0])


async def test_recognize_request_edits_nothing(editor, expected):
    uri = editor.open("q.md", "x\n", "markdown")
    result = await editor.request(
        "texpaste/recognize",
        {"imageBase64": b64(DATA / "formula.png"), "languageId": "tex", "mode": "inline"},
    )
    assert result.latex == expected.latex and result.text.startswith("\\(")
    assert result.candidates[0].score == pytest.approx(expected.candidates[0].score, abs=1e-3)
    assert "total" in vars(result.timings)
    by_path = await editor.request(
        "texpaste/recognize", {"imagePath": str(DATA / "formula.png"), "candidates": 1}
    )
    assert by_path.latex == expected.latex or len(expected.candidates) > 1
    assert editor.edits == [] and editor.docs[uri] == "x\n"


async def test_status_reports_model_device_and_daemon(editor):
    uri = editor.open("s.md", "\n", "markdown")
    await editor.insert(uri, 0, 0)
    status = await editor.request("texpaste/status")
    assert status.state == "ready" and status.device == "cpu" and status.engine == "daemon"
    assert status.daemon.pid > 0 and status.daemon.loads >= 1 and status.daemon.clients >= 1


@pytest.mark.parametrize(
    ("args", "code", "kind", "words"),
    [
        ({"imageBase64": "aGVsbG8gd29ybGQ="}, -32803, "bad-image", "not an image"),
        ({"imageBase64": "@@@not base64@@@"}, -32803, "bad-image", "not valid base64"),
        ({"imagePath": "/no/such/file.png", "imageBase64": None}, -32803, "bad-image", "does not exist"),
        ({"imageBase64": None}, -32602, "invalid-params", "exactly one of imageBase64 and imagePath"),
        ({"blank": True}, -32803, "no-formula", "formula"),
        ({"uri": None}, -32602, "invalid-params", "uri"),
        ({"position": {"line": -1, "character": 0}}, -32602, "invalid-params", "position"),
        ({"mode": "sideways"}, -32602, "invalid-params", "mode must be one of"),
    ],
)
async def test_errors_are_one_sentence_and_leave_the_document_alone(editor, args, code, kind, words):
    uri = editor.open("err.md", "keep me\n", "markdown")
    base = {"uri": uri, "position": {"line": 0, "character": 4}, "imageBase64": b64(DATA / "formula.png")}
    if args.pop("blank", False):
        args["imageBase64"] = blank_png()
    base.update(args)
    base = {k: v for k, v in base.items() if v is not None}
    with pytest.raises(JsonRpcException) as info:
        await editor.command("texpaste.insertFormula", **base)
    assert info.value.code == code and info.value.data["kind"] == kind
    assert words in info.value.message and info.value.message.count(". ") == 0
    assert editor.edits == [] and editor.docs[uri] == "keep me\n"
    await asyncio.sleep(0.1)
    assert [m.message for m in editor.client.messages] == [f"texpaste: {info.value.message}"]
    # the server keeps working
    assert (await editor.insert(uri, 0, 0)).applied


async def test_no_arguments_is_invalid_params(editor):
    with pytest.raises(JsonRpcException) as info:
        await editor.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="texpaste.insertFormula")
        )
    assert info.value.code == -32602


async def test_rejected_edit_is_a_conflict_that_offers_the_formula(editor, expected):
    uri = editor.open("ro.md", "\n", "markdown")
    editor.apply_result = False
    with pytest.raises(JsonRpcException, match=r"did not apply the edit \(document is read-only\)") as info:
        await editor.insert(uri, 0, 0)
    offer = wrap(expected.latex, "auto", "markdown")  # no context: for wherever the user pastes it
    assert info.value.data == {"kind": "conflict", "text": offer}
    assert info.value.data["text"] in str(info.value.message) and editor.docs[uri] == "\n"


async def test_the_paste_is_a_versioned_edit_refused_when_the_document_moved_on(vscode):
    """The user types after the server computed the edit but before the editor applied it: the edit
    names the old version, so the editor refuses it instead of inserting at stale coordinates."""
    uri = vscode.open("versioned.md", "ab\n", "markdown")
    result = await vscode.insert(uri, 0, 1, mode="inline")
    [change] = vscode.edits[0].edit.document_changes
    assert change.text_document.version == 1 and vscode.edits[0].edit.changes is None
    assert vscode.docs[uri] == "a" + result.text + "b\n" and vscode.versions[uri] == 2
    vscode.before_apply = lambda: vscode.type(
        uri, 0, 0, "typed "
    )  # lands in the editor, not yet in the server
    with pytest.raises(JsonRpcException) as info:
        await vscode.insert(uri, 0, 1, mode="inline")
    assert info.value.data == {"kind": "conflict", "text": result.text}
    assert vscode.docs[uri] == "typed a" + result.text + "b\n"


async def test_an_editor_without_document_changes_gets_plain_changes(editor):
    uri = editor.open("plain.md", "ab\n", "markdown")
    result = await editor.insert(uri, 0, 1, mode="inline")
    assert editor.edits[0].edit.document_changes is None
    assert editor.edits[0].edit.changes == {
        uri: (
            types.TextEdit(
                range=types.Range(types.Position(0, 1), types.Position(0, 1)), new_text=result.text
            ),
        )
    }


async def test_a_whole_document_change_while_recognising_offers_the_formula(editor, vscode):
    for ed in (editor, vscode):
        uri = ed.open("formatted.md", "The  here.\n", "markdown")
        job = asyncio.ensure_future(ed.insert(uri, 0, 4, mode="inline"))
        await asyncio.sleep(0)
        ed.replace_all(uri, "Reformatted.\n")
        with pytest.raises(JsonRpcException, match="whole document was replaced") as info:
            await job
        assert info.value.data["kind"] == "conflict" and info.value.data["text"].startswith("$")
        assert ed.docs[uri] == "Reformatted.\n" and ed.edits == []


LATE_RESULT_SERVER = """
import asyncio
from texpaste.editor.server import build_server, claim_stdio

class LateResult:  # its result is already on the way when a cancel arrives: it is delivered anyway
    name = "daemon"

    def start(self):
        pass

    async def recognize(self, params, progress):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass
        return {"latex": "x", "candidates": [{"latex": "x", "score": 0.0}], "model": "late", "timings": {}}

    async def status(self, model, device):
        return {"state": "ready"}

    def close(self):
        pass

rpc_in, rpc_out = claim_stdio()
build_server(LateResult()).start_io(rpc_in, rpc_out)
"""


@pytest.mark.parametrize("how", ["progress", "cancelRequest"])
async def test_a_cancel_that_meets_a_finished_recognition_still_edits_nothing(how):
    """The cancel reaches the server just as the recognition's result does: the paste must not land."""
    from pytest_lsp import client_capabilities

    client = await _raw_client("-c", LATE_RESULT_SERVER)
    edits = []
    client.feature(types.WORKSPACE_APPLY_EDIT)(
        lambda params: edits.append(params) or types.ApplyWorkspaceEditResult(applied=True)
    )
    try:
        await asyncio.wait_for(
            client.initialize_session(
                types.InitializeParams(capabilities=client_capabilities("neovim@v0.11.0"))
            ),
            60,
        )
        uri = "file:///tmp/texpaste-test/late.md"
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "markdown", 1, "\n"))
        )
        params = types.ExecuteCommandParams(
            command="texpaste.insertFormula",
            arguments=[{"uri": uri, "position": {"line": 0, "character": 0}, "imageBase64": blank_png()}],
        )
        future = client.protocol.send_request("workspace/executeCommand", params, msg_id="late")
        while not client.progress_reports:
            await asyncio.sleep(0.01)
        if how == "progress":
            [token] = client.progress_reports
            client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        else:
            client.protocol.notify("$/cancelRequest", types.CancelParams(id="late"))
        with pytest.raises(JsonRpcException) as info:
            await asyncio.wait_for(asyncio.wrap_future(future), 30)
        assert info.value.code == -32800 and edits == []
    finally:
        await asyncio.wait_for(client.shutdown_session(), 30)
        await client.stop()


async def test_show_errors_false_keeps_errors_in_the_response_only(tiny_model_dir):
    ed = await start_editor("--model", str(tiny_model_dir), options={"showErrors": False})
    try:
        uri = ed.open("quiet.md", "\n", "markdown")
        with pytest.raises(JsonRpcException):
            await ed.command(
                "texpaste.insertFormula",
                uri=uri,
                position={"line": 0, "character": 0},
                imageBase64=blank_png(),
            )
        await asyncio.sleep(0.1)
        assert ed.client.messages == []
    finally:
        await stop_editor(ed)


async def test_unavailable_model_says_so(tmp_path):
    ed = await start_editor("--engine", "in-process", "--model", str(tmp_path / "missing-model"))
    try:
        uri = ed.open("m.md", "\n", "markdown")
        with pytest.raises(JsonRpcException) as info:
            await ed.insert(uri, 0, 0)
        assert info.value.data["kind"] == "model" and "missing-model" in info.value.message
        status = await ed.request("texpaste/status")
        assert status.state == "error" and "missing-model" in status.error
    finally:
        await stop_editor(ed)


async def test_settings_change_delimiters(tiny_model_dir, expected):
    ed = await start_editor(
        "--model",
        str(tiny_model_dir),
        "--engine",
        "in-process",
        options={"delimiters": {"markdown": {"inline": "paren"}}, "candidates": 2},
    )
    try:
        uri = ed.open("set.md", "a  b\n", "markdown")
        first = await ed.insert(uri, 0, 2, mode="inline")
        assert first.text.startswith("\\(") and len(first.candidates) <= 2
        ed.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"texpaste": {"delimiters": {"markdown": {"inline": "dollar"}}, "mode": "display"}}
            )
        )
        ed.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"texpaste": {"mode": "bogus"}})
        )  # rejected: the previous settings stay
        uri2 = ed.open("set2.md", "\n", "markdown")
        second = await ed.insert(uri2, 0, 0)
        assert second.text.startswith("$$")
        third = await ed.insert(uri2, 0, 0, mode="inline")
        assert third.text.startswith("$") and not third.text.startswith("$$")
        assert any("mode" in m.message for m in ed.client.messages)
    finally:
        await stop_editor(ed)


async def test_code_action_offers_clipboard_paste_without_recognising(editor):
    md = editor.open("ca.md", "text\n", "markdown")
    py = editor.open("ca.py", "x = 1\n", "python")

    async def actions(uri, trigger=types.CodeActionTriggerKind.Invoked, only=None, end=2):
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=types.Range(types.Position(0, 2), types.Position(0, end)),
            context=types.CodeActionContext(diagnostics=[], only=only, trigger_kind=trigger),
        )
        return await editor.client.text_document_code_action_async(params) or []

    [action] = await actions(md)
    assert action.title == "Paste formula from clipboard" and action.kind == "refactor.rewrite"
    assert action.command.command == "texpaste.insertFormulaFromClipboard"
    assert action.command.arguments[0] == {
        "uri": md,
        "position": {"line": 0, "character": 2},
        "languageId": "markdown",
    }
    [ranged] = await actions(md, end=4)
    assert ranged.command.arguments[0]["range"]["end"] == {"line": 0, "character": 4}
    assert await actions(py) == []
    assert await actions(md, trigger=types.CodeActionTriggerKind.Automatic) == []
    assert await actions(md, only=["quickfix"]) == []
    assert len(await actions(md, only=["refactor"])) == 1
    assert editor.client.progress_reports == {}  # nothing was recognised


async def test_clipboard_command_reads_the_real_x_clipboard(xvfb, tiny_model_dir, expected):
    import subprocess

    owner = subprocess.Popen(
        ["xclip", "-selection", "clipboard", "-t", "image/png", "-i", str(DATA / "formula.png")], env=xvfb
    )
    ed = await start_editor("--model", str(tiny_model_dir), env={"DISPLAY": xvfb["DISPLAY"]})
    try:
        await asyncio.sleep(0.3)
        uri = ed.open("clip.md", "see \n", "markdown")
        result = await ed.command(
            "texpaste.insertFormulaFromClipboard",
            uri=uri,
            position={"line": 0, "character": 4},
            mode="inline",
        )
        assert result.latex == expected.latex
        assert ed.docs[uri] == "see " + result.text + "\n"
    finally:
        owner.terminate()
        await stop_editor(ed)


async def test_empty_clipboard_is_a_clear_error(xvfb, tiny_model_dir):
    ed = await start_editor("--model", str(tiny_model_dir), env={"DISPLAY": xvfb["DISPLAY"]})
    try:
        uri = ed.open("noclip.md", "keep\n", "markdown")
        with pytest.raises(JsonRpcException) as info:
            await ed.command(
                "texpaste.insertFormulaFromClipboard", uri=uri, position={"line": 0, "character": 0}
            )
        assert info.value.data["kind"] == "clipboard" and ed.docs[uri] == "keep\n"
    finally:
        await stop_editor(ed)


async def test_screenshot_command_runs_the_configured_tool_and_pastes_its_image(tiny_model_dir, expected):
    import sys

    copy = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
    shot = [sys.executable, "-c", copy, str(DATA / "formula.png"), "%f"]
    ed = await start_editor("--model", str(tiny_model_dir), options={"screenshotCommand": shot})
    try:
        uri = ed.open("shot.md", "see \n", "markdown")
        where = {"line": 0, "character": 4}
        result = await ed.command(
            "texpaste.insertFormulaFromScreenshot", uri=uri, position=where, mode="inline"
        )
        assert result.latex == expected.latex
        assert ed.docs[uri] == "see " + result.text + "\n"
        before = ed.docs[uri]
        ed.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"texpaste": {"screenshotCommand": [sys.executable, "-c", "raise SystemExit(1)"]}}
            )
        )
        with pytest.raises(JsonRpcException) as info:  # the user pressed Esc
            await ed.command("texpaste.insertFormulaFromScreenshot", uri=uri, position=where)
        assert info.value.data["kind"] == "clipboard" and "cancelled" in info.value.message
        assert ed.docs[uri] == before
    finally:
        await stop_editor(ed)


OLD_DAEMON_SERVER = """
from texpaste.editor.server import build_server, claim_stdio

class OldDaemon:  # answers like a daemon of another version would: no candidates in the result
    name = "daemon"

    async def recognize(self, params, progress):
        return {"latex": "x"}

    async def status(self, model, device):
        return {}

    def close(self):
        pass

rpc_in, rpc_out = claim_stdio()
build_server(OldDaemon()).start_io(rpc_in, rpc_out)
"""


async def _raw_client(*args: str):
    import os
    import sys

    from pytest_lsp import make_test_lsp_client

    client = make_test_lsp_client()
    await client.start_io(sys.executable, *args, env={**os.environ, "TEXPASTE_THREADS": "1"})
    return client


async def test_an_unexpected_error_reaches_the_editor_as_one_sentence_without_a_traceback():
    from pytest_lsp import client_capabilities

    client = await _raw_client("-c", OLD_DAEMON_SERVER)
    try:
        await asyncio.wait_for(
            client.initialize_session(
                types.InitializeParams(capabilities=client_capabilities("neovim@v0.11.0"))
            ),
            60,
        )
        with pytest.raises(JsonRpcException) as info:
            await client.protocol.send_request_async("texpaste/recognize", {"imageBase64": blank_png()})
        error = info.value
        assert str(error.message) == "texpaste failed unexpectedly; the details are in its log."
        assert "Traceback" not in repr(error.data) and "KeyError" not in repr(error.data)
        assert error.data == {"kind": "internal"}
    finally:
        await asyncio.wait_for(client.shutdown_session(), 30)
        await client.stop()


def _frame(message: dict) -> bytes:
    import json

    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _read_frame(stream) -> dict:
    import json

    length = None
    while (line := stream.readline().strip()) != b"":
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(stream.read(length))


def test_requests_before_initialize_are_refused():
    import os
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "texpaste", "serve", "--engine", "in-process", "--model", "none"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TEXPASTE_THREADS": "1"},
    )
    try:
        requests = [
            ("texpaste/status", {}),
            ("texpaste/recognize", {"imageBase64": blank_png()}),
            ("workspace/executeCommand", {"command": "texpaste.insertFormula", "arguments": [{}]}),
        ]
        for i, (method, params) in enumerate(requests):
            proc.stdin.write(_frame({"jsonrpc": "2.0", "id": i, "method": method, "params": params}))
        proc.stdin.flush()
        answers = {m["id"]: m for m in (_read_frame(proc.stdout) for _ in requests)}
        for i in range(len(requests)):
            assert answers[i]["error"]["code"] == -32002, answers[i]
            assert "not been initialized" in answers[i]["error"]["message"]
    finally:
        proc.kill()
        proc.wait(30)
