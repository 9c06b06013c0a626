"""`texpaste` as a user runs it: exit codes, one line per image, errors on stderr, JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import draw_formula


def run(*args: str, stdin: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "texpaste", *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        env={**os.environ, "TEXPASTE_THREADS": "1", **(env or {})},
    )


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("imgs")
    paths = {
        "good": d / "good.png",
        "other": d / "other.png",
        "text": d / "notes.txt",
        "trunc": d / "trunc.png",
    }
    draw_formula().save(paths["good"])
    draw_formula("a=b", (150, 50)).save(paths["other"])
    paths["text"].write_text("hello")
    paths["trunc"].write_bytes(paths["good"].read_bytes()[:60])
    return paths


def test_recognize_prints_one_line_per_image(tiny_model_dir, images):
    out = run("recognize", str(images["good"]), str(images["other"]), "--model", str(tiny_model_dir))
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.decode().splitlines()) == 2


def test_bad_files_are_reported_and_the_rest_still_run(tiny_model_dir, images):
    missing = images["good"].parent / "missing.png"
    out = run(
        "recognize",
        str(images["text"]),
        str(images["good"]),
        str(images["trunc"]),
        str(missing),
        "--model",
        str(tiny_model_dir),
    )
    assert out.returncode == 1
    err = out.stderr.decode().splitlines()
    assert any(line.startswith(f"texpaste: {images['text']}: ") for line in err)
    assert any(line.startswith(f"texpaste: {images['trunc']}: ") for line in err)
    assert any(line.startswith(f"texpaste: {missing}: ") for line in err)
    assert "Traceback" not in out.stderr.decode()
    assert len(out.stdout.decode().splitlines()) == 1


def test_json_lines_and_stdin(tiny_model_dir, images):
    out = run(
        "recognize",
        "-",
        "--json",
        "--candidates",
        "2",
        "--format",
        "inline",
        "--model",
        str(tiny_model_dir),
        stdin=images["good"].read_bytes(),
    )
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout.decode().splitlines()[0])
    assert record["file"] == "-"
    assert record["text"] == f"${record['latex']}$" or record["latex"] == ""
    assert {"latex", "candidates", "milliseconds", "timings"} <= set(record)
    assert 1 <= len(record["candidates"]) <= 2


def test_unknown_model_is_one_clear_line(images):
    out = run("recognize", str(images["good"]), "--model", "no-such-model")
    assert out.returncode == 1
    assert out.stderr.decode().count("\n") == 1 and "no-such-model" in out.stderr.decode()


def test_models_init_writes_a_loadable_directory(tmp_path):
    config = Path(__file__).resolve().parents[1] / "configs" / "tiny-test.yaml"
    out = run("models", "init", str(tmp_path / "m"), "--config", str(config), "--seed", "3", "--resizer")
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.yaml",
        "image_resizer.pth",
        "tokenizer.json",
        "weights.pth",
    ]
    out = run(
        "recognize", str(Path(__file__).parent / "data" / "formula.png"), "--model", str(tmp_path / "m")
    )
    assert out.returncode == 0, out.stderr


def test_models_list_names_both_models():
    out = run("models", "list")
    assert out.returncode == 0
    text = out.stdout.decode()
    assert "pix2tex" in text and "texpaste-small" in text


def test_models_list_says_which_model_answers_and_why(tmp_path):
    env = {"TEXPASTE_CACHE_DIR": str(tmp_path), "TEXPASTE_MODEL": ""}
    text = run("models", "list", env=env).stdout.decode()
    assert (
        "\nanswering: texpaste-small (pix2tex is not cached: `texpaste models pull pix2tex` fetches it;"
        in text
    )
    text = run("models", "list", env={**env, "TEXPASTE_MODEL": "texpaste-small"}).stdout.decode()
    assert "answering: texpaste-small (TEXPASTE_MODEL names it;" in text
