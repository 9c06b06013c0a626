"""The model store against a local HTTP server on 127.0.0.1: download, verification, errors and resolution."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections import Counter
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from texpaste.engine import store
from texpaste.errors import DownloadError, ModelError

WEIGHTS = os.urandom(300_000)
RESIZER = os.urandom(50_000)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeServer:
    """Serves ``files`` (URL path -> bytes); ``fail`` maps a path to status codes answered before the real file."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {"/rel/weights.pth": WEIGHTS, "/rel/image_resizer.pth": RESIZER}
        self.fail: dict[str, list[int]] = {}
        self.hits: Counter[str] = Counter()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                outer.hits[self.path] += 1
                pending = outer.fail.get(self.path)
                if pending:
                    self.send_error(pending.pop(0))
                    return
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/rel"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = FakeServer()
    yield srv
    srv.close()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An isolated cache, no model/download overrides from the developer's environment, and instant retries."""
    monkeypatch.setenv("TEXPASTE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TEXPASTE_MODEL", raising=False)
    monkeypatch.delenv("TEXPASTE_DOWNLOAD_BASE", raising=False)
    monkeypatch.setattr(store, "RETRY_DELAYS", (0.0, 0.0))
    monkeypatch.setattr(store, "DOWNLOAD_TIMEOUT", 5.0)
    return tmp_path / "cache" / "models"


def local_file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "bundled-src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_spec(tmp_path: Path, base: str, name: str = "fake", weights: bytes = WEIGHTS) -> store.ModelSpec:
    tok, cfg = b'{"model": {}}', b"dim: 8\n"
    return store.ModelSpec(
        name=name,
        description="test model",
        files=(
            store.RemoteFile("weights.pth", f"{base}/weights.pth", sha(weights), len(weights)),
            store.RemoteFile("image_resizer.pth", f"{base}/image_resizer.pth", sha(RESIZER)),
            store.RemoteFile(
                "tokenizer.json", f"{base}/tokenizer.json", sha(tok), None, local_file(tmp_path, "tok", tok)
            ),
            store.RemoteFile(
                "config.yaml", f"{base}/config.yaml", sha(cfg), None, local_file(tmp_path, "cfg", cfg)
            ),
        ),
    )


def write_model_dir(path: Path, skip: str | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name in store.REQUIRED_FILES:
        if name != skip:
            (path / name).write_bytes(b"x")
    return path


@pytest.fixture
def registry(tmp_path, monkeypatch, server, cache):
    """REGISTRY with a downloadable fake ``pix2tex`` and a bundled ``texpaste-small`` that does not exist yet."""
    reg = {
        "pix2tex": make_spec(tmp_path, server.base, name="pix2tex"),
        "texpaste-small": store.ModelSpec("texpaste-small", "bundled", bundled_dir=tmp_path / "small"),
    }
    monkeypatch.setattr(store, "REGISTRY", reg)
    return reg


def no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.rglob("*") if p.name.endswith(".part")]


# ------------------------------------------------------------------------------------------ download


def test_pull_downloads_verifies_copies_bundled_files_and_reports_progress(registry, server, cache):
    calls: list[tuple[str, int, int | None]] = []
    path = store.pull("pix2tex", progress=lambda *a: calls.append(a))
    assert path == cache / "pix2tex" == store.model_path("pix2tex")
    assert (path / "weights.pth").read_bytes() == WEIGHTS
    assert (path / "image_resizer.pth").read_bytes() == RESIZER
    assert (path / "tokenizer.json").read_bytes() == b'{"model": {}}'
    assert (path / store.STAMP_NAME).is_file()
    assert no_temp_files(cache)
    assert (
        calls[0] == ("weights.pth", 0, len(WEIGHTS)) and ("weights.pth", len(WEIGHTS), len(WEIGHTS)) in calls
    )
    assert ("image_resizer.pth", len(RESIZER), len(RESIZER)) in calls
    assert "/rel/tokenizer.json" not in server.hits  # copied from the package, never downloaded
    resolved = store.resolve("pix2tex", download=False)
    assert (resolved.name, resolved.path, resolved.source, resolved.notice) == (
        "pix2tex",
        path,
        "cache",
        None,
    )


def test_download_base_env_and_spec_parameter_replace_the_release_prefix(
    tmp_path, monkeypatch, server, cache
):
    official = make_spec(tmp_path, store.OFFICIAL_RELEASE_BASE)
    monkeypatch.setattr(store, "REGISTRY", {"fake": official})
    monkeypatch.setenv("TEXPASTE_DOWNLOAD_BASE", server.base + "/")
    assert (store.pull("fake") / "weights.pth").read_bytes() == WEIGHTS
    monkeypatch.delenv("TEXPASTE_DOWNLOAD_BASE")
    mirrored = replace(official, name="fake2", download_base=server.base)
    assert mirrored.url_of(mirrored.files[0]) == f"{server.base}/weights.pth"
    monkeypatch.setattr(store, "REGISTRY", {"fake2": mirrored})
    assert (store.pull("fake2") / "image_resizer.pth").read_bytes() == RESIZER


