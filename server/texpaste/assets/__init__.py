"""Where the files shipped inside the package live: the one definition of these paths."""

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
PIX2TEX_DIR = ASSETS_DIR / "pix2tex"  # pix2tex's config.yaml and tokenizer.json (MIT)
PIX2TEX_CONFIG = PIX2TEX_DIR / "config.yaml"
PIX2TEX_TOKENIZER = PIX2TEX_DIR / "tokenizer.json"
BUNDLED_MODEL_DIR = ASSETS_DIR / "texpaste-small"
