"""Seeded hostile inputs for the fuzz tests (a few hundred of each, in CI) and for
``benchmarks/reliability.py`` (thousands): image bytes, daemon wire frames, LSP requests.

Every generator is a pure function of its seed and count, so a failure reproduces from its case name.
"""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

DATA = Path(__file__).parent / "data"


# -- images -------------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_declaring(width: int, height: int, depth: int = 8, color: int = 0, idat: bytes = b"") -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression or allocation bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    body = idat or zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def _encoded(img: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def valid_images() -> dict[str, bytes]:
    """The formula fixture in every format and mode texpaste accepts, plus odd but legal shapes."""
    base = Image.open(DATA / "formula.png")
    base.load()
    gray, rgb = base.convert("L"), base.convert("RGB")
    out = {
        "png-L": _encoded(gray, "PNG"),
        "png-RGB": _encoded(rgb, "PNG"),
        "png-RGBA": _encoded(base.convert("RGBA"), "PNG"),
        "png-P": _encoded(rgb.convert("P"), "PNG"),
        "png-1": _encoded(gray.convert("1"), "PNG"),
        "png-I16": _encoded(gray.point(lambda v: v * 257).convert("I;16"), "PNG"),
        "jpeg": _encoded(rgb, "JPEG", quality=80),
        "jpeg-progressive": _encoded(rgb, "JPEG", progressive=True),
        "gif": _encoded(rgb.convert("P"), "GIF"),
        "bmp": _encoded(rgb, "BMP"),
        "tiff": _encoded(rgb, "TIFF"),
        "tiff-lzw": _encoded(gray, "TIFF", compression="tiff_lzw"),
        "webp": _encoded(rgb, "WEBP", lossless=True),
        "dark": _encoded(Image.eval(gray, lambda v: 255 - v), "PNG"),
        "1x1": _encoded(Image.new("L", (1, 1), 0), "PNG"),
        "1x5000": _encoded(Image.new("L", (1, 5000), 0), "PNG"),
        "5000x1": _encoded(Image.new("L", (5000, 1), 0), "PNG"),
        "blank": _encoded(Image.new("RGB", (300, 80), "white"), "PNG"),
    }
    return out


REFUSED = {  # formats Pillow could open but texpaste documents no support for (EPS would run Ghostscript)
    "eps": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\n",
    "pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    "ppm": b"P6\n2 2\n255\n" + b"\0" * 12,
    "ico": b"\0\0\1\0\1\0\x10\x10\0\0\1\0\x20\0" + b"\0" * 40,
    "text": b"\\frac{a}{b}",
    "empty": b"",
    "html": b"<html><body><img src=x></body></html>",
}


