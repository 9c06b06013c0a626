"""Input limits shared by every process: the CLI, the language server, the wire and the daemon.

One place, so an image the editor accepts is never refused further along (and the VS Code client's
``MAX_IMAGE_BYTES`` in ``clients/vscode/src/pasteFormula.ts`` must equal ``MAX_IMAGE_BYTES`` here).
No imports: the thin language server reads these without loading numpy, Pillow or torch.
"""

MAX_IMAGE_BYTES = 64 * 2**20  # an encoded image; a 4K RGBA BMP from a clipboard is ~33 MB
MAX_PIXELS = 40_000_000  # e.g. 8000x5000; checked on the header, before any pixel is decoded
MAX_PIXELS_DEEP = 10_000_000  # above 8 bits per sample (16-bit, 32-bit, float): 4x the bytes per pixel
