"""FAN (Bulat & Tzimiropoulos): stacked-hourglass 68-landmark heatmaps, face-alignment's layout.

HairCLIPv2 keeps a proxy's face shape by matching these heatmaps with the photo's. Two
official files hold the 3D network (four stacks), with the same key names:

- face-alignment 1.5's ``3DFAN4-7835d9f11d.pth.tar``: a plain state dict, read with
  ``torch.load(weights_only=True)`` like face-alignment 1.5 itself does;
- face-alignment 1.3 / 1.4's ``3DFAN4-4a694010b9.zip`` (what HairCLIPv2, pinned to 1.3.5,
  ran) and ``3DFAN4_1.6-*.zip``: TorchScript archives. ``torch.jit.load`` would run their
  TorchScript code; :func:`read_torchscript_tensors` instead reads only the tensors, by
  name, with an unpickler that knows nothing but tensors, storages and attribute holders.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_strict, read_checkpoint
from ..errors import CheckpointError, MissingWeightsError
from ..weights.checks import checker
from .random_init import seeded

N_LANDMARKS = 68
INPUT_SIZE_PX = 256
HEATMAP_SIZE_PX = 64
JAW = slice(0, 17)  # landmark points 0-16
NOSE = slice(27, 36)  # landmark points 27-35


def _conv3x3(in_planes: int, out_planes: int) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, 1, 1, bias=False)


class ConvBlock(nn.Module):
    """Pre-activation residual block whose three convolutions' outputs (1/2, 1/4, 1/4 of
    ``out_planes``) are concatenated; a BN-ReLU-1x1 shortcut when the width changes."""

    def __init__(self, in_planes: int, out_planes: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = _conv3x3(in_planes, out_planes // 2)
        self.bn2 = nn.BatchNorm2d(out_planes // 2)
        self.conv2 = _conv3x3(out_planes // 2, out_planes // 4)
        self.bn3 = nn.BatchNorm2d(out_planes // 4)
        self.conv3 = _conv3x3(out_planes // 4, out_planes // 4)
        self.downsample = None
        if in_planes != out_planes:
            self.downsample = nn.Sequential(
                nn.BatchNorm2d(in_planes), nn.ReLU(), nn.Conv2d(in_planes, out_planes, 1, bias=False)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = self.conv1(F.relu(self.bn1(x)))
        out2 = self.conv2(F.relu(self.bn2(out1)))
        out3 = self.conv3(F.relu(self.bn3(out2)))
        residual = x if self.downsample is None else self.downsample(x)
        return torch.cat([out1, out2, out3], 1) + residual


class HourGlass(nn.Module):
    """Recursive hourglass: at each level an upper branch at full size and a lower branch
    at half size (average pooling, nearest upsampling back). Modules ``b1_L``, ``b2_L``,
    ``b3_L`` per level L and ``b2_plus_1`` at the bottom."""

    def __init__(self, depth: int, features: int):
        super().__init__()
        self.depth = depth
        for level in range(depth, 0, -1):
            self.add_module(f"b1_{level}", ConvBlock(features, features))
            self.add_module(f"b2_{level}", ConvBlock(features, features))
            if level == 1:
                self.add_module(f"b2_plus_{level}", ConvBlock(features, features))
            self.add_module(f"b3_{level}", ConvBlock(features, features))

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        upper = self._modules[f"b1_{level}"](x)
        lower = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        lower = self._level(level - 1, lower) if level > 1 else self._modules[f"b2_plus_{level}"](lower)
        lower = self._modules[f"b3_{level}"](lower)
        return upper + F.interpolate(lower, scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._level(self.depth, x)


class FAN(nn.Module):
    """(B, 3, 256, 256) in [0, 1] -> a list with one (B, 68, 64, 64) heatmap stack per hourglass.

    Args:
        num_modules: stacked hourglasses (4 in the official network).
        width: channels inside the hourglasses (256).
        hourglass_depth: levels per hourglass (4).
    """

    def __init__(self, num_modules: int = 4, width: int = 256, hourglass_depth: int = 4):
        super().__init__()
        self.num_modules = num_modules
        half = width // 2
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = ConvBlock(64, half)
        self.conv3 = ConvBlock(half, half)
        self.conv4 = ConvBlock(half, width)
        for i in range(num_modules):
            self.add_module(f"m{i}", HourGlass(hourglass_depth, width))
            self.add_module(f"top_m_{i}", ConvBlock(width, width))
            self.add_module(f"conv_last{i}", nn.Conv2d(width, width, 1))
            self.add_module(f"bn_end{i}", nn.BatchNorm2d(width))
            self.add_module(f"l{i}", nn.Conv2d(width, N_LANDMARKS, 1))
            if i < num_modules - 1:
                # Feed the features and the predicted heatmaps back into the next stack.
                self.add_module(f"bl{i}", nn.Conv2d(width, width, 1))
                self.add_module(f"al{i}", nn.Conv2d(N_LANDMARKS, width, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.conv4(self.conv3(F.avg_pool2d(self.conv2(x), 2, stride=2)))
        previous, outputs = x, []
        for i in range(self.num_modules):
            features = self._modules[f"top_m_{i}"](self._modules[f"m{i}"](previous))
            features = F.relu(self._modules[f"bn_end{i}"](self._modules[f"conv_last{i}"](features)))
            heatmaps = self._modules[f"l{i}"](features)
            outputs.append(heatmaps)
            if i < self.num_modules - 1:
                previous = previous + self._modules[f"bl{i}"](features) + self._modules[f"al{i}"](heatmaps)
        return outputs


class LandmarkHeatmaps(nn.Module):
    """HairCLIPv2's landmark extractor (``inference_on_kp_extractor``).

    ``landmarks(image)``: (B, 3, H, W) in [-1, 1] -> the last stack's heatmaps
    (B, 68, 64, 64), differentiable with respect to the image. The image is resized to
    256 px with ``F.interpolate``'s default (nearest), as the official code, then mapped
    to [0, 1] and clamped (:func:`_clamp_keeping_bound_gradients`).
    """

    def __init__(self, fan: FAN):
        super().__init__()
        self.fan = fan

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = _clamp_keeping_bound_gradients((F.interpolate(image, size=(INPUT_SIZE_PX, INPUT_SIZE_PX)) + 1) / 2)
        return self.fan(x)[-1]


def _clamp_keeping_bound_gradients(x: torch.Tensor) -> torch.Tensor:
    """``x.clamp(0, 1)`` whose gradient passes at exactly 0 and 1, as ``clamp``'s did up to
    torch 2.13, where the official code ran (torch 2.14 stops it there): saturated pixels
    (exactly black or white) then get the official gradient on every torch."""
    return torch.where((x >= 0) & (x <= 1), x, x.clamp(0, 1))


# ---------------------------------------------------------------------------------------
# Reading a TorchScript archive's tensors without running it.


class _ScriptedObject:
    """Stands in for every ``__torch__.*`` class of the archive: pickle's BUILD fills its
    ``__dict__`` with the module's attributes (submodules, parameters, buffers, flags)."""


