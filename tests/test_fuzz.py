"""Seeded fuzzing at CI size: hostile images into the engine, frames into the daemon socket, requests
into the language server. Every case must end in a result or one clear sentence, never a crash, an
unexpected internal error or a hang. ``benchmarks/reliability.py`` runs the same generators at full
size (thousands of cases, concurrent clients, kill -9) and writes docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

import pytest

from texpaste.errors import TexpasteError

from . import fuzzcases
from .test_daemon import _alive, _run_daemon, daemon_status, fresh_runtime  # noqa: F401 (fixture)

SEED = 20261202


def one_sentence(message: str) -> bool:
    """A clear error: one line, one sentence, no Python internals (pygls' own JSON-RPC errors, such
    as "Method Not Found: x", carry no full stop, which is fine)."""
    return (
        "\n" not in message
        and not re.search(r"[.!?] [A-Z]", message.rstrip("."))
        and not re.search(r"Traceback|Error:|\bFile \"|object has no attribute|NoneType", message)
    )


class Hang(Exception):
    pass


def _alarm(_signum, _frame):
    raise Hang


def test_hostile_images_end_in_a_result_or_one_sentence(tiny_recognizer):
    old = signal.signal(signal.SIGALRM, _alarm)
    outcomes: dict[str, list[str]] = {"ok": [], "error": [], "unclear": [], "crash": [], "hang": []}
    try:
        for i, (name, data) in enumerate(fuzzcases.image_cases(SEED, 300)):
            signal.alarm(30)
            try:
                if i % 15 == 0:  # a sample all the way through the model
                    [result] = tiny_recognizer.recognize_many([data])
                    if isinstance(result, TexpasteError):
                        raise result
                else:
                    tiny_recognizer.preprocess(data)
                outcomes["ok"].append(name)
            except TexpasteError as exc:
                outcomes["error" if one_sentence(str(exc)) else "unclear"].append(f"{name}: {exc}")
            except Hang:
                outcomes["hang"].append(name)
            except Exception as exc:  # noqa: BLE001 (what the test is looking for)
                outcomes["crash"].append(f"{name}: {exc!r}")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, old)
    assert outcomes["crash"] == [] and outcomes["hang"] == [] and outcomes["unclear"] == [], outcomes
    assert len(outcomes["ok"]) >= 20 and len(outcomes["error"]) >= 100  # both kinds were exercised
    assert not any(n.startswith(("refused/", "bomb/")) for n in outcomes["ok"])


def test_hostile_frames_each_get_an_answer_and_the_daemon_keeps_serving(fresh_runtime, tiny_model_dir):  # noqa: F811
    path, env = fresh_runtime
    pid = _run_daemon(env, "--model", str(tiny_model_dir), "--idle-timeout", "0")
    image = fuzzcases.b64((fuzzcases.DATA / "formula.png").read_bytes())
    frames = list(fuzzcases.daemon_frames(SEED, 300, str(tiny_model_dir), image))
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(120)
    sock.connect(str(path / "daemon.sock"))
    reader = sock.makefile("rb")
    answers, internal = 0, []
    for name, frame in frames:  # one at a time: each must be answered before the next is sent
        sock.sendall(frame)
        while True:
            line = reader.readline()
            assert line, f"the daemon closed the connection after {name}: {frame[:200]!r}"
            message = json.loads(line)
            if message.get("method") == "progress":
                continue
            break
        answers += 1
        error = message.get("error")
        if error is not None and (error.get("kind") == "error" or not one_sentence(error.get("message", ""))):
            internal.append((name, frame[:200], error))
    sock.close()
    assert answers == len(frames) and internal == [], internal
    assert _alive(pid) and daemon_status(env)["pid"] == pid


def _frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class _Lsp:
    """A bare JSON-RPC peer on ``texpaste serve``'s pipes that answers the server's own requests."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.buf = b""

    def send(self, message: dict) -> None:
        self.proc.stdin.write(_frame(message))
        self.proc.stdin.flush()

    def _read(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while True:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if sep:
                length = int(re.search(rb"Content-Length: *(\d+)", head, re.I)[1])
                if len(rest) >= length:
                    self.buf = rest[length:]
                    return json.loads(rest[:length])
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    return None
                self.buf += chunk

    def response(self, msg_id: object, timeout: float = 60) -> dict | None:
        while (message := self._read(timeout)) is not None:
            if "method" in message and "id" in message:  # the server asks something of us
                result = (
                    {"applied": False, "failureReason": "fuzz"}
                    if message["method"] == "workspace/applyEdit"
                    else None
                )
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})
            elif message.get("id") == msg_id and "method" not in message:
                return message
        return None


def test_hostile_requests_to_the_language_server_each_get_a_clear_answer(tiny_model_dir):
    proc = subprocess.Popen(
        [sys.executable, "-m", "texpaste", "serve", "--engine", "in-process", "--model", str(tiny_model_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TEXPASTE_THREADS": "1"},
    )
    lsp = _Lsp(proc)
    uri = "file:///tmp/texpaste-fuzz/note.md"
    try:
        init, *rest = fuzzcases.lsp_opening(uri)
        lsp.send(init)
        assert lsp.response("init") is not None
        for message in rest:
            lsp.send(message)
        image = fuzzcases.b64((fuzzcases.DATA / "formula.png").read_bytes())
        unanswered, unclear = [], []
        for name, request in fuzzcases.lsp_requests(SEED, 200, uri, image):
            lsp.send(request)
            answer = lsp.response(request["id"])
            if answer is None:
                unanswered.append(name)
                break
            error = answer.get("error")
            if error is not None and (
                error.get("code") == -32603 or not one_sentence(str(error.get("message")))
            ):
                unclear.append((name, request["params"], error))
        assert unanswered == [] and unclear == [], (unanswered, unclear[:5])
        lsp.send({"jsonrpc": "2.0", "id": "last", "method": "texpaste/status"})
        assert lsp.response("last")["result"]["state"] == "ready"  # and it still serves
    finally:
        proc.kill()
        proc.wait(30)


@pytest.mark.parametrize("length", [b"1000000000000", b"99999999999999999999999", b"-5", b"abc"])
def test_absurd_content_lengths_get_an_error_not_a_dead_server(length):
    """D14: a header of a terabyte (or nonsense) must not make the server allocate or die."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "texpaste", "serve", "--engine", "in-process", "--model", "none"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lsp = _Lsp(proc)
    try:
        proc.stdin.write(b"Content-Length: " + length + b"\r\n\r\n{}\r\n")
        proc.stdin.flush()
        time.sleep(1.0)
        assert proc.poll() in (None, 0), proc.stderr.read().decode()[-2000:]
        if proc.poll() is None:  # still alive: a well-formed request after it is answered
            lsp.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
            assert lsp.response(1, timeout=30) is not None
    finally:
        proc.kill()
        proc.wait(30)
