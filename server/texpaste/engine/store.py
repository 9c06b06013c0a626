"""The model store: named models, the user cache they download into, and sha256-verified fetching.

A model is a directory holding ``config.yaml``, ``weights.pth``, ``tokenizer.json`` and optionally
``image_resizer.pth``. Named models either download into ``cache_dir()/<name>`` or ship inside the package.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from texpaste.assets import BUNDLED_MODEL_DIR, PIX2TEX_CONFIG, PIX2TEX_TOKENIZER
from texpaste.errors import DownloadError, ModelError

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]
"""``progress(file_name, bytes_done, total_bytes_or_None)``, called as each file streams in."""

REQUIRED_FILES = ("config.yaml", "weights.pth", "tokenizer.json")
OPTIONAL_FILES = ("image_resizer.pth",)
STAMP_NAME = ".verified"

OFFICIAL_RELEASE_BASE = "https://github.com/lukas-blecher/LaTeX-OCR/releases/download/v0.0.1"
_OFFICIAL_RAW_BASE = (
    "https://raw.githubusercontent.com/lukas-blecher/LaTeX-OCR/f0269de46ed87c6dde917a3b8b95d9e3ced7cd5f"
)

# Network behaviour; module attributes so that tests (and only tests) can shorten them.
DOWNLOAD_TIMEOUT = 30.0  # seconds of socket inactivity before an attempt fails
RETRY_DELAYS = (1.0, 4.0)  # pause before the 2nd and 3rd attempt
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One file of a downloadable model; ``local_copy`` (a bundled file) is used instead of ``url`` when present."""

    name: str
    url: str
    sha256: str
    size_hint: int | None = None
    local_copy: Path | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: either ``files`` to fetch into the cache, or a ``bundled_dir`` inside the package.

    ``download_base``, when set, replaces the official release prefix of every file URL (a mirror);
    the environment variable ``TEXPASTE_DOWNLOAD_BASE`` does the same and takes precedence.
    """

    name: str
    description: str
    files: tuple[RemoteFile, ...] = ()
    bundled_dir: Path | None = None
    download_base: str | None = None

    @property
    def bundled(self) -> bool:
        return self.bundled_dir is not None

    def url_of(self, remote: RemoteFile) -> str:
        base = os.environ.get("TEXPASTE_DOWNLOAD_BASE") or self.download_base
        if base and remote.url.startswith(OFFICIAL_RELEASE_BASE + "/"):
            return base.rstrip("/") + remote.url[len(OFFICIAL_RELEASE_BASE) :]
        return remote.url


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's files are. ``notice`` is a sentence for the user when the default choice needs explaining."""

    name: str
    path: Path
    source: Literal["bundled", "cache", "directory"]
    notice: str | None = None


REGISTRY: dict[str, ModelSpec] = {
    "pix2tex": ModelSpec(
        name="pix2tex",
        description="The official pix2tex (LaTeX-OCR v0.0.1) weights, about 120 MB, MIT licensed.",
        files=(
            RemoteFile(
                "weights.pth",
                f"{OFFICIAL_RELEASE_BASE}/weights.pth",
                "a63d9141c53d266cb682fb5a8bd83bd5cbe283145e0e78ebdc0f895195a1dfaa",
                size_hint=102_100_000,
            ),
            RemoteFile(
                "image_resizer.pth",
                f"{OFFICIAL_RELEASE_BASE}/image_resizer.pth",
                "1c3820659985ad142b526490bb25c23d977176ac2073591b3bddada692718458",
                size_hint=19_400_000,
            ),
            RemoteFile(
                "tokenizer.json",
                f"{_OFFICIAL_RAW_BASE}/pix2tex/model/dataset/tokenizer.json",
                "1dc27b18d6a518d0d5ff3f4bb7bd98521fe80ad39e5b2a246d4109f1bb9d5019",
                size_hint=24_174,
                local_copy=PIX2TEX_TOKENIZER,
            ),
            RemoteFile(
                "config.yaml",
                f"{_OFFICIAL_RAW_BASE}/pix2tex/model/settings/config.yaml",
                "8957d585b6828984078af2f58db4198a4fec425a8ef8f1031e5570a165419bb3",
                size_hint=862,
                local_copy=PIX2TEX_CONFIG,
            ),
        ),
    ),
    "texpaste-small": ModelSpec(
        name="texpaste-small",
        description="A small model bundled with texpaste: works offline, less accurate than pix2tex.",
        bundled_dir=BUNDLED_MODEL_DIR,
    ),
}
DEFAULT_MODEL = "pix2tex"
FALLBACK_MODEL = "texpaste-small"


