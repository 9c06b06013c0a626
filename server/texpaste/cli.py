"""``texpaste`` command line: recognise images, manage models, render data, train, evaluate.

Heavy imports (torch) happen inside the commands that need them, so ``texpaste --help`` and
the thin language-server front end start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from pathlib import Path

from texpaste import __version__
from texpaste.errors import TexpasteError

# texpaste.data.build.RENDERERS' keys, spelled here so building the parser imports no renderer
RENDERER_NAMES = ("tex", "mathtext", "katex", "mathjax", "pdf")

log = logging.getLogger("texpaste")


def _err(message: str) -> None:
    sys.stderr.write(f"texpaste: {message}\n")


def _progress_printer():
    """tqdm bars on a terminal for model downloads; silent otherwise."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def report(name: str, done: int, total: int | None) -> None:
        bar = bars.get(name)
        if bar is None:
            bar = bars[name] = tqdm(
                total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, leave=False
            )
        bar.update(done - bar.n)

    return report


# -- recognize ------------------------------------------------------------------------------


def _one_line(latex: str) -> str:
    """The formula on one line: pix2tex's tokenizer has newline tokens, and line output promises a
    line per image (``--json`` keeps the text as the model wrote it)."""
    return " ".join(latex.splitlines())


def cmd_recognize(args: argparse.Namespace) -> int:
    from texpaste.editor.wrapping import wrap
    from texpaste.limits import check_decode_options

    try:
        check_decode_options(args.candidates, args.temperature, args.seed, args.device)
    except TexpasteError as exc:
        _err(str(exc))
        return 2
    sources: list[tuple[str, bytes | Path]] = []
    if args.clipboard:
        from texpaste.editor.clipboard import read_image_bytes

        try:
            sources.append(("clipboard", read_image_bytes()))
        except TexpasteError as exc:
            _err(f"clipboard: {exc}")
            return 1
    for name in args.images:
        if name == "-":
            from texpaste.engine.imaging import read_image_stream

            try:
                sources.append(("-", read_image_stream(sys.stdin.buffer)))
            except TexpasteError as exc:
                _err(f"-: {exc}")
                return 1
        else:
            sources.append((name, Path(name)))
    if not sources:
        _err("no images given (pass files, '-' for stdin, or --clipboard).")
        return 2
    results = None if args.no_daemon else _recognize_via_daemon(sources, args)
    if results is None:
        results = _recognize_in_process(sources, args)
        if results is None:
            return 1
    status, copied = 0, []
    for (name, _), result in zip(sources, results):
        if isinstance(result, TexpasteError):
            _err(f"{name}: {result}")
            status = 1
            continue
        if args.json:
            text = wrap(result["latex"], args.format)
            record = {"file": name, **result, "text": text, "milliseconds": result["timings"].get("total")}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            text = wrap(_one_line(result["latex"]), args.format)
            sys.stdout.write(text + "\n")
            for cand in result["candidates"][1:]:
                alternative = wrap(_one_line(cand["latex"]), args.format)
                sys.stdout.write(f"  alternative ({cand['score']:.3f}): {alternative}\n")
        copied.append(text)
    sys.stdout.flush()
    if args.copy and copied:
        from texpaste.editor.clipboard import copy_text

        try:
            copy_text("\n".join(copied))
        except TexpasteError as exc:
            _err(str(exc))
            status = 1
    return status


def _recognize_in_process(sources: list[tuple[str, bytes | Path]], args: argparse.Namespace) -> list | None:
    from texpaste.engine.recognizer import Recognizer

    try:
        rec = Recognizer.load(
            args.model, device=args.device, threads=args.threads, progress=_progress_printer()
        )
    except TexpasteError as exc:
        _err(str(exc))
        return None
    if rec.notice:
        _err(rec.notice)
    results = rec.recognize_many(
        [s for _, s in sources],
        candidates=args.candidates,
        temperature=args.temperature,
        resize=not args.no_resize,
        seed=args.seed,
    )
    return [r if isinstance(r, TexpasteError) else {**r.to_dict(), "model": rec.name} for r in results]


