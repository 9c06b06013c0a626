"""The per-user daemon: sharing, batching, restarts, idle exit, races, permissions, TCP, the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .conftest import TINY_CONFIG
from .editor import DATA, b64, start_editor, stop_editor


@pytest.fixture
def fresh_runtime():
    """A runtime directory of its own (so this test starts its own daemon), stopped afterwards."""
    path = tempfile.mkdtemp(prefix="tpd-", dir="/tmp")
    env = {**os.environ, "TEXPASTE_RUNTIME_DIR": path}
    yield Path(path), env
    subprocess.run(
        [sys.executable, "-m", "texpaste", "daemon", "stop"], env=env, capture_output=True, timeout=60
    )
    lock = Path(path) / "daemon.lock"  # whatever transport the test used, its daemon must not outlive it
    pid = lock.read_text().strip() if lock.exists() else ""
    if pid.isdigit() and _alive(int(pid)):
        os.kill(int(pid), signal.SIGTERM)
        wait_for(lambda: not _alive(int(pid)), timeout=30)
    shutil.rmtree(path, ignore_errors=True)


def texpaste(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "texpaste", *args],
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def daemon_status(env: dict[str, str]) -> dict | None:
    out = texpaste("daemon", "status", env=env)
    return json.loads(out.stdout) if out.returncode == 0 else None


def wait_for(predicate, timeout: float = 60.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


async def test_two_editors_share_one_daemon_that_loads_once_and_batches(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    extra = {"TEXPASTE_RUNTIME_DIR": str(path)}
    one, two = await asyncio.gather(
        start_editor("--model", str(tiny_model_dir), env=extra),
        start_editor("--model", str(tiny_model_dir), env=extra),
    )
    try:
        image = {"imageBase64": b64(DATA / "formula.png"), "candidates": 1}
        results = await asyncio.gather(
            *(ed.request("texpaste/recognize", image) for ed in (one, two, one, two))
        )
        assert len({r.latex for r in results}) == 1
        s1, s2 = await one.request("texpaste/status"), await two.request("texpaste/status")
        assert s1.daemon.pid == s2.daemon.pid
        assert s1.daemon.loads == 1 and s1.daemon.clients == 2 and s1.state == "ready"
        stats = s2.daemon.stats
        assert stats.jobs == 4 and stats.batches < 4 and stats.largestBatch >= 2
        # a third editor asks for a model that does not exist: only its own status turns to error
        three = await start_editor("--model", "/no/such/model", env=extra)
        try:
            with pytest.raises(JsonRpcException, match="/no/such/model"):
                await three.request("texpaste/recognize", image)
            assert (await three.request("texpaste/status")).state == "error"
            assert (await one.request("texpaste/status")).state == "ready"
        finally:
            await stop_editor(three)
    finally:
        await asyncio.gather(stop_editor(one), stop_editor(two))
    # the editors are gone: the only client left is the status query itself
    wait_for(lambda: (daemon_status(env) or {}).get("clients") == 1, timeout=30)


async def test_killed_daemon_is_restarted_by_the_next_request(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    ed = await start_editor("--model", str(tiny_model_dir), env={"TEXPASTE_RUNTIME_DIR": str(path)})
    try:
        uri = ed.open("k.md", "\n", "markdown")
        await ed.insert(uri, 0, 0)
        first = (await ed.request("texpaste/status")).daemon.pid
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: not _alive(first), timeout=10)
        result = await ed.insert(uri, 0, 0, mode="inline")
        assert result.applied
        second = (await ed.request("texpaste/status")).daemon.pid
        assert second != first and _alive(second)
    finally:
        await stop_editor(ed)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


async def test_cancelling_the_progress_stops_the_job_and_edits_nothing(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    ed = await start_editor("--model", str(tiny_model_dir), env={"TEXPASTE_RUNTIME_DIR": str(path)})
    try:
        uri = ed.open("c.md", "keep\n", "markdown")

        async def cancel_on_first_report() -> None:
            # the fresh daemon is still starting or loading when the job first reports
            while not any(len(r) >= 2 for r in ed.client.progress_reports.values()):
                await asyncio.sleep(0.01)
            [token] = ed.client.progress_reports
            ed.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))

        canceller = asyncio.ensure_future(cancel_on_first_report())
        with pytest.raises(JsonRpcException) as info:
            await ed.insert(uri, 0, 0)
        await canceller
        assert info.value.code == -32800
        assert ed.edits == [] and ed.docs[uri] == "keep\n"
        assert ed.client.messages == []  # a cancel is not an error to show
        status = wait_for(lambda: daemon_status(env), timeout=60)
        assert status["stats"]["jobs"] == 0  # the cancelled job never ran
    finally:
        await stop_editor(ed)


async def test_cancel_request_stops_a_command(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    ed = await start_editor("--model", str(tiny_model_dir), env={"TEXPASTE_RUNTIME_DIR": str(path)})
    try:
        uri = ed.open("c2.md", "keep\n", "markdown")
        params = types.ExecuteCommandParams(
            command="texpaste.insertFormula",
            arguments=[
                {
                    "uri": uri,
                    "position": {"line": 0, "character": 0},
                    "imageBase64": b64(DATA / "formula.png"),
                }
            ],
        )
        future = ed.client.protocol.send_request("workspace/executeCommand", params, msg_id="to-cancel")
        await asyncio.sleep(0.5)  # the fresh daemon is still starting
        ed.client.protocol.notify("$/cancelRequest", types.CancelParams(id="to-cancel"))
        with pytest.raises(JsonRpcException) as info:
            await asyncio.wrap_future(future)
        assert info.value.code == -32800
        await asyncio.sleep(1.0)
        assert ed.edits == [] and ed.docs[uri] == "keep\n"
        assert (await ed.insert(uri, 0, 0)).applied  # and the next one works
    finally:
        await stop_editor(ed)


def test_editor_going_away_ends_its_server(tiny_model_dir):
    """The editor dies (its pipe closes): the server exits and nothing lingers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "texpaste", "serve", "--model", str(tiny_model_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def test_idle_daemon_exits_and_cleans_up(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "texpaste",
            "daemon",
            "run",
            "--model",
            str(tiny_model_dir),
            "--idle-timeout",
            "2",
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: (path / "daemon.sock").exists(), timeout=60)
    assert daemon_status(env)["idleTimeout"] == 2
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        daemon_status(env)  # status checks are not activity: they keep no model alive
        time.sleep(0.3)
    assert proc.wait(timeout=5) == 0
    assert not (path / "daemon.sock").exists()
    assert texpaste("daemon", "status", env=env).returncode == 1


def test_two_daemons_started_at_once_leave_exactly_one(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    cmd = [sys.executable, "-m", "texpaste", "daemon", "run", "--model", str(tiny_model_dir)]
    procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL) for _ in range(3)]
    wait_for(lambda: sum(p.poll() is not None for p in procs) == 2, timeout=60)
    [survivor] = [p for p in procs if p.poll() is None]
    assert all(p.returncode == 0 for p in procs if p is not survivor)
    assert wait_for(lambda: daemon_status(env), timeout=60)["pid"] == survivor.pid
    assert texpaste("daemon", "stop", env=env).returncode == 0
    assert survivor.wait(timeout=30) == 0