def test_sha256_mismatch_raises_and_leaves_no_file(tmp_path, monkeypatch, server, cache):
    spec = make_spec(tmp_path, server.base, weights=b"what the registry expects")
    monkeypatch.setattr(store, "REGISTRY", {"fake": spec})
    with pytest.raises(DownloadError) as info:
        store.pull("fake")
    message = str(info.value)
    assert (
        "weights.pth" in message and sha(WEIGHTS) in message and sha(b"what the registry expects") in message
    )
    assert not (cache / "fake" / "weights.pth").exists()
    assert no_temp_files(cache)
    assert server.hits["/rel/weights.pth"] == 1  # a wrong hash is not retried


def test_http_404_gives_one_clear_error_without_retrying(registry, server, cache):
    del server.files["/rel/weights.pth"]
    with pytest.raises(DownloadError) as info:
        store.resolve("pix2tex")
    message = str(info.value)
    assert f"{server.base}/weights.pth" in message and f"{server.base}/image_resizer.pth" in message
    assert "404" in message and str(cache / "pix2tex") in message
    assert "TEXPASTE_MODEL" in message and "--model DIR" in message
    assert server.hits["/rel/weights.pth"] == 1
    assert no_temp_files(cache)


def test_connection_refused_is_retried_then_reported(tmp_path, monkeypatch, cache):
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}/rel"
    monkeypatch.setattr(store, "REGISTRY", {"fake": make_spec(tmp_path, base)})
    sleeps: list[float] = []
    monkeypatch.setattr(store.time, "sleep", sleeps.append)
    with pytest.raises(DownloadError) as info:
        store.pull("fake")
    message = str(info.value)
    assert f"{base}/weights.pth" in message and str(cache / "fake") in message and "TEXPASTE_MODEL" in message
    assert "refused" in message.lower()
    assert sleeps == [0.0, 0.0]  # three attempts


def test_server_error_is_retried_and_then_succeeds(registry, server, cache):
    server.fail["/rel/weights.pth"] = [503, 500]
    assert (store.pull("pix2tex") / "weights.pth").read_bytes() == WEIGHTS
    assert server.hits["/rel/weights.pth"] == 3


# ------------------------------------------------------------------------------------------ cache verification


def test_corrupt_cached_file_is_detected_removed_and_downloaded_again(registry, server, cache, caplog):
    path = store.pull("pix2tex")
    (path / "weights.pth").write_bytes(b"tampered")
    with caplog.at_level(logging.WARNING, logger="texpaste.engine.store"):
        assert store.resolve("pix2tex").path == path
    assert (path / "weights.pth").read_bytes() == WEIGHTS
    assert server.hits["/rel/weights.pth"] == 2
    assert "failed verification" in caplog.text


def test_corrupt_cached_file_without_download_is_removed_and_reported(registry, server, cache):
    path = store.pull("pix2tex")
    (path / "image_resizer.pth").write_bytes(b"tampered")
    with pytest.raises(DownloadError) as info:
        store.resolve("pix2tex", download=False)
    assert "removed" in str(info.value) and "image_resizer.pth" in str(info.value)
    assert not (path / "image_resizer.pth").exists()