def _recognize_via_daemon(sources: list[tuple[str, bytes | Path]], args: argparse.Namespace) -> list | None:
    """Ask a running daemon (instant: the model is warm); None when none runs. Never starts one."""
    import asyncio
    import base64

    from texpaste.engine.store import choose
    from texpaste.service import wire
    from texpaste.service.client import DaemonConnection, DaemonUnavailable
    from texpaste.service.runtime import runtime_files

    choice = choose(args.model)  # here, with this shell's environment and directory, never the daemon's
    options = {
        "model": choice.model,
        "device": args.device,
        "candidates": args.candidates,
        "temperature": args.temperature,
        "resize": not args.no_resize,
        "seed": args.seed,
    }

    async def go() -> list | None:
        try:
            conn = await DaemonConnection.open(runtime_files(create=False), client="texpaste-cli")
        except DaemonUnavailable:
            return None
        except TexpasteError as exc:  # a runtime directory or daemon of another user: never sent an image
            _err(f"not using the daemon: {exc}")
            return None
        if conn.hello.get("protocol") != wire.PROTOCOL:
            log.info("not using the running daemon: version %s speaks another protocol", conn.version)
            conn.close()
            return None

        async def one(source: bytes | Path) -> object:
            image = (
                {"imagePath": str(source.resolve())}
                if isinstance(source, Path)
                else {"imageBase64": base64.b64encode(source).decode("ascii")}
            )
            try:
                return await conn.call("recognize", {**image, **options})
            except TexpasteError as exc:
                return exc

        try:
            return list(await asyncio.gather(*(one(s) for _, s in sources)))
        finally:
            conn.close()

    results = asyncio.run(go())
    if results is not None:
        log.info("recognised by the running daemon")
        if choice.notice:
            _err(choice.notice)
    return results


# -- models ---------------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    from texpaste.engine import store

    if args.action == "list":
        for m in store.list_models():
            sys.stdout.write(f"{m['name']:<16} {m['status']:<12} {m['path']}\n    {m['description']}\n")
        choice, env = store.choose(None), os.environ.get("TEXPASTE_MODEL", "").strip()
        if env:
            why = "TEXPASTE_MODEL names it"
        elif choice.model == store.DEFAULT_MODEL:
            why = f"the default, {store.DEFAULT_MODEL}, is cached"
        else:
            why = f"{store.DEFAULT_MODEL} is not cached: `texpaste models pull {store.DEFAULT_MODEL}` fetches it"
        sys.stdout.write(
            f"\nanswering: {choice.model} ({why}; an editor's model setting or --model overrides it)\n"
        )
        return 0
    if args.action == "path":
        sys.stdout.write(f"{store.resolve(args.name, download=False).path}\n")
        return 0
    if args.action == "pull":
        sys.stdout.write(f"{store.pull(args.name, progress=_progress_printer())}\n")
        return 0
    if args.action == "init":
        from texpaste.model.random_init import init_model_dir

        out = init_model_dir(args.name, config=args.config, seed=args.seed, resizer=args.resizer)
        sys.stdout.write(f"{out}\n")
        return 0
    raise AssertionError(args.action)


# -- data / train / eval ----------------------------------------------------------------------


