"""What pytorch-fid's ``inception.py`` takes from torchvision, for loading that file where
torchvision cannot be imported (hairedit does not depend on it; its compiled operators must
match torch's exact build).

pytorch-fid builds torchvision's ``Inception3`` (1008 classes, no auxiliary classifier) and
replaces nine blocks with its own ``FIDInceptionA/C/E_1/E_2``, which subclass torchvision's
blocks for their layers and define their own ``forward`` (the TensorFlow pools). From
torchvision it therefore needs only: the layers of ``BasicConv2d`` and of the five block
types (names, shapes, strides, paddings), the forward of ``BasicConv2d`` and of the two blocks
it keeps (``InceptionB`` = ``Mixed_6a``, ``InceptionD`` = ``Mixed_7a``), and the stem's layers.
These are written here from a reading of torchvision's ``models/inception.py``; pytorch-fid's
file then loads its published layout into them strictly (every key and shape), and supplies
everything FID-specific itself: the pools of the patched blocks, the block order, the max pools
between the stem's stages, the resize to 299 px and the final average pool.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import torch
import torch.nn.functional as F
from torch import nn

from tests.modules_restored import modules_restored
from tests.pypi_wheels import PYTORCH_FID, fetched


class BasicConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class InceptionA(nn.Module):
    def __init__(self, in_channels, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)


class InceptionB(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        double = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), double, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, in_channels, channels_7x7):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)


class InceptionD(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        three = self.branch3x3_2(self.branch3x3_1(x))
        seven = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([three, seven, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)


class Inception3(nn.Module):
    """The layers of torchvision's Inception v3 without the auxiliary classifier; pytorch-fid
    reads them and never calls this module's forward."""

    def __init__(self, num_classes=1000, aux_logits=True, weights=None, init_weights=None):
        super().__init__()
        assert not aux_logits and weights is None, "pytorch-fid's FID network only"
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.fc = nn.Linear(2048, num_classes)


def _shim() -> dict[str, types.ModuleType]:
    shim = types.ModuleType("torchvision")
    shim.__version__ = "0.13.0"  # the API pytorch-fid 0.3 calls: inception_v3(weights=..., init_weights=False)
    shim.models = types.ModuleType("torchvision.models")
    shim.models.inception = types.ModuleType("torchvision.models.inception")
    for block in (BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE, Inception3):
        setattr(shim.models.inception, block.__name__, block)
    shim.models.inception_v3 = Inception3
    shim.transforms = types.ModuleType("torchvision.transforms")  # fid_score's image loading; unused here
    return {"torchvision": shim, "torchvision.models": shim.models, "torchvision.transforms": shim.transforms}


def import_pytorch_fid(name: str) -> types.ModuleType:
    """A fresh copy of ``pytorch_fid.<name>`` (``inception`` or ``fid_score``), imported from the
    pytorch-fid 0.3.0 wheel (tests/pypi_wheels.py) with this shim as its torchvision;
    sys.modules is left as it was."""
    wheel = str(fetched(PYTORCH_FID, "the FID reference's modules"))
    if wheel not in sys.path:
        sys.path.insert(0, wheel)  # a pure-Python wheel is a zip: its modules import from it as it is
    modules = {**_shim()}
    fid_modules = ("pytorch_fid", "pytorch_fid.inception", "pytorch_fid.fid_score")
    with modules_restored([*modules, *fid_modules]):
        sys.modules.update(modules)
        for key in fid_modules:
            sys.modules.pop(key, None)
        return importlib.import_module(f"pytorch_fid.{name}")


def load_pytorch_fid_inception(state: dict[str, torch.Tensor]) -> types.ModuleType:
    """pytorch-fid's ``inception`` module on this shim, its weights download replaced by
    ``state`` (its published layout)."""
    module = import_pytorch_fid("inception")
    module.load_state_dict_from_url = lambda *args, **kwargs: state
    return module