_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, torch.Tensor):
        raise CheckpointError("a tensor in the archive does not refer to a storage")
    return storage.as_strided(tuple(size), tuple(stride), storage_offset).clone()


class _TensorOnlyUnpickler(pickle.Unpickler):
    """Unpickles a TorchScript ``data.pkl`` allowing only tensors and attribute holders."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, little_endian: bool):
        super().__init__(file)
        self.archive, self.prefix, self.little_endian = archive, prefix, little_endian

    def find_class(self, module: str, name: str):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "__torch__" or module.startswith("__torch__."):
            return _ScriptedObject
        raise CheckpointError(f"refusing the global {module}.{name}")

    def persistent_load(self, saved_id):
        kind, dtype, key, _location, numel = saved_id
        if kind != "storage" or not isinstance(dtype, torch.dtype):
            raise CheckpointError(f"unknown record {saved_id!r}")
        data = bytearray(self.archive.read(f"{self.prefix}data/{key}"))
        storage = torch.frombuffer(data, dtype=torch.uint8).view(dtype) if data else torch.empty(0, dtype=dtype)
        if not self.little_endian and dtype.itemsize > 1:
            storage = storage.view(torch.uint8).view(-1, dtype.itemsize).flip(1).reshape(-1).view(dtype)
        if storage.numel() != numel:
            raise CheckpointError(f"storage {key} holds {storage.numel()} values, expected {numel}")
        return storage


def is_torchscript_archive(path: str | Path) -> bool:
    """Whether ``path`` is a TorchScript zip (it has ``constants.pkl``; plain torch.save zips don't)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") for name in archive.namelist())


def read_torchscript_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Every parameter and buffer of a TorchScript archive, by state-dict name, without
    running TorchScript or unpickling anything but tensors.

    Raises:
        CheckpointError: not a TorchScript archive, or it needs anything else.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            records = [name for name in archive.namelist() if name.endswith("/data.pkl") and name.count("/") == 1]
            if not records:
                raise CheckpointError("no data.pkl record")
            prefix = records[0][: -len("data.pkl")]
            byteorder = f"{prefix}byteorder"
            little_endian = byteorder not in archive.namelist() or archive.read(byteorder).strip() == b"little"
            with archive.open(records[0]) as data:
                root = _TensorOnlyUnpickler(data, archive, prefix, little_endian).load()
    except CheckpointError as error:
        raise CheckpointError(f"{path} is not a TorchScript FAN archive that can be read safely ({error}).") from error
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path} is not a readable TorchScript archive ({error}). Download it again.") from error
    if not isinstance(root, _ScriptedObject):
        raise CheckpointError(f"{path} does not hold a scripted module.")
    return dict(_named_tensors(root, ""))