def cmd_data(args: argparse.Namespace) -> int:
    from texpaste.data.build import RenderSettings, read_formulas, render_to_shards

    settings = RenderSettings(
        renderer=args.renderer,
        fonts=args.fonts or (),
        dpi=(args.dpi[0], args.dpi[1]),
        max_size=(args.max_size[0], args.max_size[1]),
        seed=args.seed,
    )
    stats = render_to_shards(read_formulas(args.formulas), args.out, args.n, settings, jobs=args.jobs)
    sys.stdout.write(
        f"rendered {stats.rendered} of {stats.requested} ({stats.failed} failed to compile, {stats.too_large} too large, "
        f"{stats.skipped} skipped) in {stats.seconds:.1f} s: {stats.per_second_per_core:.1f} formulas/s per core\n"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from texpaste.training.train import export_checkpoint, train

    if args.export:
        export_checkpoint(args.out, args.config, args.export)
        return 0
    if not args.data:
        raise TexpasteError("texpaste train needs --data (shard directories) unless --export is given.")
    result = train(
        args.config,
        args.data,
        args.out,
        val_dir=args.val,
        device=args.device,
        max_steps=args.max_steps,
        max_minutes=args.max_minutes,
        init=args.init,
    )
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from texpaste.limits import check_decode_options
    from texpaste.training.evaluate import SCREENSHOT_STYLES, EvalSettings, evaluate, evaluate_styles

    try:
        check_decode_options(args.candidates, args.temperature)
    except TexpasteError as exc:
        _err(str(exc))
        return 2
    settings = EvalSettings(
        n=args.n,
        renderer=args.renderer,
        font=args.font,
        dpi=args.dpi,
        seed=args.seed,
        batch_size=args.batch_size,
        temperature=args.temperature,
        candidates=args.candidates,
        threads=args.threads,
    )
    if not args.styles:
        report = evaluate(args.model, args.formulas, settings, out=args.out, progress=sys.stderr.isatty())
        sys.stdout.write(json.dumps(report["metrics"], indent=2) + "\n")
        return 0
    names = list(SCREENSHOT_STYLES) if args.styles == ["screenshots"] else args.styles
    unknown = [n for n in names if n not in SCREENSHOT_STYLES]
    if unknown:
        raise TexpasteError(
            f"Unknown style {unknown[0]}; choose screenshots or any of {', '.join(SCREENSHOT_STYLES)}."
        )
    report = evaluate_styles(
        args.model,
        args.formulas,
        settings,
        {n: SCREENSHOT_STYLES[n] for n in names},
        out=args.out,
        progress=sys.stderr.isatty(),
    )
    sys.stdout.write(json.dumps({"mean": report["metrics"], **report["styles"]}, indent=2) + "\n")
    return 0


# -- daemon / serve ---------------------------------------------------------------------------


def cmd_daemon(args: argparse.Namespace) -> int:
    from texpaste.service.client import DaemonNotResponding, DaemonUnavailable, call_running, lock_pid
    from texpaste.service.runtime import runtime_files

    if args.action == "status":
        try:
            status = call_running("status", timeout=10)
        except DaemonUnavailable:
            sys.stdout.write(
                json.dumps({"state": "stopped", "runtimeDir": str(runtime_files().directory)}) + "\n"
            )
            return 1
        sys.stdout.write(json.dumps(status, indent=2) + "\n")
        return 0
    if args.action == "stop":
        import signal
        import time

        try:
            call_running("shutdown", timeout=10)
        except DaemonUnavailable:
            _err("no daemon is running.")
            return 0
        except DaemonNotResponding:  # stopped or wedged: terminate it (SIGCONT lets a stopped one see it)
            pid = lock_pid(runtime_files())
            if pid is None:
                raise
            _err(f"the daemon (pid {pid}) is not responding; terminating it.")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
                os.kill(pid, signal.SIGCONT)

        from texpaste.service.runtime import lock_is_held

        files = runtime_files()
        for _ in range(100):  # wait until it has released its lock (so a new one can start)
            if not lock_is_held(files.lock):
                break
            time.sleep(0.1)
        return 0
    files = runtime_files()  # checked before detaching: a refused directory is the starter's error
    if args.detach and hasattr(os, "fork"):
        if os.fork():  # parent: return at once; the child carries on in the background
            os._exit(0)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)  # let go of the starter's pipes and terminal
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
    from texpaste.service.daemon import Daemon, setup_logging
    from texpaste.service.pool import ModelPool

    setup_logging(files, args.log_file, args.verbose)
    from texpaste.engine.store import choose

    # Only what this daemon preloads; each request names its own model (chosen by its requester).
    pool = ModelPool(choose(args.model).model, args.device, args.threads)
    return Daemon(files, pool, idle_timeout=args.idle_timeout).run()


def cmd_tools(args: argparse.Namespace) -> int:
    """Which clipboard and screenshot tools the language server would use here."""
    from texpaste.editor.tools import report

    found = report()
    if args.json:
        print(json.dumps(found))
    else:
        for what, info in found.items():
            print(
                f"{what}: {info['tool']} ({info['path']})" if "tool" in info else f"{what}: {info['problem']}"
            )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from texpaste.editor.server import run_server

    return run_server(args)


