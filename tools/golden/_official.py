"""What every golden script shares: running official code beside hairedit's test writers.

The scripts run in a throwaway virtual environment of their own (docs/golden.md lists its
packages), never in hairedit's: they import the official code, which hairedit must not. Each
takes the path of an official checkout and writes one ``.npz``; ``compare.py`` then sets it
against the stored file.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import torch

REPOSITORY = Path(__file__).resolve().parents[2]  # hairedit's checkout: tests.official writers, src/hairedit


def prepare(checkout: str | Path | None = None) -> None:
    """Put hairedit's tests (the weight writers, the fixed inputs) and ``checkout`` on the path;
    make the official code run on the CPU; let torchvision's Python models import."""
    sys.path[:0] = [str(REPOSITORY), str(REPOSITORY / "src")] + ([str(Path(checkout).resolve())] if checkout else [])
    _torchvision_without_compiled_operators()  # the official code imports it
    # The official code calls .cuda() as it goes; here everything stays on the CPU.
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    torch.Tensor.cuda = lambda self, *args, **kwargs: self


def _torchvision_without_compiled_operators() -> None:
    """Let torchvision import beside a torch its compiled operators were not built for (the CPU
    build here: a plain import fails on ``torchvision::nms``). Its compiled operators are built for
    one exact torch and refuse another; its Python models need none of them, only this module
    (which registers the operators' shapes) gone. Call before torchvision is first imported."""
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))


def torchvision_vgg16_from(path: str | Path) -> None:
    """Make ``torchvision.models.vgg16`` (asked for ImageNet weights, the old or the new way)
    load ``path``, a file in torchvision's layout, instead of downloading: the official code
    then runs on the test writers' random weights."""
    _torchvision_without_compiled_operators()  # whether or not prepare() ran first
    import torchvision

    build = torchvision.models.vgg16

    def vgg16(pretrained: bool = False, weights=None, **kwargs):
        network = build(weights=None, **kwargs)
        if pretrained or weights is not None:
            network.load_state_dict(torch.load(path, map_location="cpu"))
        return network.double()

    torchvision.models.vgg16 = vgg16


def numpy_of(tensor: torch.Tensor):
    return tensor.detach().double().cpu().numpy()
