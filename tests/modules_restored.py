"""sys.modules as it was, after a test put stand-in or freshly imported modules under some names."""

import contextlib
import sys
from collections.abc import Iterable, Iterator


@contextlib.contextmanager
def modules_restored(names: Iterable[str]) -> Iterator[None]:
    """On leaving, each of ``names`` is in sys.modules as it was on entering (absent if it was)."""
    saved = {name: sys.modules.get(name) for name in names}
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
