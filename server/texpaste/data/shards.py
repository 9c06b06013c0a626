"""Shard files: a tar of PNG images plus an ``index.jsonl`` with one record per image.

Tar keeps shards streamable, inspectable with standard tools, and free of pickles.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image


@dataclass
class Sample:
    latex: str  # the formula as rendered (raw source)
    font: str
    dpi: int
    png: bytes
    renderer: str = "tex"  # the style, for the training mix (shards written before it had one are TeX)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # deterministic bytes for the same content
    tar.addfile(info, io.BytesIO(data))


def write_shard(path: Path, samples: list[Sample]) -> None:
    tmp = path.with_suffix(".tmp")
    with tarfile.open(tmp, "w") as tar:
        index = []
        for i, s in enumerate(samples):
            name = f"{i:06d}.png"
            _add(tar, name, s.png)
            meta = {k: v for k, v in asdict(s).items() if k != "png"}
            index.append(json.dumps({"file": name, **meta}, ensure_ascii=False))
        _add(tar, "index.jsonl", ("\n".join(index) + "\n").encode("utf-8"))
    tmp.replace(path)


def read_shard(path: Path) -> Iterator[Sample]:
    with tarfile.open(path, "r") as tar:
        files = {m.name: m for m in tar.getmembers()}
        index = tar.extractfile(files["index.jsonl"])
        assert index is not None
        for line in index.read().decode("utf-8").splitlines():
            rec = json.loads(line)
            fh = tar.extractfile(files[rec.pop("file")])
            assert fh is not None
            yield Sample(png=fh.read(), **rec)


def shard_paths(directory: str | Path) -> list[Path]:
    return sorted(Path(directory).glob("shard-*.tar"))


def encode_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()
