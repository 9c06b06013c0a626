"""Reliability at full size: fuzzing and fault injection against the real processes.

    .venv/bin/python benchmarks/reliability.py [--images 2000] [--frames 3000] [--requests 1000]
        [--clients 32] [--per-client 20] [--kills 10] [--out docs/reliability.md]

The same seeded generators as tests/test_fuzz.py (which runs a few hundred of each in CI), here by
the thousand, plus load and kill -9 checks. Everything runs in a private runtime directory with a
tiny random model made on the spot, so the figures measure texpaste's boundaries, not a model:

1. images: a supervised worker process recognises each case (hang = no answer in 30 s, crash = the
   worker died or raised something that is not one sentence); RSS sampled per case;
2. daemon frames: one connection, one frame at a time, each must be answered;
3. LSP requests: ``texpaste serve --engine in-process``, each request must be answered clearly;
4. load: N clients at once on one daemon, each making M recognitions one after another;
5. kill -9: an editor pastes while the daemon is killed between pastes (the paste must land) and
   while it works on one (a clear error, the document unchanged); misplaced or lost edits are counted.

Writes the figures into ``--out`` (Markdown) and prints them as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from tests import fuzzcases  # noqa: E402
from tests.test_fuzz import _Lsp, one_sentence  # noqa: E402

SEED = 20261202
WORKER = """
import json, sys
from texpaste import Recognizer
from texpaste.errors import TexpasteError
from tests import fuzzcases
rec = Recognizer.load(sys.argv[1], device="cpu", threads=1)
cases = list(fuzzcases.image_cases(int(sys.argv[2]), int(sys.argv[3])))
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    name, data = cases[int(line)]
    try:
        [out] = rec.recognize_many([data])
        if isinstance(out, TexpasteError):
            raise out
        reply = {"ok": True}
    except TexpasteError as exc:
        reply = {"error": str(exc)}
    except Exception as exc:
        reply = {"crash": repr(exc)}
    print(json.dumps(reply), flush=True)
