"""The random streams of an edit, all derived from its seed.

Nothing in an edit draws from torch's global random state: each stage that needs random
numbers (fresh StyleGAN noise, CLIP's augmentations) gets its own ``torch.Generator``, seeded
from the edit's seed and the stream's name. Streams are independent, so a stage that is
skipped (an inversion found in the cache) leaves every other stage's numbers as they were, and
edits running side by side (the UI, a batch) cannot disturb each other.
"""

from __future__ import annotations

import hashlib

import torch

# The named streams. The photo's and a reference's W+ inversions share one: the same image
# with the same seed inverts to the same latent, so either can reuse the other's cache entry.
INVERSION_W = "inversion W+"
INVERSION_FS = "inversion FS"
TEXT_AUGMENTATIONS = "text proxy augmentations"
TEXT_START = "text proxy start"  # a random start latent, when the text proxy does not start from the mean
BLENDING_NOISE = "blending noise"


def stream(seed: int, name: str, device: torch.device | str = "cpu") -> torch.Generator:
    """The random stream ``name`` of the edit seeded ``seed``, on ``device``.

    >>> a = torch.randn(2, generator=stream(1, "x"))
    >>> torch.equal(a, torch.randn(2, generator=stream(1, "x")))
    True
    """
    digest = hashlib.sha256(f"{int(seed)}/{name}".encode()).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest[:8], "little") >> 1)
