"""The better model, when it can be had: a user answered by the bundled model is offered pix2tex, the
download runs under $/progress against a local HTTP server standing in for the release host (the
registry entry is pointed at it, with the files' real sha256), and the next paste uses the new model
without a restart; "Never" is remembered on the machine; offline the failure is one sentence."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcException

from .editor import DATA, b64, start_editor, stop_editor
from .test_store import FakeServer

STAND_IN_SERVER = """
import hashlib, sys
from pathlib import Path
from texpaste.engine import store

base, model = sys.argv[1], Path(sys.argv[2])
files = []
for name in ("weights.pth", "tokenizer.json", "config.yaml"):
    data = (model / name).read_bytes()
    files.append(store.RemoteFile(name, f"{base}/{name}", hashlib.sha256(data).hexdigest(), len(data)))
store.REGISTRY["pix2tex"] = store.ModelSpec("pix2tex", "the official weights (a stand-in)", tuple(files))
from texpaste.cli import main
sys.exit(main(["serve", "--engine", "in-process"]))
"""


@pytest.fixture
def release(tiny_model_dir):
    srv = FakeServer()
    srv.files = {f"/rel/{p.name}": p.read_bytes() for p in tiny_model_dir.iterdir() if p.is_file()}
    yield srv
    srv.close()


async def _editor(base: str, model_dir, cache):
    env = {"TEXPASTE_CACHE_DIR": str(cache), "TEXPASTE_MODEL": ""}
    argv = ["-c", STAND_IN_SERVER, base, str(model_dir)]
    return await start_editor(preset="visual_studio_code", env=env, argv=argv)


async def test_the_offer_downloads_and_the_next_paste_uses_the_new_model(release, tiny_model_dir, tmp_path):
    ed = await _editor(release.base, tiny_model_dir, tmp_path / "cache")
    try:
        status = await ed.request("texpaste/status")
        assert status.model == "texpaste-small" and status.offer.model == "pix2tex"
        assert status.offer.bytes > 0
        uri = ed.open("offer.md", "x \n", "markdown")
        before = await ed.insert(uri, 0, 2, mode="inline")
        assert before.model == "texpaste-small"
        result = await ed.command("texpaste.downloadModel", model="pix2tex")
        assert (
            result.model == "pix2tex"
            and (tmp_path / "cache" / "models" / "pix2tex" / "weights.pth").is_file()
        )
        reports = [r for token in ed.client.progress_reports.values() for r in token]
        percentages = [r.percentage for r in reports if getattr(r, "percentage", None) is not None]
        assert percentages and percentages[-1] == 100
        status = await ed.request("texpaste/status")
        assert status.model == "pix2tex" and not hasattr(status, "offer")
        after = await ed.insert(uri, 0, 0, mode="inline")  # no restart: the next paste uses it
        assert after.model == "pix2tex"
    finally:
        await stop_editor(ed)


async def test_never_is_remembered_and_offline_is_one_sentence(release, tiny_model_dir, tmp_path):
    ed = await _editor(release.base, tiny_model_dir, tmp_path / "cache")
    try:
        release.close()  # offline now
        with pytest.raises(JsonRpcException) as info:
            await ed.command("texpaste.downloadModel", model="pix2tex")
        message = info.value.message
        assert "pix2tex" in message and "TEXPASTE_MODEL" in message and "\n" not in message
        assert info.value.data["kind"] == "download"
        with pytest.raises(JsonRpcException, match="takes a model to download"):
            await ed.command("texpaste.downloadModel", model="texpaste-small")
        await ed.command("texpaste.declineModelOffer", model="pix2tex")
        assert not hasattr(await ed.request("texpaste/status"), "offer")
    finally:
        await stop_editor(ed)
    assert "pix2tex" in (tmp_path / "cache" / "choices.json").read_text()
    ed = await _editor(release.base, tiny_model_dir, tmp_path / "cache")  # another editor, later
    try:
        assert not hasattr(await ed.request("texpaste/status"), "offer")
        assert b64(DATA / "formula.png")
    finally:
        await stop_editor(ed)