def test_runtime_files_are_private(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    path.chmod(0o777)
    out = texpaste(
        "daemon", "run", "--model", str(tiny_model_dir), "--idle-timeout", "0", "--detach", env=env
    )
    assert out.returncode != 0 and "open to other users (mode 777)" in out.stderr  # refused, never chmodded
    assert stat.S_IMODE(path.stat().st_mode) == 0o777
    path.chmod(0o700)
    out = texpaste(
        "daemon", "run", "--model", str(tiny_model_dir), "--idle-timeout", "0", "--detach", env=env
    )
    assert out.returncode == 0
    wait_for(lambda: daemon_status(env), timeout=60)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE((path / "daemon.sock").stat().st_mode) == 0o600
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(path / "daemon.sock"))
    reader = sock.makefile("rb")
    sock.sendall(
        b"this is not json\n" + b'{"id": 7, "method": "nope"}\n' + b'{"id": 8, "method": "status"}\n'
    )
    bad, unknown, good = (json.loads(reader.readline()) for _ in range(3))
    assert bad["error"]["kind"] == "invalid-params" and "Malformed" in bad["error"]["message"]
    assert unknown["id"] == 7 and "Unknown method" in unknown["error"]["message"]
    assert good["id"] == 8 and good["result"]["pid"] > 0
    sock.close()


