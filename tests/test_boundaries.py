"""Hostile input at the process boundaries: the wire's image paths, the CLI's stdin, the server's stdio.

Imaging's own refusals (formats, FIFOs, devices, NUL bytes, pixel caps) are in test_imaging.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from texpaste import limits
from texpaste.errors import ImageError, RequestError
from texpaste.service import wire


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("~nosuchuser-texpaste/x.png", "must be an absolute path"),
        ("~/x.png", "must be an absolute path"),
        ("formula.png", "must be an absolute path"),
        ("/tmp/" + "x" * 5000, "not a valid path"),
        ("/tmp/a\0b.png", "not a valid path"),
    ],
)
def test_odd_image_paths_on_the_wire_get_one_sentence(path, message):
    """The wire takes absolute paths only: a relative or ``~`` path would be read against the
    daemon's directory and environment, not the requester's."""
    with pytest.raises(RequestError, match=message):
        wire.image_from_params({"imagePath": path})


@pytest.mark.parametrize("path", ["/dev/zero", "/nonexistent/x.png"])
async def test_unreadable_paths_on_the_wire_get_one_sentence(path, tiny_model_dir):
    from texpaste.service.batching import Batcher, recognize_async
    from texpaste.service.pool import ModelPool

    batcher = Batcher(ModelPool(str(tiny_model_dir), "cpu", threads=1))
    try:
        with pytest.raises(ImageError, match="not a regular file|does not exist"):
            await recognize_async(batcher, {"imagePath": path, "model": str(tiny_model_dir)})
    finally:
        batcher.close()


def test_the_requester_makes_image_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert wire.absolute_image_source({"imagePath": "a/f.png"}) == {"imagePath": str(tmp_path / "a/f.png")}
    assert wire.absolute_image_source({"imagePath": "~/f.png"})["imagePath"] == os.path.expanduser("~/f.png")
    with pytest.raises(ImageError, match="unknown home directory"):
        wire.absolute_image_source({"imagePath": "~nosuchuser-texpaste/x.png"})


def test_a_fifo_on_the_wire_is_refused(tmp_path):
    from texpaste.engine.imaging import read_image_file

    os.mkfifo(tmp_path / "f.png")
    path = wire.image_from_params({"imagePath": str(tmp_path / "f.png")})
    with pytest.raises(ImageError, match="not a regular file"):
        read_image_file(path)


def test_one_size_limit_for_every_process():
    from texpaste.engine import imaging

    assert imaging.MAX_BYTES == limits.MAX_IMAGE_BYTES
    assert wire.MAX_LINE > limits.MAX_IMAGE_BYTES * 4 // 3  # the base64 of the largest image fits a frame
    ts = os.path.dirname(__file__) + "/../clients/vscode/src/constants.ts"
    with open(ts, encoding="utf-8") as fh:
        assert f"MAX_IMAGE_BYTES = {limits.MAX_IMAGE_BYTES // 2**20} * 1024 * 1024" in fh.read()


def test_endless_stdin_is_refused_at_the_limit():
    """``head -c 4G /dev/zero | texpaste recognize -`` must stop reading at the limit, not grow."""
    code = textwrap.dedent("""
        import sys
        from texpaste.engine import imaging
        imaging.MAX_BYTES = 10_000
        from texpaste.cli import main
        sys.exit(main(["recognize", "--no-daemon", "-"]))
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        for _ in range(100):  # 1 MB, far past the limit; the CLI stops reading after 10 kB
            proc.stdin.write(b"\0" * 10_000)
    except BrokenPipeError:
        pass
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert out == b""
    assert b"standard input is too large" in err and b"Traceback" not in err


def test_child_processes_of_the_server_cannot_write_to_the_protocol_stream():
    """D1: Ghostscript (or any child) inheriting fd 1 wrote into the editor's JSON-RPC channel."""
    code = textwrap.dedent("""
        import subprocess
        from texpaste.editor.server import claim_stdio
        rpc_in, rpc_out = claim_stdio()
        subprocess.run(["sh", "-c", "echo child-on-fd1; cat"], check=True)  # cat: reads fd 0
        print("print-on-stdout")
        rpc_out.write(rpc_in.read())
        rpc_out.flush()
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code], input=b"protocol-bytes", capture_output=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"protocol-bytes"  # nothing but what the server itself wrote
    assert b"child-on-fd1" in proc.stderr and b"print-on-stdout" in proc.stderr


BAD_OPTIONS = [
    ({"temperature": float("nan")}, "temperature"),
    ({"temperature": float("inf")}, "temperature"),
    ({"temperature": 1e308}, "temperature"),
    ({"temperature": -0.5}, "temperature"),
    ({"candidates": 0}, "candidates"),
    ({"candidates": 17}, "candidates"),
    ({"candidates": True}, "candidates"),
    ({"seed": 2**63}, "seed"),
    ({"seed": -1}, "seed"),
    ({"device": "meta"}, "device"),
    ({"device": "tpu"}, "device"),
    ({"device": "cpu:x"}, "device"),
]


@pytest.mark.parametrize(("options", "name"), BAD_OPTIONS)
def test_decoding_options_are_range_checked_on_the_wire(options, name):
    from texpaste.service.batching import DecodeOptions

    with pytest.raises(RequestError, match=f"^{name} must be"):
        DecodeOptions.from_params(options)


@pytest.mark.parametrize(("options", "name"), [(o, n) for o, n in BAD_OPTIONS if "device" not in o])
def test_decoding_options_are_range_checked_in_process(tiny_recognizer, formula_png, options, name):
    with pytest.raises(RequestError, match=f"^{name} must be"):
        tiny_recognizer.recognize(formula_png, **options)


def test_a_device_torch_cannot_use_is_one_sentence():
    from texpaste.engine.recognizer import pick_device
    from texpaste.errors import TexpasteError

    for name in ("meta", "tpu"):
        with pytest.raises(RequestError, match="^device must be"):
            pick_device(name)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(TexpasteError, match="no CUDA GPU"):
            pick_device("cuda")


def test_the_cli_refuses_bad_options_before_loading_anything(formula_png):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "texpaste",
            "recognize",
            "--no-daemon",
            "--temperature",
            "nan",
            str(formula_png),
        ],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().strip().splitlines() == [
        "texpaste: temperature must be a number from 0 to 100 (got nan)."
    ]


def test_line_output_folds_the_models_line_breaks():
    from texpaste.cli import _one_line

    assert _one_line("a \\\\\nb\n\\end{x}") == "a \\\\ b \\end{x}"
    assert _one_line("x") == "x"


@pytest.mark.parametrize(
    ("section", "raw", "message"),
    [
        ("train", {"lr": "5e-4"}, "lr must be a number, not '5e-4' (YAML read it as text: write 0.0005)"),
        ("train", {"threads": 1.5}, "threads must be a whole number"),
        ("train", {"mix": {"tex": "half"}}, "mix must be a mapping or empty"),
        ("train", {"channels_last": "yes"}, "channels_last must be true or false"),
        ("model", {"backbone_layers": 2}, "backbone_layers must be a list of whole numbers"),
        ("model", {"dim": "256"}, "dim must be a whole number, not '256' (quoted)"),
        ("model", {"temperature": float("nan")}, "temperature must be a number"),
    ],
)
def test_configs_are_type_checked_with_one_sentence(section, raw, message):
    from texpaste.errors import ModelError
    from texpaste.model.config import ModelConfig
    from texpaste.training.train import TrainConfig

    with pytest.raises(ModelError, match=re.escape(message)):
        (TrainConfig if section == "train" else ModelConfig).from_dict(raw)
