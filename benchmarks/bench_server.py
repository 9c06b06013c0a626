"""Server benchmark: what an editor waits for, and what the daemon saves.

    .venv/bin/python benchmarks/bench_server.py [--model texpaste-small] [--threads 2] [--repeats 5] [--out r.json]

Drives the real ``texpaste serve`` over stdio with pygls' client (as an editor would), in a private
runtime directory, and compares in the same run:

- the first paste of a session (server start, daemon start, model load, recognition) against a warm
  paste, a second editor's first paste (daemon already warm), and the engine called directly in
  this process (the floor: what the LSP + daemon hop adds on top of recognition);
- 8 concurrent recognitions from two editors (batched by the daemon) against the same 8 one after
  another;
- memory: the thin server, the daemon, and ``serve --engine in-process``;
- ``texpaste recognize`` with a running daemon against loading the model itself (``--no-daemon``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from bench_engine import machine  # noqa: E402

IMAGES = sorted((ROOT / "examples").glob("*.png"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Editor:
    """A minimal LSP editor: one open Markdown document, applyEdit accepted."""

    def __init__(self, env: dict[str, str], args: list[str]) -> None:
        self.env, self.args = env, args
        self.client = LanguageClient("bench", "1")
        self.client.feature(types.WORKSPACE_APPLY_EDIT)(
            lambda params: types.ApplyWorkspaceEditResult(applied=True)
        )

    async def start(self) -> float:
        t = time.perf_counter()
        await self.client.start_io(sys.executable, "-m", "texpaste", "serve", *self.args, env=self.env)
        await self.client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
        self.client.initialized(types.InitializedParams())
        self.uri = "file:///tmp/bench.md"
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(self.uri, "markdown", 1, "\n"))
        )
        return time.perf_counter() - t

    @property
    def pid(self) -> int:
        return self.client._server.pid  # the serve process

    async def paste(self, image: Path) -> float:
        t = time.perf_counter()
        args = {
            "uri": self.uri,
            "position": {"line": 0, "character": 0},
            "imageBase64": base64.b64encode(image.read_bytes()).decode(),
        }
        await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="texpaste.insertFormula", arguments=[args])
        )
        return time.perf_counter() - t

    async def recognize(self, image: Path) -> float:
        t = time.perf_counter()
        await self.client.protocol.send_request_async(
            "texpaste/recognize",
            {"imageBase64": base64.b64encode(image.read_bytes()).decode(), "candidates": 1},
        )
        return time.perf_counter() - t

    async def status(self) -> object:
        return await self.client.protocol.send_request_async("texpaste/status", {})

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


def direct_engine(model: str, threads: int, repeats: int) -> dict:
    """The floor: the same recognition called in-process (run in a child so torch stays out of here)."""
    code = f"""
import json, statistics, time
from texpaste.engine.recognizer import Recognizer
rec = Recognizer.load({model!r}, threads={threads})
image = {str(IMAGES[0])!r}
rec.recognize(image, candidates=5)
runs = []
for _ in range({repeats}):
    t = time.perf_counter(); rec.recognize(image, candidates=5); runs.append(time.perf_counter() - t)
print(json.dumps({{"warm_s": statistics.median(runs)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def cli_seconds(env: dict[str, str], model: str, *extra: str) -> float:
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "texpaste", "recognize", "--model", model, *extra, str(IMAGES[0])],
        env=env,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - t


async def run(model: str, threads: int, repeats: int) -> dict:
    runtime = tempfile.mkdtemp(prefix="tpb-", dir="/tmp")
    env = {**os.environ, "TEXPASTE_RUNTIME_DIR": runtime, "TEXPASTE_THREADS": str(threads)}
    out: dict = {}
    try:
        first = Editor(env, ["--model", model])
        out["serve_start_s"] = await first.start()
        out["first_paste_s"] = await first.paste(IMAGES[0])
        out["warm_paste_s"] = statistics.median([await first.paste(IMAGES[0]) for _ in range(repeats)])
        second = Editor(env, ["--model", model])
        await second.start()
        out["second_editor_first_paste_s"] = await second.paste(IMAGES[0])
        status = await first.status()
        out["daemon_loads"] = status.daemon.loads

        jobs = [IMAGES[i % len(IMAGES)] for i in range(8)]
        t = time.perf_counter()
        for image in jobs:
            await first.recognize(image)
        out["eight_sequential_s"] = time.perf_counter() - t
        t = time.perf_counter()
        await asyncio.gather(*((first if i % 2 else second).recognize(image) for i, image in enumerate(jobs)))
        out["eight_concurrent_s"] = time.perf_counter() - t
        out["batch_stats"] = status_stats = (await first.status()).daemon.stats._asdict()
        out["largest_batch"] = status_stats["largestBatch"]

        out["rss_mb"] = {"serve (thin)": rss_mb(first.pid), "daemon": rss_mb(status.daemon.pid)}
        out["cli_with_daemon_s"] = cli_seconds(env, model)
        await first.stop()
        await second.stop()

        inproc = Editor(env, ["--model", model, "--engine", "in-process"])
        await inproc.start()
        await inproc.paste(IMAGES[0])
        out["rss_mb"]["serve --engine in-process"] = rss_mb(inproc.pid)
        await inproc.stop()
        out["cli_without_daemon_s"] = cli_seconds(env, model, "--no-daemon")
    finally:
        subprocess.run([sys.executable, "-m", "texpaste", "daemon", "stop"], env=env, capture_output=True)
    out.update(direct_engine(model, threads, repeats))
    out["overhead_ms"] = 1e3 * (out["warm_paste_s"] - out["warm_s"])
    out["batching_speedup"] = out["eight_sequential_s"] / out["eight_concurrent_s"]
    out["cli_speedup"] = out["cli_without_daemon_s"] / out["cli_with_daemon_s"]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="texpaste-small")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out")
    args = p.parse_args()
    result = {
        "machine": machine(),
        "model": args.model,
        "threads": args.threads,
        **asyncio.run(run(args.model, args.threads, args.repeats)),
    }
    text = json.dumps(result, indent=2)
    sys.stdout.write(text + "\n")
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
