"""How each pretrained file is test-loaded: a table the owners of the files fill in.

Before a file that is neither pinned nor recorded is trusted (written to the lock file), it is
loaded strictly into its network; ``hairedit weights verify`` loads every file. The weights
package knows files, not networks, so each module that loads a file registers its check here
(:func:`checker`), and this package never imports a network. :mod:`.verify` imports every such
module, so that all checks are registered where all files are checked or downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import HaireditError

# File name -> a function that loads the file strictly (raising on a broken one) and says what it holds.
CHECKERS: dict[str, Callable[[Path], str]] = {}


def checker(*names: str) -> Callable[[Callable[[Path], str]], Callable[[Path], str]]:
    """Register the decorated function as the check of the files ``names``."""

    def register(check: Callable[[Path], str]) -> Callable[[Path], str]:
        for name in names:
            CHECKERS[name] = check
        return check

    return register


def load_strictly(name: str, path: Path) -> None:
    """Load ``path`` into the network of ``name`` (its registered check), or raise. A file whose
    loader is not imported in this process has no check registered and is left as it is."""
    check = CHECKERS.get(name)
    if check is not None:
        check(path)


@checker("clip_vocab.json", "clip_merges.txt")
def check_tokenizer_file(path: Path) -> str:
    if path.stat().st_size == 0:
        raise HaireditError("empty file")
    return "tokenizer file"
