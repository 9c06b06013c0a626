"""LaTeX <-> token ids with a byte-level BPE ``tokenizer.json`` (pix2tex's format).

Decoding follows pix2tex's ``token2str`` (join the pieces, ``Ġ`` -> space, drop specials,
strip) but maps byte-level characters back to the bytes they stand for, so a non-ASCII
symbol comes out as itself instead of pix2tex's mojibake.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer as HFTokenizer

from texpaste.errors import ModelError


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """Inverse of the byte-level alphabet: printable bytes map to themselves, others to U+0100+."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[chr(b)] = b
        else:
            table[chr(256 + extra)] = b
            extra += 1
    return table


class Tokenizer:
    def __init__(self, path: str | Path, *, pad: int = 0, bos: int = 1, eos: int = 2):
        try:
            self._tok = HFTokenizer.from_file(str(path))
        except Exception as exc:
            raise ModelError(f"Cannot read tokenizer {path}: {exc}.") from exc
        self.pad, self.bos, self.eos = pad, bos, eos
        self.vocab_size = self._tok.get_vocab_size()
        self._pieces = [self._tok.id_to_token(i) or "" for i in range(self.vocab_size)]

    @property
    def backend(self) -> HFTokenizer:
        """The underlying ``tokenizers.Tokenizer`` (the metrics read BPE pieces from it)."""
        return self._tok

    def encode(self, latex: str) -> list[int]:
        """Ids of ``latex`` framed by BOS ... EOS, as the decoder is trained on."""
        return [self.bos, *self._tok.encode(latex).ids, self.eos]

    def piece(self, token_id: int) -> str:
        return self._pieces[token_id] if 0 <= token_id < self.vocab_size else ""

    def decode(self, ids: list[int]) -> str:
        """LaTeX text for ids (stopping at EOS); specials and out-of-vocabulary ids are dropped."""
        pieces = []
        for i in ids:
            if i == self.eos:
                break
            if i in (self.pad, self.bos):
                continue
            pieces.append(self.piece(i))
        table = _byte_decoder()
        raw = bytes(table[c] for c in "".join(pieces) if c in table)
        return raw.decode("utf-8", errors="replace").strip()

    def roundtrips(self, latex: str) -> bool:
        """True when ``latex`` survives encode -> decode (the vocabulary can spell it)."""
        return self.decode(self.encode(latex)[1:]) == latex.strip()