def _named_tensors(node: _ScriptedObject, prefix: str):
    for name, value in vars(node).items():
        if isinstance(value, torch.Tensor):
            yield prefix + name, value
        elif isinstance(value, _ScriptedObject):
            yield from _named_tensors(value, f"{prefix}{name}.")


# ---------------------------------------------------------------------------------------


def read_fan_state(path: str | Path) -> Mapping[str, torch.Tensor]:
    """The FAN tensors of either official file: a state dict (face-alignment 1.5) or a
    TorchScript archive (face-alignment 1.3 / 1.4)."""
    if not Path(path).is_file():
        raise MissingWeightsError(f"{path} does not exist. Run `hairedit weights download`.")
    if is_torchscript_archive(path):
        return read_torchscript_tensors(path)
    state = read_checkpoint(path)
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path} is not a FAN state dict (found {type(state).__name__}).")
    return state


def load_fan(path: str | Path, device: str | torch.device = "cpu") -> LandmarkHeatmaps:
    """The four-stack 3D FAN from ``3DFAN4-7835d9f11d.pth.tar`` (or an older TorchScript
    ``3DFAN4-*.zip``), every key accounted for, wrapped in :class:`LandmarkHeatmaps`."""
    fan = FAN(num_modules=4)
    load_strict(fan, read_fan_state(path), path)
    return LandmarkHeatmaps(fan).eval().requires_grad_(False).to(device)


def small_fan(seed: int = 0) -> LandmarkHeatmaps:
    """Two narrow stacks of depth 2 (the same blocks, feedback path included), random weights."""
    with seeded(seed):
        fan = FAN(num_modules=2, width=32, hourglass_depth=2)
    return LandmarkHeatmaps(fan).eval().requires_grad_(False)


@checker("3DFAN4-7835d9f11d.pth.tar")
def check_fan_file(path: Path) -> str:
    load_fan(path)
    return "FAN, 4 stacks"