# ---------------------------------------------------------------------------------------------- public API


def cache_dir() -> Path:
    """The directory holding downloaded models: ``<user cache>/texpaste/models``.

    ``TEXPASTE_CACHE_DIR`` replaces ``<user cache>/texpaste`` (models then live in ``$TEXPASTE_CACHE_DIR/models``).
    """
    root = os.environ.get("TEXPASTE_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "models"
    import platformdirs  # deferred: only the store needs it

    return Path(platformdirs.user_cache_dir("texpaste")) / "models"


def model_path(name: str) -> Path:
    """Where the registered model ``name`` lives (or would live once pulled)."""
    spec = _spec(name)
    return spec.bundled_dir if spec.bundled_dir is not None else cache_dir() / spec.name


def resolve(
    name_or_path: str | None,
    *,
    download: bool = True,
    progress: Progress | None = None,
) -> ResolvedModel:
    """Find the model to load.

    Args:
        name_or_path: A model directory, a registered model name, or None for ``TEXPASTE_MODEL`` or the default
            (``pix2tex`` when it is cached, else the bundled ``texpaste-small``, with a ``notice`` saying so).
        download: Whether missing files of a registered model may be fetched from the network.
        progress: Called with ``(file_name, bytes_done, total)`` while downloading; without it a tqdm bar is drawn
            on stderr when stderr is a terminal.

    Raises:
        ModelError: The directory is incomplete, the name is unknown, or the model is not available offline.
        DownloadError: Fetching or verifying the files failed.
    """
    if name_or_path is None:
        env = os.environ.get("TEXPASTE_MODEL", "").strip()
        if env:
            return resolve(env, download=download, progress=progress)
        return _resolve_default()
    spec = REGISTRY.get(name_or_path)
    if spec is None or _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if spec is None and not path.exists() and not _looks_like_path(name_or_path):
            known = ", ".join(sorted(REGISTRY))
            raise ModelError(
                f"Unknown model '{name_or_path}': it is neither a registered model ({known}) nor a directory."
            )
        return ResolvedModel(path.name or str(path), validate_dir(path), "directory")
    if spec.bundled:
        return ResolvedModel(spec.name, _bundled_dir(spec), "bundled")
    return ResolvedModel(spec.name, _ensure(spec, download=download, progress=progress), "cache")


def pull(name: str, progress: Progress | None = None) -> Path:
    """Download (or verify the cached copy of) the registered model ``name`` and return its directory."""
    spec = _spec(name)
    if spec.bundled:
        return _bundled_dir(spec)
    return _ensure(spec, download=True, progress=progress, rehash=True)  # pull trusts no stamp: it repairs


def model_offer() -> dict[str, object] | None:
    """What to offer a user whose default choice fell back to the bundled model: the preferred model
    and its download size, unless it is cached or the user said "Never" on this machine."""
    spec = REGISTRY.get(DEFAULT_MODEL)
    if spec is None or spec.bundled or _default_is_cached() or DEFAULT_MODEL in _declined():
        return None
    size = sum(f.size_hint or 0 for f in spec.files if f.local_copy is None)
    return {
        "model": spec.name,
        "description": spec.description,
        "bytes": size,
        "megabytes": round(size / 1e6),
    }


def decline_offer(name: str) -> None:
    """Remember on this machine (beside the cache) that the user does not want ``name`` offered again."""
    path = _choices_path()
    declined = sorted({*_declined(), name})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"declined": declined}), encoding="utf-8")
    tmp.replace(path)