"""


def rss_mb(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(match[1]) / 1024 if match else float("nan")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def texpaste(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "texpaste", *args], env=env, capture_output=True, text=True, timeout=120
    )


def start_daemon(env: dict[str, str], model: Path) -> int:
    out = texpaste(env, "daemon", "run", "--detach", "--model", str(model), "--idle-timeout", "0")
    assert out.returncode == 0, out.stderr
    for _ in range(600):
        status = texpaste(env, "daemon", "status")
        if status.returncode == 0:
            return json.loads(status.stdout)["pid"]
        time.sleep(0.1)
    raise RuntimeError("the daemon did not start")


def warm_daemon(env: dict[str, str], model: Path) -> None:
    """One real recognition, so baselines are taken with the model and torch in memory."""
    out = texpaste(env, "recognize", "--model", str(model), str(fuzzcases.DATA / "formula.png"))
    assert out.returncode == 0, out.stderr


def check_images(model: Path, n: int) -> dict:
    counts = {"cases": n, "accepted": 0, "clear errors": 0, "unclear errors": 0, "crashes": 0, "hangs": 0}
    examples: list[str] = []
    rss: list[float] = []

    def spawn() -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(model), str(SEED), str(n)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,
        )
        assert json.loads(proc.stdout.readline())["ready"]
        return proc

    proc = spawn()
    baseline = rss_mb(proc.pid)
    for i in range(n):
        proc.stdin.write(f"{i}\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        if not line:
            counts["hangs" if not ready else "crashes"] += 1
            examples.append(f"case {i}: {'hang' if not ready else 'worker died'}")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            proc = spawn()
            continue
        reply = json.loads(line)
        if reply.get("ok"):
            counts["accepted"] += 1
        elif "error" in reply:
            good = one_sentence(reply["error"])
            counts["clear errors" if good else "unclear errors"] += 1
            if not good:
                examples.append(f"case {i}: {reply['error']}")
        else:
            counts["crashes"] += 1
            examples.append(f"case {i}: {reply['crash']}")
        rss.append(rss_mb(proc.pid))
    proc.kill()
    counts.update(
        {
            "RSS warm MB": round(baseline),
            "RSS max MB": round(max(rss)),
            "RSS final MB": round(rss[-1]),
            "examples": examples[:10],
        }
    )
    return counts


def check_frames(env: dict[str, str], runtime: Path, model: Path, n: int) -> dict:
    pid = start_daemon(env, model)
    warm_daemon(env, model)
    before = rss_mb(pid)
    image = fuzzcases.b64((fuzzcases.DATA / "formula.png").read_bytes())
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(60)
    sock.connect(str(runtime / "daemon.sock"))
    reader = sock.makefile("rb")
    counts = {"frames": n, "answered": 0, "clear errors": 0, "results": 0, "unclear errors": 0, "hangs": 0}
    for _name, frame in fuzzcases.daemon_frames(SEED, n, str(model), image):
        sock.sendall(frame)
        try:
            while (message := json.loads(reader.readline() or b"null")) and message.get(
                "method"
            ) == "progress":
                pass
        except TimeoutError:
            counts["hangs"] += 1
            break
        if message is None:
            counts["connection closed"] = True
            break
        counts["answered"] += 1
        error = message.get("error")
        if error is None:
            counts["results"] += 1
        elif error.get("kind") != "error" and one_sentence(error.get("message", "")):
            counts["clear errors"] += 1
        else:
            counts["unclear errors"] += 1
    sock.close()
    counts.update({"daemon alive": alive(pid), "daemon RSS growth MB": round(rss_mb(pid) - before, 1)})
    texpaste(env, "daemon", "stop")
    return counts


def check_lsp(model: Path, n: int) -> dict:
    proc = subprocess.Popen(
        [sys.executable, "-m", "texpaste", "serve", "--engine", "in-process", "--model", str(model)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TEXPASTE_THREADS": "1"},
    )
    lsp = _Lsp(proc)
    uri = "file:///tmp/texpaste-reliability/note.md"
    init, *rest = fuzzcases.lsp_opening(uri)
    lsp.send(init)
    lsp.response("init")
    for message in rest:
        lsp.send(message)
    image = fuzzcases.b64((fuzzcases.DATA / "formula.png").read_bytes())
    counts = {
        "requests": n,
        "answered": 0,
        "results": 0,
        "clear errors": 0,
        "unclear errors": 0,
        "unanswered": 0,
    }
    lsp.send(
        {
            "jsonrpc": "2.0",
            "id": "warm",
            "method": "texpaste/recognize",
            "params": {"uri": uri, "position": {"line": 0, "character": 0}, "imageBase64": image},
        }
    )
    assert "result" in (lsp.response("warm", timeout=120) or {}), "the warm-up recognition failed"
    rss0 = rss_mb(proc.pid)  # after the model loaded
    for _name, request in fuzzcases.lsp_requests(SEED, n, uri, image):
        lsp.send(request)
        answer = lsp.response(request["id"], timeout=60)
        if answer is None:
            counts["unanswered"] += 1
            break
        counts["answered"] += 1
        error = answer.get("error")
        if error is None:
            counts["results"] += 1
        elif error.get("code") != -32603 and one_sentence(str(error.get("message"))):
            counts["clear errors"] += 1
        else:
            counts["unclear errors"] += 1
    counts.update(
        {"server alive": proc.poll() is None, "server RSS growth MB": round(rss_mb(proc.pid) - rss0, 1)}
    )
    proc.kill()
    return counts


async def check_load(env: dict[str, str], runtime: Path, model: Path, clients: int, per_client: int) -> dict:
    from texpaste.errors import TexpasteError
    from texpaste.service.client import DaemonConnection
    from texpaste.service.runtime import RuntimeFiles

    pid = start_daemon(env, model)
    warm_daemon(env, model)
    before = rss_mb(pid)
    image = fuzzcases.b64((fuzzcases.DATA / "formula.png").read_bytes())
    counts = {"clients": clients, "requests": clients * per_client, "results": 0, "busy": 0, "errors": 0}
    latencies: list[float] = []

    async def one_client() -> None:
        conn = await DaemonConnection.open(RuntimeFiles(runtime))
        try:

            async def ask() -> None:
                try:
                    t0 = time.perf_counter()
                    await conn.call("recognize", {"imageBase64": image, "model": str(model)})
                    latencies.append(time.perf_counter() - t0)
                    counts["results"] += 1
                except TexpasteError as exc:
                    counts["busy" if exc.code == "busy" else "errors"] += 1

            for _ in range(per_client):  # an editor pastes one formula after another
                await ask()
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    latencies.sort()
    for name, q in (("p50 ms", 0.5), ("p95 ms", 0.95), ("max ms", 1.0)):
        counts[name] = (
            round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)
            if latencies
            else None
        )
    counts.update(
        {
            "seconds": round(time.perf_counter() - started, 1),
            "daemon alive": alive(pid),
            "daemon RSS growth MB": round(rss_mb(pid) - before, 1),
        }
    )
    texpaste(env, "daemon", "stop")
    return counts


async def check_kills(runtime: Path, model: Path, rounds: int) -> dict:
    from tests.editor import DATA, start_editor, stop_editor

    counts = {
        "rounds": rounds,
        "pastes": 0,
        "landed": 0,
        "clear errors": 0,
        "lost": 0,
        "misplaced": 0,
        "daemon restarts": 0,
    }
    editor = await start_editor("--model", str(model), env={"TEXPASTE_RUNTIME_DIR": str(runtime)})
    try:
        for i in range(rounds):
            uri = editor.open(f"kill{i}.md", "Before  after.\n", "markdown")
            status = await editor.request("texpaste/status")
            pid = status.daemon.pid if status.daemon else None
            mid = i % 2 == 1  # odd rounds: kill while it works on the paste; even: just before it
            if pid and not mid:
                os.kill(pid, signal.SIGKILL)
            if mid:
                editor.client.progress_reports.clear()

                async def kill_on_progress(pid: int | None = pid) -> None:
                    while pid and not any(len(r) >= 2 for r in editor.client.progress_reports.values()):
                        await asyncio.sleep(0.005)
                    if pid:
                        os.kill(pid, signal.SIGKILL)

                killer = asyncio.ensure_future(kill_on_progress())
            counts["pastes"] += 1
            try:
                result = await editor.insert(uri, 0, 7, image=DATA / "formula.png", mode="inline")
                text = editor.docs[uri]
                if text == "Before " + result.text + " after.\n":
                    counts["landed"] += 1
                else:
                    counts["misplaced"] += 1
            except Exception as exc:  # noqa: BLE001 (a JSON-RPC error is the clear outcome here)
                if editor.docs[uri] == "Before  after.\n" and one_sentence(str(getattr(exc, "message", exc))):
                    counts["clear errors"] += 1
                else:
                    counts["lost" if editor.docs[uri] == "Before  after.\n" else "misplaced"] += 1
            if mid:
                killer.cancel()
            after = await editor.request("texpaste/status")
            if after.daemon and after.daemon.pid != pid:
                counts["daemon restarts"] += 1
    finally:
        await stop_editor(editor)
    return counts


def write_markdown(path: Path, figures: dict, machine: dict) -> None:
    lines = [
        "# Reliability figures",
        "",
        f"`benchmarks/reliability.py`, {time.strftime('%Y-%m-%d')}, on {machine['cpu']} ({machine['cores']} cores), "
        f"Python {machine['python']}, torch {machine['torch']}. Seeded (seed {SEED}); a tiny random model, so "
        "these measure texpaste's boundaries, not recognition accuracy. CI runs the same generators at a few "
        "hundred cases each (tests/test_fuzz.py). The random model decodes to its length bound (about 70 ms "
        "for one image on one thread), so the load figures show queueing and batching under 32 editors at once, "
        "not a paste's latency (docs/benchmarks.md has those). Training was paused while this ran.",
        "",
    ]
    for section, values in figures.items():
        lines += [f"## {section}", "", "| figure | value |", "|---|---|"]
        for key, value in values.items():
            if key == "examples":
                continue
            lines.append(f"| {key} | {value} |")
        for example in values.get("examples", []):
            lines.append(f"\n- {example}")
        lines.append("")
    path.write_text("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--per-client", type=int, default=20)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    args = ap.parse_args()

    import torch

    from bench_engine import machine
    from texpaste.model.random_init import init_model_dir

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="tprel-", dir="/tmp"))
    runtime = work / "rt"
    runtime.mkdir(mode=0o700)
    os.environ["TEXPASTE_RUNTIME_DIR"] = str(runtime)  # this script's own daemons, stopped below
    env = {**os.environ, "TEXPASTE_THREADS": "1"}
    model = init_model_dir(work / "tiny", config=ROOT / "configs" / "tiny-test.yaml", seed=0)
    figures: dict[str, dict] = {}
    try:
        figures["Images into the engine"] = check_images(model, args.images)
        figures["Frames into the daemon socket"] = check_frames(env, runtime, model, args.frames)
        figures["Requests into the language server"] = check_lsp(model, args.requests)
        figures[f"Load: {args.clients} clients x {args.per_client} recognitions"] = asyncio.run(
            check_load(env, runtime, model, args.clients, args.per_client)
        )
        figures["kill -9 of the daemon around pastes"] = asyncio.run(check_kills(runtime, model, args.kills))
    finally:
        texpaste(env, "daemon", "stop")
        with contextlib.suppress(OSError, ValueError):
            pid = int((runtime / "daemon.lock").read_text())
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    write_markdown(args.out, figures, machine())
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
