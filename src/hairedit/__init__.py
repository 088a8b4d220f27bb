"""hairedit: change only the hair in a photo, with HairCLIPv2 in pure PyTorch.

>>> from hairedit import HairEditor
>>> editor = HairEditor.from_pretrained()          # doctest: +SKIP
>>> result = editor.edit("me.jpg", hairstyle="bob cut hairstyle", color="blond")  # doctest: +SKIP
>>> result.image.save("me_bob.jpg")                # doctest: +SKIP
"""

import logging

from .allocator import keep_freed_memory
from .config import EditConfig
from .errors import HaireditError

__version__ = "0.1.0"

# Quiet unless the program says otherwise (the CLI shows warnings, and everything with --debug):
# what falls back or is skipped is logged under "hairedit".
logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str):
    # The pipeline pulls in every network; import it only when asked for.
    if name in ("HairEditor", "EditResult"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'hairedit' has no attribute {name!r}")


__all__ = ["EditConfig", "EditResult", "HairEditor", "HaireditError", "__version__", "keep_freed_memory"]