def _choices_path() -> Path:
    return cache_dir().parent / "choices.json"


def _declined() -> set[str]:
    try:
        data = json.loads(_choices_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    declined = data.get("declined") if isinstance(data, dict) else None
    return {d for d in declined if isinstance(d, str)} if isinstance(declined, list) else set()


def list_models() -> list[dict[str, object]]:
    """The registered models for ``texpaste models list``; cheap (trusts ``.verified`` stamps, never hashes).

    Each entry has ``name``, ``description``, ``status`` (``bundled``, ``missing``, ``cached``, ``unverified``,
    ``partial`` or ``not cached``), ``path`` and ``size`` (approximate download bytes, 0 when bundled).
    """
    rows: list[dict[str, object]] = []
    for spec in REGISTRY.values():
        path = model_path(spec.name)
        if spec.bundled:
            status = "bundled" if _missing_required(path) == [] else "missing"
        else:
            present = [f for f in spec.files if (path / f.name).is_file()]
            stamp = _read_stamp(path)
            if len(present) == len(spec.files):
                status = "cached" if all(_stamp_matches(stamp, path, f) for f in spec.files) else "unverified"
            else:
                status = "partial" if any(f.local_copy is None for f in present) else "not cached"
        size = sum(f.size_hint or 0 for f in spec.files if f.local_copy is None)
        rows.append(
            {
                "name": spec.name,
                "description": spec.description,
                "status": status,
                "path": str(path),
                "size": size,
            }
        )
    return rows


def validate_dir(path: Path) -> Path:
    """Check that ``path`` is a model directory and return it; ModelError names what is wrong."""
    if not path.exists():
        raise ModelError(f"Model directory {path} does not exist.")
    if not path.is_dir():
        raise ModelError(f"{path} is a file, not a model directory: point at the directory that holds it.")
    missing = _missing_required(path)
    if missing:
        raise ModelError(
            f"Model directory {path} is missing {' and '.join(missing)} "
            f"(a model directory holds {', '.join(REQUIRED_FILES)} and optionally {', '.join(OPTIONAL_FILES)})."
        )
    return path


# ---------------------------------------------------------------------------------------------- resolution


def _spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(
            f"Unknown model '{name}'; registered models are {', '.join(sorted(REGISTRY))}."
        ) from None


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.startswith((".", "~")) or Path(text).is_absolute()


def _missing_required(path: Path) -> list[str]:
    return [name for name in REQUIRED_FILES if not (path / name).is_file()]


def _bundled_dir(spec: ModelSpec) -> Path:
    assert spec.bundled_dir is not None
    if not spec.bundled_dir.is_dir():
        raise ModelError(
            f"The bundled {spec.name} model is not installed in this package (expected at {spec.bundled_dir}); "
            f"run `texpaste models pull {DEFAULT_MODEL}` or point `--model DIR` / TEXPASTE_MODEL at a model directory."
        )
    return validate_dir(spec.bundled_dir)


@dataclass(frozen=True)
class ModelChoice:
    """The model a request names, made explicit where the request is made: ``model`` is a registered
    name or an absolute directory; ``notice`` explains a default that fell back."""

    model: str
    notice: str | None = None


def choose(name_or_path: str | None) -> ModelChoice:
    """Make a request's model choice explicit in the requesting process (CLI, ``serve``).

    None means ``TEXPASTE_MODEL`` of *this* process, else the default (``pix2tex`` when its files are
    cached, else the bundled model, with a notice); a relative or ``~`` directory becomes absolute here.
    The daemon then receives only explicit values, so one shell's or editor's environment and working
    directory never decide what another is answered with. Cheap: nothing is hashed or loaded.
    """
    text = (name_or_path or "").strip() or os.environ.get("TEXPASTE_MODEL", "").strip()
    if not text:
        if _default_is_cached():
            return ModelChoice(DEFAULT_MODEL)
        return ModelChoice(FALLBACK_MODEL, _fallback_notice())
    if text in REGISTRY and not _looks_like_path(text):
        return ModelChoice(text)
    try:
        return ModelChoice(os.path.abspath(Path(text).expanduser()))
    except RuntimeError as exc:  # ~nosuchuser/...
        raise ModelError(f"The model directory {text} names an unknown home directory.") from exc


def is_explicit(model: str) -> bool:
    """Whether ``model`` is what :func:`choose` sends: a registered name or an absolute directory."""
    return (model in REGISTRY and not _looks_like_path(model)) or os.path.isabs(model)


def _default_is_cached() -> bool:
    preferred = REGISTRY.get(DEFAULT_MODEL)
    if preferred is None or preferred.bundled:
        return False
    directory = cache_dir() / preferred.name
    return all((directory / f.name).is_file() for f in preferred.files if f.local_copy is None)


def _fallback_notice() -> str:
    return (
        f"Using the bundled {FALLBACK_MODEL} model: the official {DEFAULT_MODEL} weights are not cached "
        f"(run `texpaste models pull {DEFAULT_MODEL}`)."
    )


def _resolve_default() -> ResolvedModel:
    preferred = REGISTRY.get(DEFAULT_MODEL)
    if preferred is not None and _default_is_cached():
        try:
            return ResolvedModel(preferred.name, _ensure(preferred, download=False, progress=None), "cache")
        except ModelError as exc:  # corrupt or unreadable cache: already logged; fall back below
            logger.warning("Not using the cached %s model: %s", preferred.name, exc)
    fallback = _spec(FALLBACK_MODEL)
    notice = _fallback_notice()
    try:
        path = _bundled_dir(fallback)
    except ModelError as exc:
        raise ModelError(
            f"No model is available: the official {DEFAULT_MODEL} weights are not cached in {cache_dir()} and the "
            f"bundled {fallback.name} model is missing; run `texpaste models pull {DEFAULT_MODEL}` or point "
            f"`--model DIR` / TEXPASTE_MODEL at a model directory."
        ) from exc
    logger.info(notice)
    return ResolvedModel(fallback.name, path, "bundled", notice)


def _ensure(spec: ModelSpec, *, download: bool, progress: Progress | None, rehash: bool = False) -> Path:
    """Make every file of ``spec`` present and verified in the cache; return the model directory.

    ``rehash``: hash every file even where its stamp matches (``models pull``)."""
    directory = cache_dir() / spec.name
    stamp = _read_stamp(directory)
    if not rehash and all(_stamp_matches(stamp, directory, f) for f in spec.files):
        return directory  # fast path: nothing to hash, no lock
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"Cannot create the model cache directory {directory} ({exc.strerror or exc})."
        ) from exc
    with _dir_lock(directory) as exclusive:
        if exclusive:
            _remove_stale_temps(directory)
        stamp = _read_stamp(directory)  # another process may have finished while we waited for the lock
        needed: list[RemoteFile] = []
        for remote in spec.files:
            target = directory / remote.name
            if not rehash and _stamp_matches(stamp, directory, remote):
                continue
            if target.is_file():
                digest = _sha256_of(target)
                if digest == remote.sha256:
                    stamp[remote.name] = _stamp_entry(target, digest)
                    continue
                _discard_corrupt(spec, target, digest, remote.sha256, download or _usable_local_copy(remote))
            needed.append(remote)
        remote_needed = [f for f in needed if not _usable_local_copy(f)]
        if remote_needed and not download:
            _write_stamp(directory, stamp)
            raise ModelError(
                f"The {spec.name} model is not in the cache ({directory} lacks "
                f"{', '.join(f.name for f in remote_needed)}); run `texpaste models pull {spec.name}` or point "
                f"`--model DIR` / TEXPASTE_MODEL at a model directory."
            )
        try:
            for remote in needed:
                stamp[remote.name] = _fetch(spec, remote, directory, progress)
        finally:
            _write_stamp(directory, stamp)
    return directory