def test_loopback_tcp_needs_the_token(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    env = {**env, "TEXPASTE_DAEMON_TRANSPORT": "tcp"}
    assert texpaste("daemon", "run", "--model", str(tiny_model_dir), "--detach", env=env).returncode == 0
    info_path = path / "daemon.json"
    wait_for(info_path.exists, timeout=60)
    info = json.loads(info_path.read_text())
    assert stat.S_IMODE(info_path.stat().st_mode) == 0o600 and len(info["token"]) >= 32
    with socket.create_connection(("127.0.0.1", info["port"]), timeout=10) as sock:
        sock.sendall(b'{"id": 1, "method": "status"}\n')  # no hello with the token: dropped
        assert sock.makefile("rb").readline() == b""
    out = texpaste("-v", "recognize", "--model", str(tiny_model_dir), str(DATA / "formula.png"), env=env)
    assert out.returncode == 0 and "recognised by the running daemon" in out.stderr
    assert daemon_status(env)["stats"]["jobs"] == 1
    assert texpaste("daemon", "stop", env=env).returncode == 0
    wait_for(lambda: not info_path.exists(), timeout=30)


def test_cli_uses_a_running_daemon_and_agrees_with_in_process(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    image = str(DATA / "formula.png")
    alone = texpaste("recognize", "--model", str(tiny_model_dir), "--json", "--no-daemon", image, env=env)
    assert alone.returncode == 0, alone.stderr
    assert texpaste("daemon", "run", "--model", str(tiny_model_dir), "--detach", env=env).returncode == 0
    wait_for(lambda: daemon_status(env), timeout=60)
    shared = texpaste(
        "-v", "recognize", "--model", str(tiny_model_dir), "--json", image, "/no/such.png", env=env
    )
    assert "recognised by the running daemon" in shared.stderr
    assert (
        shared.returncode == 1 and "/no/such.png: The image file /no/such.png does not exist" in shared.stderr
    )
    assert json.loads(shared.stdout)["latex"] == json.loads(alone.stdout)["latex"]
    assert texpaste("daemon", "stop", env=env).returncode == 0
    assert texpaste("daemon", "status", env=env).returncode == 1


def test_a_runtime_directory_that_is_a_link_or_someone_elses_is_refused(tmp_path, monkeypatch):
    from texpaste.errors import DaemonError
    from texpaste.service.runtime import runtime_files

    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    monkeypatch.setenv("TEXPASTE_RUNTIME_DIR", str(tmp_path / "link"))
    for create in (True, False):  # the daemon creating it, and a client looking for a daemon in it
        with pytest.raises(DaemonError, match="is a symbolic link"):
            runtime_files(create=create)
    monkeypatch.setenv("TEXPASTE_RUNTIME_DIR", str(real))
    monkeypatch.setattr(os, "getuid", lambda: os.geteuid() + 1)  # as seen by another user
    for create in (True, False):
        with pytest.raises(DaemonError, match="belongs to another user"):
            runtime_files(create=create)


def test_a_client_refuses_a_socket_served_by_another_user(tmp_path, monkeypatch):
    import asyncio

    from texpaste.errors import DaemonError
    from texpaste.service.client import DaemonConnection
    from texpaste.service.runtime import RuntimeFiles

    files = RuntimeFiles(tmp_path)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(files.socket))
    listener.listen(1)
    received = []

    def serve():
        conn, _ = listener.accept()
        conn.settimeout(5)
        try:
            received.append(conn.recv(1000))
        except OSError:
            received.append(b"")
        conn.close()

    import threading

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    monkeypatch.setattr(os, "getuid", lambda: os.geteuid() + 1)  # the listener (us) is now "another user"
    with pytest.raises(DaemonError, match="served by another user"):
        asyncio.run(DaemonConnection.open(files))
    t.join(10)
    listener.close()
    assert received == [b""]  # not even the hello was sent


def test_malformed_frames_get_an_error_and_the_connection_stays_open(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    out = texpaste(
        "daemon", "run", "--model", str(tiny_model_dir), "--idle-timeout", "0", "--detach", env=env
    )
    assert out.returncode == 0, out.stderr
    wait_for(lambda: daemon_status(env), timeout=60)
    frames = [
        b"[1, 2]",
        b'{"id": [1], "method": "status"}',
        b'{"id": {"a": 1}, "method": "status"}',
        b'{"id": "\\ud800", "method": "status"}',  # a lone surrogate
        b'{"id": "\\u00e9t\\u00e9", "method": "status"}',
        b'{"id": ' + b"9" * 5000 + b', "method": "status"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"id": 1, "method": "status", "params": [1]}',
        b'{"id": 2, "method": 7}',
        b'{"method": "recognize", "params": {"imageBase64": "AAAA"}}',
    ]
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(60)
    sock.connect(str(path / "daemon.sock"))
    reader = sock.makefile("rb")
    sock.sendall(
        b"\n".join(frames)
        + b"\n"
        + b'{"id": 3, "method": "cancel", "params": {"id": [1]}}\n'
        + b'{"id": 4, "method": "status"}\n'
    )
    answers = [json.loads(reader.readline()) for _ in range(len(frames) + 2)]
    assert all("error" in a and a["error"]["kind"] == "invalid-params" for a in answers[: len(frames)]), (
        answers
    )
    assert answers[-2] == {"id": 3, "result": {"cancelled": False}} or answers[-2]["result"] == {
        "cancelled": False
    }
    assert answers[-1]["id"] == 4 and answers[-1]["result"]["pid"] > 0  # the same connection still serves
    sock.close()


def test_a_deleted_socket_is_noticed_and_served_again_by_the_same_daemon(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    assert (
        texpaste(
            "daemon", "run", "--model", str(tiny_model_dir), "--idle-timeout", "0", "--detach", env=env
        ).returncode
        == 0
    )
    pid = wait_for(lambda: daemon_status(env), timeout=60)["pid"]
    (path / "daemon.sock").unlink()  # a temp cleaner
    assert wait_for(lambda: daemon_status(env), timeout=15)["pid"] == pid  # seconds, not a 60 s wait


def test_a_removed_runtime_directory_makes_the_daemon_exit(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    assert (
        texpaste(
            "daemon", "run", "--model", str(tiny_model_dir), "--idle-timeout", "0", "--detach", env=env
        ).returncode
        == 0
    )
    pid = wait_for(lambda: daemon_status(env), timeout=60)["pid"]
    shutil.rmtree(path)  # its lock no longer keeps a second daemon out: the old one must go
    assert wait_for(lambda: not _alive(pid), timeout=15)
    path.mkdir(mode=0o700)


def test_a_frozen_daemon_is_reported_as_not_responding_and_stop_ends_it(fresh_runtime, tiny_model_dir):
    path, env = fresh_runtime
    assert (
        texpaste(
            "daemon", "run", "--model", str(tiny_model_dir), "--idle-timeout", "0", "--detach", env=env
        ).returncode
        == 0
    )
    pid = wait_for(lambda: daemon_status(env), timeout=60)["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        out = texpaste("daemon", "status", env=env, timeout=60)
        assert out.returncode == 1
        assert f"The texpaste daemon (pid {pid}) is not responding" in out.stderr, out.stderr
        stop = texpaste("daemon", "stop", env=env, timeout=60)
        assert stop.returncode == 0 and "terminating it" in stop.stderr
        assert wait_for(lambda: not _alive(pid), timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


# -- context, versions, lifecycle --------------------------------------------------------------


def _run_daemon(
    env: dict[str, str], *args: str, version: str | None = None, protocol: int | None = None
) -> int:
    """Start a detached daemon (optionally one that says it is another version) and return its pid."""
    patch = ""
    if version is not None:
        patch = f"import texpaste, texpaste.service.wire; texpaste.__version__ = {version!r}; "
        patch += f"texpaste.service.wire.PROTOCOL = {protocol if protocol is not None else 'texpaste.service.wire.PROTOCOL'}; "
    code = (
        patch
        + f"from texpaste.cli import main; raise SystemExit(main({['daemon', 'run', '--detach', *args]!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return wait_for(lambda: daemon_status(env), timeout=60)["pid"]


@pytest.fixture(scope="module")
def second_model_dir(tmp_path_factory) -> Path:
    from texpaste.model.random_init import init_model_dir

    return init_model_dir(str(tmp_path_factory.mktemp("models") / "second-tiny"), config=TINY_CONFIG, seed=2)


def test_the_requester_chooses_the_model_never_the_daemons_environment(
    fresh_runtime, tiny_model_dir, second_model_dir, tmp_path
):
    """A daemon started by one editor with TEXPASTE_MODEL=A answers another shell's request with
    that shell's choice: its TEXPASTE_MODEL, a relative --model against its own directory, or the default."""
    path, env = fresh_runtime
    _run_daemon({**env, "TEXPASTE_MODEL": str(tiny_model_dir)}, "--idle-timeout", "0")
    image = str(DATA / "formula.png")

    def model_of(*args: str, cwd: str | None = None, **extra: str) -> str:
        shell = {k: v for k, v in env.items() if k != "TEXPASTE_MODEL"} | extra
        out = subprocess.run(
            [sys.executable, "-m", "texpaste", "-v", "recognize", "--json", *args, image],
            env=shell,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0 and "recognised by the running daemon" in out.stderr, out.stderr
        return json.loads(out.stdout)["model"]

    assert model_of(TEXPASTE_MODEL=str(second_model_dir)) == "second-tiny"
    assert model_of("--model", "second-tiny", cwd=str(second_model_dir.parent)) == "second-tiny"
    assert model_of() == "texpaste-small"  # the default, not the daemon's TEXPASTE_MODEL
    assert Path(f"/proc/{daemon_status(env)['pid']}/cwd").resolve() == Path("/")


def test_a_request_without_an_explicit_model_or_with_a_relative_path_is_refused(
    fresh_runtime, tiny_model_dir
):
    path, env = fresh_runtime
    _run_daemon(env, "--model", str(tiny_model_dir), "--idle-timeout", "0")
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(60)
    sock.connect(str(path / "daemon.sock"))
    reader = sock.makefile("rb")
    image = str(DATA / "formula.png")
    requests = [
        {"imagePath": image},
        {"imagePath": image, "model": "some/relative/dir"},
        {"imagePath": "formula.png", "model": str(tiny_model_dir)},
    ]
    for i, params in enumerate(requests):
        sock.sendall(json.dumps({"id": i, "method": "recognize", "params": params}).encode() + b"\n")
        answer = json.loads(reader.readline())
        assert answer["error"]["kind"] == "invalid-params", answer
        assert re.search("needs model|absolute path", answer["error"]["message"]), answer
    sock.close()


async def test_an_older_daemon_is_replaced_and_a_newer_one_is_used(
    fresh_runtime, tiny_model_dir, monkeypatch
):
    from texpaste import __version__
    from texpaste.service.client import DaemonClient
    from texpaste.service.runtime import runtime_files

    path, env = fresh_runtime
    monkeypatch.setenv("TEXPASTE_RUNTIME_DIR", str(path))  # for the daemon the client starts
    old = _run_daemon(env, "--model", str(tiny_model_dir), version="0.0.1", protocol=1)
    client = DaemonClient(["--model", str(tiny_model_dir)], files=runtime_files())
    try:
        params = {"imagePath": str(DATA / "formula.png"), "model": str(tiny_model_dir)}
        result = await client.call("recognize", params)
        assert result["latex"] and client._conn.version == __version__
        assert wait_for(lambda: not _alive(old), timeout=30)
    finally:
        client.close()
    texpaste("daemon", "stop", env=env)
    wait_for(lambda: daemon_status(env) is None, timeout=30)
    newer = _run_daemon(env, "--model", str(tiny_model_dir), version="99.0.0")
    client = DaemonClient(["--model", str(tiny_model_dir)], files=runtime_files())
    try:
        await client.call("recognize", params)
        assert client._conn.version == "99.0.0" and _alive(newer)  # no tug of war between two versions
    finally:
        client.close()


def _daemons_of(path: Path) -> list[int]:
    """Live texpaste daemon processes serving the runtime directory ``path``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            b"daemon" in cmdline
            and f"TEXPASTE_RUNTIME_DIR={path}".encode() in environ
            and _alive(int(proc.name))
        ):
            found.append(int(proc.name))
    return found


async def test_jobs_in_flight_when_a_daemon_stops_are_answered_by_a_fresh_one(
    fresh_runtime, tiny_model_dir, monkeypatch
):
    """A daemon asked to stop while recognitions wait (here: for its model to load) answers them
    'daemon-stopping'; the client asks a new daemon, so no paste vanishes as cancelled, and exactly
    one daemon is left."""
    from texpaste.service.client import DaemonClient, DaemonConnection
    from texpaste.service.runtime import runtime_files

    path, env = fresh_runtime
    monkeypatch.setenv("TEXPASTE_RUNTIME_DIR", str(path))
    first = _run_daemon(env, "--model", str(tiny_model_dir), "--idle-timeout", "0")
    client = DaemonClient(["--model", str(tiny_model_dir)], files=runtime_files())
    try:
        params = {"imagePath": str(DATA / "formula.png"), "model": str(tiny_model_dir), "candidates": 16}
        await client.connection()
        jobs = [asyncio.ensure_future(client.call("recognize", params)) for _ in range(6)]
        await asyncio.sleep(0.05)
        stopper = await DaemonConnection.open(runtime_files())
        await stopper.call("shutdown")
        stopper.close()
        results = await asyncio.gather(*jobs)
        assert all(r["latex"] for r in results)
        assert wait_for(lambda: not _alive(first), timeout=30)
        assert _daemons_of(path) == [client._conn.hello["pid"]] != [first]
    finally:
        client.close()


async def test_a_daemon_that_dies_working_on_a_request_is_not_given_it_again(
    fresh_runtime, tiny_model_dir, monkeypatch
):
    """Killed mid-request (as the kernel's out-of-memory killer would): the error says so and no new
    daemon is started with the same image; one that was gone before the request is restarted."""
    from texpaste.service.client import DaemonClient, DaemonLost
    from texpaste.service.runtime import lock_is_held, runtime_files

    path, env = fresh_runtime
    monkeypatch.setenv("TEXPASTE_RUNTIME_DIR", str(path))
    pid = _run_daemon(env, "--model", str(tiny_model_dir), "--idle-timeout", "0")
    client = DaemonClient(["--model", str(tiny_model_dir)], files=runtime_files())
    params = {"imagePath": str(DATA / "formula.png"), "model": str(tiny_model_dir)}
    try:
        with pytest.raises(DaemonLost, match="not tried again"):
            await client.call("recognize", params, progress=lambda *_: os.kill(pid, signal.SIGKILL))
        wait_for(lambda: not _alive(pid), timeout=10)
        await asyncio.sleep(1.0)
        assert not lock_is_held(path / "daemon.lock")  # nobody started another for that image
        assert (await client.call("recognize", params))["latex"]  # a new request starts a daemon again
    finally:
        client.close()


async def test_a_request_the_daemon_never_answers_is_given_up(fresh_runtime, tiny_model_dir, monkeypatch):
    from texpaste.errors import DaemonError
    from texpaste.service.client import DaemonConnection
    from texpaste.service.runtime import runtime_files

    path, env = fresh_runtime
    monkeypatch.setenv("TEXPASTE_RUNTIME_DIR", str(path))
    pid = _run_daemon(env, "--model", str(tiny_model_dir), "--idle-timeout", "0")
    conn = await DaemonConnection.open(runtime_files())
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(DaemonError, match="did not answer for 1 s"):
            await conn.call("status", {}, idle_timeout=1.0)
        assert time.monotonic() - started < 10
    finally:
        os.kill(pid, signal.SIGCONT)
        conn.close()


def test_too_many_waiting_recognitions_on_one_connection_are_busy(fresh_runtime, tiny_model_dir):
    from texpaste.limits import MAX_CONNECTION_JOBS

    path, env = fresh_runtime
    _run_daemon(env, "--model", str(tiny_model_dir), "--idle-timeout", "0")
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(120)
    sock.connect(str(path / "daemon.sock"))
    params = {"imageBase64": b64(DATA / "formula.png"), "model": str(tiny_model_dir)}
    n = MAX_CONNECTION_JOBS + 8
    sock.sendall(
        b"".join(
            json.dumps({"id": i, "method": "recognize", "params": params}).encode() + b"\n" for i in range(n)
        )
    )
    reader = sock.makefile("rb")
    answers: list[dict] = []
    while len(answers) < n:  # progress notifications come in between
        message = json.loads(reader.readline())
        if "result" in message or "error" in message:
            answers.append(message)
    busy = [a for a in answers if a.get("error", {}).get("kind") == "busy"]
    assert len(busy) == 8 and "Too many recognitions are waiting" in busy[0]["error"]["message"]
    assert sum("result" in a for a in answers) == MAX_CONNECTION_JOBS
    sock.close()


def test_tcp_peers_prove_the_token_both_ways_and_strangers_cannot_make_it_buffer(
    fresh_runtime, tiny_model_dir, monkeypatch
):
    """The client sends nothing secret to a process on the port that cannot prove it knows the token
    (a squatter after the daemon died); the daemon reads at most a few KiB from an unproven peer."""
    import threading

    from texpaste.errors import DaemonError
    from texpaste.service.client import DaemonConnection
    from texpaste.service.runtime import RuntimeFiles

    path, env = fresh_runtime
    monkeypatch.setenv("TEXPASTE_DAEMON_TRANSPORT", "tcp")
    squatter = socket.create_server(("127.0.0.1", 0))
    token = "f" * 64
    (path / "daemon.json").write_text(
        json.dumps({"port": squatter.getsockname()[1], "token": token, "pid": 1})
    )
    received = []

    def pretend() -> None:
        conn, _ = squatter.accept()
        with conn:
            line = conn.makefile("rb").readline()
            received.append(line)
            hello = json.loads(line)
            conn.sendall(
                json.dumps(
                    {
                        "id": hello["id"],
                        "result": {"version": "0.2.0", "protocol": 2, "proof": "0" * 64, "nonce": "a" * 32},
                    }
                ).encode()
                + b"\n"
            )
            received.append(conn.recv(1000))

    t = threading.Thread(target=pretend, daemon=True)
    t.start()
    with pytest.raises(DaemonError, match="does not know its token"):
        asyncio.run(DaemonConnection.open(RuntimeFiles(path)))
    t.join(10)
    squatter.close()
    assert token.encode() not in b"".join(received) and received[-1] == b""  # nothing after the bad proof
    (path / "daemon.json").unlink()

    tcp_env = {**env, "TEXPASTE_DAEMON_TRANSPORT": "tcp"}
    pid = _run_daemon(tcp_env, "--model", str(tiny_model_dir), "--idle-timeout", "0")
    rss = lambda: int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())[1])  # noqa: E731
    # One real recognition first, so the model (loading in the background) and torch are in memory.
    warm = texpaste("recognize", "--model", str(tiny_model_dir), str(DATA / "formula.png"), env=tcp_env)
    assert warm.returncode == 0, warm.stderr
    before = rss()
    info = json.loads((path / "daemon.json").read_text())
    strangers = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", info["port"]), timeout=10)
        with contextlib.suppress(OSError):
            s.sendall(b"x" * 20_000_000)  # no newline, no proof
        strangers.append(s)
    for s in strangers:
        with contextlib.suppress(OSError):
            assert s.recv(100) == b""  # dropped
        s.close()
    assert rss() - before < 20_000  # KiB: nowhere near 4 x 20 MB
    assert daemon_status(tcp_env)["pid"] == pid  # and real clients still get in


async def test_a_lock_or_socket_path_that_is_a_directory_is_a_clear_error_at_once(fresh_runtime, monkeypatch):
    from texpaste.errors import DaemonError
    from texpaste.service.client import DaemonClient
    from texpaste.service.runtime import runtime_files

    path, env = fresh_runtime
    monkeypatch.setenv("TEXPASTE_RUNTIME_DIR", str(path))
    for name in ("daemon.lock", "daemon.sock"):
        (path / name).mkdir()
        client = DaemonClient(files=runtime_files())
        started = time.monotonic()
        with pytest.raises(DaemonError, match=f"{name} is a directory; remove it"):
            await client.call("status", {})
        assert time.monotonic() - started < 10  # not a 60 s wait for a daemon that cannot start
        client.close()
        (path / name).rmdir()
