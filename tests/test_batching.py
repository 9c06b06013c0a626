"""The engine thread's batching and cancellation, and the model pool, without any process boundary."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from texpaste.errors import Cancelled, ModelError, RequestError
from texpaste.service.batching import Batcher, DecodeOptions
from texpaste.service.pool import ModelPool

from .test_store import cache, server, sha  # noqa: F401 (fixtures)

DATA = Path(__file__).parent / "data"


@pytest.fixture
def gated_pool(tiny_model_dir):
    """A pool whose first load waits for a gate, so jobs pile up deterministically behind it."""
    pool = ModelPool(str(tiny_model_dir), "cpu", threads=1)
    gate = threading.Event()
    real_load = pool._load

    def gated(key):
        gate.wait(30)
        return real_load(key)

    pool._load = gated
    return pool, gate


def test_jobs_waiting_together_share_one_batch_and_keep_their_results(gated_pool, tiny_recognizer):
    pool, gate = gated_pool
    batcher = Batcher(pool, window=0.01)
    image = DATA / "formula.png"
    jobs = [batcher.submit(image, DecodeOptions()) for _ in range(4)]
    odd = batcher.submit(image, DecodeOptions(candidates=3))  # other options: its own batch
    seeded = batcher.submit(image, DecodeOptions(temperature=0.5, seed=1))  # sampling never shares
    gate.set()
    results = [j.future.result(timeout=60) for j in jobs]
    want = tiny_recognizer.recognize(image).latex
    assert {r["latex"] for r in results} == {want}
    assert odd.future.result(timeout=60)["latex"] == tiny_recognizer.recognize(image, candidates=3).latex
    seeded.future.result(timeout=60)
    assert batcher.stats["jobs"] == 6
    assert batcher.stats["largestBatch"] == 4 and batcher.stats["batches"] == 3
    assert max(r["batchSize"] for r in results) == 4
    batcher.close()


def test_a_job_cancelled_while_queued_never_runs(gated_pool):
    pool, gate = gated_pool
    batcher = Batcher(pool)
    progress: list[str] = []
    keep = batcher.submit(DATA / "formula.png", DecodeOptions(), lambda m, p: progress.append(m))
    drop = batcher.submit(DATA / "formula.png", DecodeOptions())
    drop.cancel()
    gate.set()
    assert keep.future.result(timeout=60)["latex"]
    with pytest.raises(Cancelled):
        drop.future.result(timeout=5)
    assert batcher.stats["jobs"] == 1 and not drop.started
    assert progress[0] == "Loading model…" and progress[-1] == "Recognising…"
    batcher.close()


def test_bad_images_fail_alone(tiny_model_dir):
    batcher = Batcher(ModelPool(str(tiny_model_dir), "cpu", threads=1))
    bad = batcher.submit(b"not an image", DecodeOptions())
    good = batcher.submit(DATA / "formula.png", DecodeOptions())
    assert good.future.result(timeout=60)["latex"]
    with pytest.raises(Exception, match="not an image"):
        bad.future.result(timeout=5)
    batcher.close()


def test_pool_reports_a_failed_load_and_retries_later(tmp_path):
    pool = ModelPool(str(tmp_path / "nothing-here"), "cpu", threads=1)
    pool.preload().join(60)
    assert pool.status()["state"] == "error" and "nothing-here" in pool.status()["error"]
    with pytest.raises(ModelError):
        pool.get(None, None)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"candidates": 0}, "from 1 to 16"),
        ({"candidates": True}, "candidates must be a int"),
        ({"temperature": -1}, "temperature must be a number from 0 to 100"),
        ({"temperature": "hot"}, "temperature must be a number"),
        ({"model": 3}, "model must be a str"),
    ],
)
def test_decode_options_are_checked(params, message):
    with pytest.raises(RequestError, match=message):
        DecodeOptions.from_params(params)


def test_the_thin_server_modules_import_no_torch():
    code = (
        "import sys, texpaste.editor.server, texpaste.service.client, texpaste.service.backend, texpaste.cli; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_pool_relays_download_progress_then_loads(tiny_model_dir, monkeypatch, server, cache):  # noqa: F811
    """A model not cached yet: listeners see the download's percentages, then the model loads."""
    from texpaste.engine import store

    files = {n: (tiny_model_dir / n).read_bytes() for n in store.REQUIRED_FILES}
    server.files.update({f"/rel/{n}": data for n, data in files.items()})
    remote = tuple(
        store.RemoteFile(n, f"{server.base}/{n}", sha(data), len(data)) for n, data in files.items()
    )
    monkeypatch.setattr(
        store, "REGISTRY", {"remote-tiny": store.ModelSpec("remote-tiny", "test", files=remote)}
    )
    pool = ModelPool("remote-tiny", "cpu", threads=1)
    seen: list[tuple[str, float | None]] = []
    rec = pool.get(None, None, progress=lambda message, pct: seen.append((message, pct)))
    assert rec.name == "remote-tiny" and pool.status()["state"] == "ready"
    assert seen[0] == ("Loading model…", None)
    weights = [pct for message, pct in seen if message == "Downloading weights.pth…"]
    assert weights[0] == 0.0 and weights[-1] == 100.0 and weights == sorted(weights)


def test_loading_one_model_never_stalls_recognitions_on_a_loaded_one(tiny_model_dir, tmp_path):
    """D5: a slow load (a download on a bad network) of one model runs beside the engine thread."""
    import shutil

    other = shutil.copytree(tiny_model_dir, tmp_path / "other-model")
    pool = ModelPool(str(tiny_model_dir), "cpu", threads=1)
    pool.get(None, None)
    gate, real_load = threading.Event(), pool._load
    pool._load = lambda key: (gate.wait(60), real_load(key))[1] if key[0] == str(other) else real_load(key)
    batcher = Batcher(pool, window=0.0)
    try:
        slow = batcher.submit(DATA / "formula.png", DecodeOptions(model=str(other)))
        fast = [batcher.submit(DATA / "formula.png", DecodeOptions()) for _ in range(3)]
        assert all(job.future.result(timeout=30)["latex"] for job in fast)
        assert not slow.future.done()
        gate.set()
        assert slow.future.result(timeout=60)["model"] == "other-model"
    finally:
        gate.set()
        batcher.close()
