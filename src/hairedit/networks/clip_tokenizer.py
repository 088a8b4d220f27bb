"""CLIP's tokenizer: ``transformers.CLIPTokenizer`` from the BPE vocabulary files, and a
merge-free byte-level vocabulary for the small random CLIP (no download)."""

from __future__ import annotations

import json
from pathlib import Path

from .._requirements import require
from ..errors import CheckpointError, MissingWeightsError

def load_tokenizer(vocab_path: str | Path, merges_path: str | Path):
    """``transformers.CLIPTokenizer`` from a ``vocab.json`` and ``merges.txt``."""
    require("transformers")
    from transformers import CLIPTokenizer

    for path in (vocab_path, merges_path):
        if not Path(path).is_file():
            raise MissingWeightsError(f"{path} does not exist. Run `hairedit weights download`.")
    try:
        return CLIPTokenizer(str(vocab_path), str(merges_path))
    except Exception as error:
        raise CheckpointError(
            f"{vocab_path} / {merges_path} are not a CLIP BPE vocabulary ({error}). Download them again."
        ) from error


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes (GPT-2 / CLIP convention)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            symbols[byte] = chr(byte)
        else:
            symbols[byte] = chr(256 + extra)
            extra += 1
    return [symbols[byte] for byte in range(256)]


def write_byte_vocabulary(folder: str | Path) -> tuple[Path, Path]:
    """Write a merge-free byte-level CLIP vocabulary (vocab.json, merges.txt) into ``folder``.

    It tokenizes any text byte by byte, without the real BPE merges: enough for the small
    random CLIP, which needs no download. The special tokens keep their real ids (49406,
    49407), since the text encoder reads its embedding at the end-of-text token.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    symbols = _byte_symbols()
    vocab = {token: index for index, token in enumerate(symbols + [s + "</w>" for s in symbols])}
    vocab.update({"<|startoftext|>": 49406, "<|endoftext|>": 49407})
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab_path.write_text(json.dumps(vocab), encoding="utf-8")
    merges_path.write_text("#version: 0.2\n", encoding="utf-8")
    return vocab_path, merges_path