def _discard_corrupt(spec: ModelSpec, target: Path, actual: str, expected: str, refetch: bool) -> None:
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    logger.warning(
        "Cached %s failed verification (sha256 %s, expected %s) and was removed%s.",
        target,
        actual,
        expected,
        "; fetching it again" if refetch else "",
    )
    if not refetch:
        raise DownloadError(
            f"The cached {target} was corrupt (sha256 {actual}, expected {expected}) and has been removed; "
            f"run `texpaste models pull {spec.name}` to download it again."
        )


# ---------------------------------------------------------------------------------------------- stamps


def _read_stamp(directory: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads((directory / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _stamp_entry(path: Path, digest: str) -> dict[str, object]:
    st = path.stat()
    # ctime cannot be set back by a user: a write followed by restoring size and mtime still shows
    return {
        "sha256": digest,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "inode": st.st_ino,
    }


def _stamp_matches(stamp: dict[str, dict[str, object]], directory: Path, remote: RemoteFile) -> bool:
    """True when the file is unchanged since it was last hashed and found to be ``remote.sha256``."""
    entry = stamp.get(remote.name)
    if not isinstance(entry, dict) or entry.get("sha256") != remote.sha256:
        return False
    try:
        st = (directory / remote.name).stat()
    except OSError:
        return False
    return (entry.get("size"), entry.get("mtime_ns"), entry.get("ctime_ns"), entry.get("inode")) == (
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
    )


def _write_stamp(directory: Path, stamp: dict[str, dict[str, object]]) -> None:
    try:
        _atomic_write(directory / STAMP_NAME, json.dumps(stamp, indent=1, sort_keys=True).encode())
    except OSError as exc:  # a read-only cache still works, it just re-hashes on each start
        logger.debug("Cannot record %s in %s: %s", STAMP_NAME, directory, exc)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------- fetching


@contextlib.contextmanager
def _dir_lock(directory: Path) -> Iterator[bool]:
    """Hold an exclusive lock on ``directory/.lock`` where fcntl exists; yields whether the lock is held."""
    try:
        import fcntl
    except ImportError:  # Windows: unique temp names and os.replace still keep files whole
        yield False
        return
    try:
        fh = open(directory / ".lock", "a+b")
    except OSError:
        yield False
        return
    with fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _remove_stale_temps(directory: Path) -> None:
    """Delete ``.part`` files left by an interrupted process (only called while holding the lock)."""
    for leftover in directory.glob(".*.part"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            logger.debug("Removed leftover %s", leftover)


def _usable_local_copy(remote: RemoteFile) -> bool:
    return remote.local_copy is not None and remote.local_copy.is_file()


def _fetch(
    spec: ModelSpec, remote: RemoteFile, directory: Path, progress: Progress | None
) -> dict[str, object]:
    """Put ``remote`` into ``directory`` (copying the bundled copy when there is one) and return its stamp entry."""
    target = directory / remote.name
    if _usable_local_copy(remote):
        assert remote.local_copy is not None
        try:
            with remote.local_copy.open("rb") as source:
                _stream_to(target, source, remote, total=None, progress=None)
            return _stamp_entry(target, remote.sha256)
        except _HashMismatch as exc:
            logger.warning(
                "Bundled %s has sha256 %s, expected %s; downloading it.",
                remote.local_copy,
                exc,
                remote.sha256,
            )
    url = spec.url_of(remote)
    logger.info("Downloading %s for model %s from %s", remote.name, spec.name, url)
    try:
        _download(spec, remote, url, target, progress)
    except _HashMismatch as exc:
        raise DownloadError(
            f"Downloaded {remote.name} from {url} has sha256 {exc} but {remote.sha256} was expected, "
            f"so it was discarded."
        ) from None
    logger.info("Saved %s", target)
    return _stamp_entry(target, remote.sha256)


class _TransientError(Exception):
    """An attempt failed in a way a retry may fix (a dropped or timed-out connection, a 5xx answer)."""


class _HashMismatch(Exception):
    """The streamed bytes do not have the expected sha256; ``str(exc)`` is the actual digest."""


def _download(spec: ModelSpec, remote: RemoteFile, url: str, target: Path, progress: Progress | None) -> None:
    attempts = len(RETRY_DELAYS) + 1
    for attempt in range(1, attempts + 1):
        try:
            _download_once(remote, url, target, progress)
            return
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} {exc.reason}".strip()
            if exc.code < 500 and exc.code != 429:
                raise _offline_error(spec, remote, url, reason) from exc
            error: Exception = exc
        except (_TransientError, urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            error, reason = exc, _describe(exc)
        if attempt == attempts:
            raise _offline_error(spec, remote, url, reason) from error
        delay = RETRY_DELAYS[attempt - 1]
        logger.warning(
            "Download of %s failed (%s); attempt %d of %d in %.1f s",
            url,
            reason,
            attempt + 1,
            attempts,
            delay,
        )
        time.sleep(delay)


def _download_once(remote: RemoteFile, url: str, target: Path, progress: Progress | None) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "texpaste (model store)"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
        length = response.headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None
        _stream_to(target, response, remote, total=size, progress=progress)


def _stream_to(
    target: Path, source: BinaryIO, remote: RemoteFile, *, total: int | None, progress: Progress | None
) -> None:
    """Copy ``source`` into a unique temp file beside ``target`` while hashing it; rename it into place if it verifies.

    Raises _HashMismatch (temp file removed), _TransientError for a short read against ``total``, the source's own
    errors for network failures, and DownloadError for local write failures.
    """
    report, close = _reporter(remote.name, total or remote.size_hint, progress)
    digest = hashlib.sha256()
    done = 0
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".part")
    except OSError as exc:
        close()
        raise DownloadError(f"Cannot write into {target.parent} ({exc.strerror or exc}).") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            while block := source.read(_CHUNK):
                try:
                    out.write(block)
                except OSError as exc:
                    raise DownloadError(f"Cannot write {target} ({exc.strerror or exc}).") from exc
                digest.update(block)
                done += len(block)
                report(done)
        if total is not None and done != total:
            raise _TransientError(f"connection closed after {done} of {total} bytes")
        if digest.hexdigest() != remote.sha256:
            raise _HashMismatch(digest.hexdigest())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        close()


def _reporter(
    label: str, total: int | None, progress: Progress | None
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """Per-chunk progress: the caller's callback, else a tqdm bar on an interactive stderr, else nothing."""
    if progress is not None:
        progress(label, 0, total)
        return (lambda done: progress(label, done, total)), (lambda: None)
    if total is not None and total > 1 << 20 and sys.stderr is not None and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(
            total=total,
            desc=label,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
        )
        last = [0]

        def update(done: int) -> None:
            bar.update(done - last[0])
            last[0] = done

        return update, bar.close
    return (lambda done: None), (lambda: None)


def _describe(exc: BaseException) -> str:
    """A short reason for a failed attempt, e.g. "Connection refused" or "no response within 30 s"."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        if not isinstance(exc.reason, BaseException):
            return str(exc.reason)
        exc = exc.reason
    if isinstance(exc, TimeoutError):
        return f"no response within {DOWNLOAD_TIMEOUT:g} s"
    return str(getattr(exc, "strerror", None) or exc or type(exc).__name__)


def _offline_error(spec: ModelSpec, remote: RemoteFile, url: str, reason: str) -> DownloadError:
    urls = [spec.url_of(f) for f in spec.files if f.local_copy is None] or [url]
    directory = cache_dir() / spec.name
    return DownloadError(
        f"Could not download {remote.name} for the {spec.name} model from {url} ({reason}); fetch "
        f"{' and '.join(urls)} yourself into {directory}, or put them with config.yaml and tokenizer.json in a "
        f"directory and point `--model DIR` or TEXPASTE_MODEL at it."
    )