def image_cases(seed: int, n: int) -> Iterator[tuple[str, bytes]]:
    """``n`` (name, bytes) cases: valid images, truncations, bit flips, byte runs, wrong magic, random
    bytes, header-declared bombs and refused formats, drawn with ``seed``."""
    rng = random.Random(seed)
    valid = valid_images()
    names = sorted(valid)
    fixed = [(f"valid/{k}", v) for k, v in valid.items()] + [(f"refused/{k}", v) for k, v in REFUSED.items()]
    bombs = [
        ("bomb/png-30000x30000", png_declaring(30000, 30000)),
        ("bomb/png-2^31-1-square", png_declaring(2**31 - 1, 2**31 - 1)),
        ("bomb/png-1x2^31-1", png_declaring(1, 2**31 - 1)),
        ("bomb/png-0-width", png_declaring(0, 10)),
        ("bomb/png-16bit-7000x7000", png_declaring(7000, 7000, depth=16)),
        ("bomb/png-idat-zlib", png_declaring(6000, 6000, idat=zlib.compress(b"\0" * 36_006_000, 9))),
        ("bomb/gif-65535-screen", b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\0\0\0" + b";"),
        (
            "bomb/bmp-100000",
            b"BM"
            + struct.pack("<IHHI", 0, 0, 0, 54)
            + struct.pack("<IiiHHIIiiII", 40, 100000, 100000, 1, 24, 0, 0, 0, 0, 0, 0),
        ),
    ]
    fixed += bombs
    yield from fixed[:n]
    for i in range(max(0, n - len(fixed))):
        name = names[rng.randrange(len(names))]
        data = bytearray(valid[name])
        kind = rng.choice(["truncate", "flip", "run", "magic", "random"])
        if kind == "truncate":
            cut = rng.choice([1, 2, 4, 8, 16, len(data) // 2, len(data) - 1, rng.randrange(1, len(data))])
            data = data[:cut]
        elif kind == "flip":
            for _ in range(rng.randint(1, 16)):
                pos = rng.randrange(len(data))
                data[pos] ^= 1 << rng.randrange(8)
        elif kind == "run":
            pos = rng.randrange(len(data))
            data[pos : pos + rng.randint(1, 64)] = bytes([rng.randrange(256)]) * rng.randint(1, 64)
        elif kind == "magic":
            data[: rng.randint(1, 8)] = rng.randbytes(rng.randint(1, 8))
        else:
            data = bytearray(rng.randbytes(rng.randint(1, 20_000)))
            if rng.random() < 0.3:  # a real signature in front of noise
                data[:8] = valid[name][:8]
        yield f"{kind}/{name}/{i}", bytes(data)


# -- daemon wire frames ---------------------------------------------------------------------------------


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["int", "float", "str", "bool", "null"] + (["list", "dict"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**30, rng.randrange(-1000, 1000)])
    if kind == "float":
        return rng.choice([0.5, -1e308, 1e308, 3.14, -0.0])
    if kind == "str":
        return rng.choice(
            [
                "",
                "x",
                "é",
                "\u2028",
                "\ud7ff",
                "a" * 300,
                "../../etc/passwd",
                "/dev/zero",
                "cuda:99",
                "meta",
                "texpaste-small",
                "\0",
                "data:image/png;base64,AAAA",
            ]
        )
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {
        rng.choice(["id", "method", "params", "x", "imageBase64", "model"]): _random_json(rng, depth + 1)
        for _ in range(rng.randint(0, 4))
    }


DAEMON_METHODS = [
    "hello",
    "status",
    "recognize",
    "cancel",
    "nonsense",
    "",
]  # never "shutdown": it would end the run
RECOGNIZE_KEYS = [
    "imageBase64",
    "imagePath",
    "model",
    "device",
    "candidates",
    "temperature",
    "resize",
    "seed",
]


def daemon_frames(seed: int, n: int, model: str, image_b64: str) -> Iterator[tuple[str, bytes]]:
    """``n`` one-line frames for the daemon socket: random JSON, requests with odd ids and params,
    valid recognitions with one field spoiled, and non-JSON bytes. Each frame ends with a newline."""
    rng = random.Random(seed)
    for i in range(n):
        kind = rng.choice(["json", "request", "recognize", "bytes"])
        if kind == "json":
            body = json.dumps(_random_json(rng))
        elif kind == "request":
            message: dict[str, Any] = {"method": rng.choice(DAEMON_METHODS)}
            if rng.random() < 0.9:
                message["id"] = rng.choice([i, f"s{i}", _random_json(rng)])
            if rng.random() < 0.8:
                message["params"] = rng.choice([{}, _random_json(rng), {"id": _random_json(rng)}])
            body = json.dumps(message)
        elif kind == "recognize":
            params: dict[str, Any] = {"imageBase64": image_b64, "model": model, "candidates": 1}
            spoiled = rng.choice(RECOGNIZE_KEYS)
            params[spoiled] = _random_json(rng)
            body = json.dumps({"id": f"r{i}", "method": "recognize", "params": params})
        else:
            raw = rng.randbytes(rng.randint(1, 200)).replace(b"\n", b" ")
            yield f"bytes/{i}", raw + b"\n"
            continue
        yield f"{kind}/{i}", body.encode() + b"\n"


# -- LSP requests -----------------------------------------------------------------------------------------


LSP_METHODS = [
    "texpaste/recognize",
    "texpaste/status",
    "workspace/executeCommand",
    "textDocument/codeAction",
    "workspace/executeCommand",
    "texpaste/nonsense",
]


def lsp_opening(uri: str) -> list[dict[str, Any]]:
    """The messages that open a session on one Markdown document: ``initialize`` (id "init"; wait for its
    answer before the rest), ``initialized`` and ``didOpen``."""
    return [
        {
            "jsonrpc": "2.0",
            "id": "init",
            "method": "initialize",
            "params": {"capabilities": {"window": {"workDoneProgress": True}}},
        },
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": uri,
                    "languageId": "markdown",
                    "version": 1,
                    "text": "Some $x$ text\n\n",
                }
            },
        },
    ]


def lsp_requests(seed: int, n: int, uri: str, image_b64: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``n`` JSON-RPC requests (id = case number) for ``texpaste serve`` with random or spoiled params."""
    rng = random.Random(seed)
    for i in range(n):
        method = rng.choice(LSP_METHODS)
        good: dict[str, Any] = {"uri": uri, "position": {"line": 0, "character": 0}, "imageBase64": image_b64}
        if method == "workspace/executeCommand":
            args = dict(good)
            args[rng.choice(["uri", "position", "imageBase64", "range", "mode", "imagePath"])] = _random_json(
                rng
            )
            command = rng.choice(
                ["texpaste.insertFormula", "texpaste.insertFormula", "texpaste.nope", _random_json(rng)]
            )
            params: Any = {
                "command": command,
                "arguments": rng.choice([[args], [], [_random_json(rng)], args]),
            }
        elif method == "textDocument/codeAction":
            params = rng.choice(
                [
                    _random_json(rng),
                    {
                        "textDocument": {"uri": uri},
                        "range": _random_json(rng),
                        "context": {"diagnostics": []},
                    },
                ]
            )
        elif method == "texpaste/recognize":
            params = dict(good)
            params[rng.choice(["imageBase64", "candidates", "mode", "uri", "position", "languageId"])] = (
                _random_json(rng)
            )
        else:
            params = _random_json(rng)
        yield f"{method}/{i}", {"jsonrpc": "2.0", "id": i, "method": method, "params": params}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