# -- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="texpaste", description="Turn pictures of formulas into LaTeX, locally.")
    p.add_argument("--version", action="version", version=f"texpaste {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("recognize", help="print the LaTeX of formula images")
    r.add_argument("images", nargs="*", help="image files; '-' reads one image from stdin")
    r.add_argument(
        "--model", help="model name (pix2tex, texpaste-small) or model directory [env TEXPASTE_MODEL]"
    )
    r.add_argument("--format", choices=("raw", "inline", "display", "auto"), default="raw")
    r.add_argument(
        "--candidates", type=int, default=1, metavar="N", help="beam search: also list N-1 alternatives"
    )
    r.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (deterministic); >0 samples")
    r.add_argument("--seed", type=int, help="random seed for --temperature > 0")
    r.add_argument(
        "--json", action="store_true", help="one JSON object per image (latex, candidates, timings)"
    )
    r.add_argument("--clipboard", action="store_true", help="read the image on the clipboard")
    r.add_argument("--copy", action="store_true", help="copy the result to the clipboard")
    r.add_argument("--device", help="cpu, cuda, mps (default: best available)")
    r.add_argument(
        "--threads", type=int, help="CPU threads for torch (default: cores available) [env TEXPASTE_THREADS]"
    )
    r.add_argument("--no-resize", action="store_true", help="skip the pix2tex image-resizer network")
    r.add_argument(
        "--no-daemon", action="store_true", help="load the model here even when a daemon is running"
    )
    r.set_defaults(func=cmd_recognize)

    m = sub.add_parser("models", help="list, download or create models")
    m.add_argument("action", choices=("list", "pull", "path", "init"))
    m.add_argument("name", nargs="?", help="model name (pull/path) or output directory (init)")
    m.add_argument("--config", help="init: config.yaml to build (default: pix2tex's)")
    m.add_argument("--seed", type=int, default=0, help="init: random seed for the weights")
    m.add_argument("--resizer", action="store_true", help="init: also write a random image_resizer.pth")
    m.set_defaults(func=cmd_models)

    d = sub.add_parser("data", help="render formula images into training shards")
    d.add_argument("action", choices=("render",))
    d.add_argument("--formulas", required=True, help="one formula per line (.txt or .txt.gz)")
    d.add_argument("--out", required=True, help="output directory for shard-*.tar")
    d.add_argument("--n", type=int, required=True, help="number of images to write")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--renderer", choices=RENDERER_NAMES, default="tex")
    d.add_argument("--fonts", nargs="*", help="fonts to draw from (default: all of the renderer's)")
    d.add_argument("--dpi", type=int, nargs=2, default=(100, 180), metavar=("LOW", "HIGH"))
    d.add_argument("--max-size", type=int, nargs=2, default=(800, 200), metavar=("WIDTH", "HEIGHT"))
    d.add_argument("--jobs", type=int, help="parallel renderer processes (default: all cores)")
    d.set_defaults(func=cmd_data)

    t = sub.add_parser("train", help="train or resume a model")
    t.add_argument("--config", required=True, help="model + train: settings (see configs/)")
    t.add_argument("--data", nargs="+", help="shard directories")
    t.add_argument("--out", required=True, help="run directory (last.pt, best/, log.csv)")
    t.add_argument("--val", help="shard directory for periodic validation")
    t.add_argument("--device", help="cpu or cuda (default: best available)")
    t.add_argument("--max-steps", type=int, help="stop after this many steps in total")
    t.add_argument("--max-minutes", type=float, help="stop (and checkpoint) after this long")
    t.add_argument(
        "--init", metavar="MODEL_DIR", help="start a new run from this model's weights (e.g. the shipped one)"
    )
    t.add_argument(
        "--export", metavar="DIR", help="write the run's latest checkpoint as a model directory; no training"
    )
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="render formulas, recognise them, report pix2tex's metrics")
    e.add_argument("model", help="model name or directory")
    e.add_argument("--formulas", required=True, help="one formula per line (.txt or .txt.gz)")
    e.add_argument("--n", type=int, default=1000, help="number of formulas (seeded sample)")
    e.add_argument("--out", help="write the JSON report here")
    e.add_argument("--renderer", choices=RENDERER_NAMES, default="tex")
    e.add_argument("--font", default="cm")
    e.add_argument("--dpi", type=int, default=120)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--batch-size", type=int, default=10, help="pix2tex's eval batch size (BLEU is per batch)")
    e.add_argument("--temperature", type=float, default=0.0)
    e.add_argument(
        "--candidates",
        type=int,
        default=1,
        metavar="N",
        help="score the best of an N-beam search (the editors paste the best of 5); 1 = greedy",
    )
    e.add_argument("--threads", type=int)
    e.add_argument(
        "--styles",
        nargs="+",
        metavar="STYLE",
        help="score screenshot styles instead (screenshots = all: katex-light-1x, pdf-cm-96dpi, ...)",
    )
    e.set_defaults(func=cmd_eval)
    dm = sub.add_parser("daemon", help="the per-user model daemon: run (default), status, stop")
    dm.add_argument("action", nargs="?", choices=("run", "status", "stop"), default="run")
    _add_engine_options(dm)
    dm.add_argument("--detach", action="store_true", help=argparse.SUPPRESS)
    dm.set_defaults(func=cmd_daemon)

    tl = sub.add_parser("tools", help="which clipboard and screenshot tools the editors' paste uses here")
    tl.add_argument("--json", action="store_true", help="one JSON object")
    tl.set_defaults(func=cmd_tools)

    sv = sub.add_parser("serve", help="language server on stdio (started by your editor)")
    sv.add_argument(
        "--engine",
        choices=("daemon", "in-process"),
        default="daemon",
        help="share the per-user daemon (default) or load the model inside this process",
    )
    _add_engine_options(sv)
    sv.set_defaults(func=cmd_serve)
    return p


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="model name or directory [env TEXPASTE_MODEL]")
    p.add_argument("--device", help="cpu, cuda, mps (default: best available)")
    p.add_argument("--threads", type=int, help="CPU threads for torch [env TEXPASTE_THREADS]")
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=float(os.environ.get("TEXPASTE_IDLE_TIMEOUT", 1800)),
        metavar="SECONDS",
        help="daemon exits after this long without a request; 0 = never (default 1800)",
    )
    p.add_argument(
        "--log-file", help="log here (default: stderr for serve, the runtime dir's daemon.log for the daemon)"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="texpaste: %(message)s",
    )
    try:
        return args.func(args)
    except TexpasteError as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        _err("interrupted.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
