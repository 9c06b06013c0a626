"""Input limits shared by every process: the CLI, the language server, the wire and the daemon.

One place, so an image the editor accepts is never refused further along (and the VS Code client's
``MAX_IMAGE_BYTES`` in ``clients/vscode/src/constants.ts`` must equal ``MAX_IMAGE_BYTES`` here).
No imports: the thin language server reads these without loading numpy, Pillow or torch.
"""

MAX_IMAGE_BYTES = 64 * 2**20  # an encoded image; a 4K RGBA BMP from a clipboard is ~33 MB
MAX_PIXELS = 40_000_000  # e.g. 8000x5000; checked on the header, before any pixel is decoded
MAX_PIXELS_DEEP = 10_000_000  # above 8 bits per sample (16-bit, 32-bit, float): 4x the bytes per pixel

MAX_CANDIDATES = 16
MAX_TEMPERATURE = 100.0  # far past where sampling is noise; keeps logits / T finite
MAX_SEED = 2**63 - 1  # torch's generators take a signed 64-bit seed
DEVICE_KINDS = ("auto", "cpu", "cuda", "mps")

# The daemon's queues: past these a request is answered "busy" at once instead of waiting unboundedly.
MAX_CONNECTION_JOBS = 32  # recognitions waiting or running for one connection
MAX_JOBS = 128  # for the whole daemon
MAX_CONNECTIONS = 64
HELLO_LINE_LIMIT = 4096  # bytes an unauthenticated (TCP) connection may send before it has proved the token
REQUEST_IDLE_TIMEOUT = 120.0  # seconds a client waits for a reply or progress before giving a request up


def check_decode_options(
    candidates: object = 1, temperature: object = 0.0, seed: object = None, device: object = None
) -> None:
    """Raise ``RequestError`` (one sentence) for a decoding option out of range, in-process and on
    the wire alike: booleans are not numbers, NaN and infinity are not temperatures. Options left
    at their defaults pass, so a caller checks only what it was given."""
    import math

    from texpaste.errors import RequestError

    def integer(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not integer(candidates) or not 1 <= candidates <= MAX_CANDIDATES:  # type: ignore[operator]
        raise RequestError(
            f"candidates must be a whole number from 1 to {MAX_CANDIDATES} (got {candidates!r})."
        )
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
        or not 0 <= temperature <= MAX_TEMPERATURE
    ):
        raise RequestError(
            f"temperature must be a number from 0 to {MAX_TEMPERATURE:g} (got {temperature!r})."
        )
    if seed is not None and (not integer(seed) or not 0 <= seed <= MAX_SEED):  # type: ignore[operator]
        raise RequestError(f"seed must be a whole number from 0 to 2**63 - 1 (got {seed!r}).")
    if device is not None:
        kind, _, index = str(device).partition(":") if isinstance(device, str) else ("", "", "")
        if kind not in DEVICE_KINDS or (index and (kind != "cuda" or not index.isdigit())):
            raise RequestError(f"device must be auto, cpu, cuda, cuda:N or mps (got {device!r}).")