def test_verified_stamp_avoids_rehashing_until_the_file_changes(registry, server, cache, monkeypatch):
    path = store.pull("pix2tex")
    hashed: list[Path] = []
    monkeypatch.setattr(store, "_sha256_of", lambda p: hashed.append(p) or sha(p.read_bytes()))
    store.resolve("pix2tex", download=False)
    assert hashed == []
    stat = (path / "weights.pth").stat()
    os.utime(path / "weights.pth", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    store.resolve("pix2tex", download=False)
    assert hashed == [path / "weights.pth"]
    store.resolve("pix2tex", download=False)  # re-stamped
    assert len(hashed) == 1


def test_tampering_that_restores_size_and_mtime_is_detected_and_pull_repairs_it(registry, server, cache):
    path = store.pull("pix2tex")
    target = path / "weights.pth"
    before = target.stat()
    flipped = bytearray(target.read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF  # same size
    target.write_bytes(bytes(flipped))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime
    with pytest.raises(DownloadError, match="was corrupt"):
        store.resolve("pix2tex", download=False)
    target.write_bytes(bytes(flipped))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert store.pull("pix2tex") == path
    assert target.read_bytes() == WEIGHTS


def test_pull_rehashes_even_a_matching_stamp(registry, server, cache, monkeypatch):
    store.pull("pix2tex")
    hashed: list[Path] = []
    monkeypatch.setattr(store, "_sha256_of", lambda p: hashed.append(p) or sha(p.read_bytes()))
    store.pull("pix2tex")
    assert len(hashed) == len(store._spec("pix2tex").files)


def test_not_cached_and_download_disallowed(registry, cache):
    with pytest.raises(ModelError) as info:
        store.resolve("pix2tex", download=False)
    assert "texpaste models pull pix2tex" in str(info.value)


def test_concurrent_pulls_download_once_and_agree(registry, server, cache):
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            store.pull("pix2tex")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert (cache / "pix2tex" / "weights.pth").read_bytes() == WEIGHTS
    assert server.hits["/rel/weights.pth"] == 1
    assert no_temp_files(cache)


# ------------------------------------------------------------------------------------------ resolution


def test_directory_model_missing_file_names_it(tmp_path, cache):
    model = write_model_dir(tmp_path / "mine", skip="tokenizer.json")
    with pytest.raises(ModelError, match="missing tokenizer.json"):
        store.resolve(str(model))
    (model / "tokenizer.json").write_text("{}")
    resolved = store.resolve(str(model))
    assert (resolved.path, resolved.source) == (model, "directory")


def test_bad_names_and_paths(tmp_path, cache):
    with pytest.raises(ModelError, match="does not exist"):
        store.resolve(str(tmp_path / "nowhere"))
    (tmp_path / "weights.pth").write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file"):
        store.resolve(str(tmp_path / "weights.pth"))
    with pytest.raises(ModelError, match="Unknown model 'nonesuch'"):
        store.resolve("nonesuch")


def test_default_falls_back_to_bundled_small_model_with_notice(registry, tmp_path, cache, monkeypatch):
    with pytest.raises(ModelError, match="No model is available"):
        store.resolve(None)
    write_model_dir(tmp_path / "small")
    resolved = store.resolve(None)
    assert (resolved.name, resolved.source, resolved.path) == (
        "texpaste-small",
        "bundled",
        tmp_path / "small",
    )
    assert "texpaste-small" in resolved.notice and "texpaste models pull pix2tex" in resolved.notice
    assert store.resolve("texpaste-small").source == "bundled"

    store.pull("pix2tex")
    resolved = store.resolve(None)
    assert (resolved.name, resolved.source, resolved.notice) == ("pix2tex", "cache", None)

    own = write_model_dir(tmp_path / "own")
    monkeypatch.setenv("TEXPASTE_MODEL", str(own))
    assert store.resolve(None).path == own


def test_bundled_model_not_installed_is_a_clear_error(registry, tmp_path):
    with pytest.raises(ModelError, match="bundled texpaste-small model is not installed"):
        store.resolve("texpaste-small")


def test_cache_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXPASTE_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert store.cache_dir() == tmp_path / "elsewhere" / "models"
    assert store.model_path("pix2tex") == tmp_path / "elsewhere" / "models" / "pix2tex"
    monkeypatch.delenv("TEXPASTE_CACHE_DIR")
    assert store.cache_dir().parts[-2:] == ("texpaste", "models")


def test_list_models_reports_status(registry, tmp_path, cache):
    status = {row["name"]: row["status"] for row in store.list_models()}
    assert status == {"pix2tex": "not cached", "texpaste-small": "missing"}
    store.pull("pix2tex")
    write_model_dir(tmp_path / "small")
    rows = {row["name"]: row for row in store.list_models()}
    assert rows["pix2tex"]["status"] == "cached" and rows["pix2tex"]["path"] == str(cache / "pix2tex")
    assert rows["texpaste-small"]["status"] == "bundled"


# ------------------------------------------------------------------------------------------ the real registry


def test_official_registry_bundled_copies_match_hard_coded_hashes():
    spec = store.REGISTRY["pix2tex"]
    assert {f.name for f in spec.files} == {
        "weights.pth",
        "image_resizer.pth",
        "tokenizer.json",
        "config.yaml",
    }
    for remote in spec.files:
        if remote.local_copy is not None:
            assert sha(remote.local_copy.read_bytes()) == remote.sha256, remote.name
    assert spec.url_of(spec.files[0]) == f"{store.OFFICIAL_RELEASE_BASE}/weights.pth"


def test_official_pix2tex_offline_names_only_the_files_to_download(cache):
    with pytest.raises(ModelError) as info:
        store.resolve("pix2tex", download=False)
    message = str(info.value)
    assert "weights.pth" in message and "image_resizer.pth" in message and "tokenizer.json" not in message
    assert not isinstance(info.value, DownloadError)
