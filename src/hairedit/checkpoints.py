"""Safe checkpoint reading and strict loading.

Every official file is read with ``torch.load(weights_only=True)``. The few non-tensor
objects the official files hold (a numpy scalar for the bald mapper's ``alpha``, an
``opts`` namespace or dict in the sketch encoder file) are allowed by name; a file that
needs anything else is refused without running its code.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ._requirements import require
from .errors import CheckpointError, MissingWeightsError

require("torch", "numpy")  # before numpy.dtypes and torch.serialization.safe_globals below


class PickledRecord:
    """An object of another package's class, kept as the plain data it was pickled with.

    LaMa's Lightning checkpoint holds its training configuration as OmegaConf objects and its
    checkpoint callback's state keyed by Lightning's callback class. None of it is needed for
    inference; reading those names as this inert class (never importing either package, never
    running their code) lets the file be read with ``weights_only`` all the same.
    """

    def __setstate__(self, state: object) -> None:
        self.state = state


# The classes LaMa's checkpoint pickles (OmegaConf 2's containers, their metadata and nodes;
# Lightning 1.2's ModelCheckpoint as a dict key), read as PickledRecord.
_RECORDED_CLASSES = (
    "omegaconf.dictconfig.DictConfig",
    "omegaconf.listconfig.ListConfig",
    "omegaconf.base.ContainerMetadata",
    "omegaconf.base.Metadata",
    "omegaconf.nodes.AnyNode",
    "omegaconf.nodes.StringNode",
    "omegaconf.nodes.IntegerNode",
    "omegaconf.nodes.FloatNode",
    "omegaconf.nodes.BooleanNode",
    "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
)

# Exactly the harmless globals the official files need, and nothing more.
# Files pickled under numpy 1 name ``numpy.core.multiarray.scalar``; numpy 2 moved it to
# ``numpy._core``, so both names are mapped to the same function.
_numpy_scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
_SAFE_GLOBALS = [
    argparse.Namespace,
    (_numpy_scalar, "numpy.core.multiarray.scalar"),
    (_numpy_scalar, "numpy._core.multiarray.scalar"),
    np.dtype,
    np.dtypes.Float64DType,
    np.dtypes.Float32DType,
    np.dtypes.Int64DType,
    # OmegaConf's metadata: type annotations (typing.Any, dict, list) and a defaultdict of flags.
    typing.Any,
    dict,
    list,
    collections.defaultdict,
    *[(PickledRecord, name) for name in _RECORDED_CLASSES],
]


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> object:
    """Read a ``torch.save`` file without executing code from it.

    Raises:
        MissingWeightsError: the file does not exist.
        CheckpointError: the file is corrupt or needs arbitrary unpickling.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingWeightsError(
            f"{path} does not exist. Run `hairedit weights download` or see `hairedit weights list`."
        )
    try:
        with torch.serialization.safe_globals(_SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "Unsupported global" in str(error) or "weights_only" in str(error):
            raise CheckpointError(
                f"{path} was refused: it needs arbitrary code to unpickle ({reason}). "
                "It is not an official checkpoint, or has been tampered with; download it again."
            ) from error
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({reason}). Delete it and download it again."
        ) from error


def checkpoint_entry(checkpoint: object, key: str, path: str | Path) -> object:
    """``checkpoint[key]``, with an error naming the file when the wrapper key is absent."""
    if not isinstance(checkpoint, Mapping) or key not in checkpoint:
        found = sorted(checkpoint) if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise CheckpointError(f"{path} has no '{key}' entry (found: {found}).")
    return checkpoint[key]


def load_strict(
    module: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    source: str | Path,
    ignored_keys: Iterable[str] = (),
    assign: bool = False,
) -> None:
    """Load ``state_dict`` into ``module`` with every key and shape accounted for.

    ``ignored_keys`` names keys the official loader also ignores; they are dropped by
    name, never by ``strict=False``. ``assign`` makes the file's tensors the module's own
    (no copy; the module may then be built on the ``meta`` device, skipping its random
    initialisation).

    Raises:
        CheckpointError: naming the first missing, unexpected or misshaped keys.
    """
    ignored = set(ignored_keys)
    state_dict = {key: value for key, value in state_dict.items() if key not in ignored}
    expected = {key: tuple(value.shape) for key, value in module.state_dict().items()}
    check_keys(expected, state_dict, source, type(module).__name__)
    module.load_state_dict(state_dict, strict=True, assign=assign)


def check_keys(
    expected: Mapping[str, tuple[int, ...]], state_dict: Mapping[str, torch.Tensor], source: str | Path, what: str
) -> None:
    """Every key of ``expected`` (name -> shape) in ``state_dict`` with its shape, and no other.

    Raises:
        CheckpointError: "<source> does not fit <what>: ..." naming the first missing,
            unexpected or misshaped keys.
    """
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    misshaped = [
        f"{key} {tuple(state_dict[key].shape)} (expected {tuple(shape)})"
        for key, shape in expected.items()
        if key in state_dict and tuple(state_dict[key].shape) != tuple(shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {_first(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_first(unexpected)}")
    if misshaped:
        problems.append(f"misshaped keys {_first(misshaped)}")
    if problems:
        raise CheckpointError(f"{source} does not fit {what}: " + "; ".join(problems) + ".")


def state_digests(state: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """key -> sha256 of the tensor's shape and float32 values: a fingerprint of a state dict
    that outlives its tensors (e.g. of a file's copy of a network that is not kept)."""
    digests = {}
    for key, tensor in state.items():
        values = tensor.detach().to("cpu", torch.float32).contiguous().numpy()
        digests[key] = hashlib.sha256(repr(values.shape).encode() + values.tobytes()).hexdigest()
    return digests


@dataclass(frozen=True)
class DecoderCheck:
    equal: bool
    message: str  # what the user should know; empty when equal


def check_decoder(decoder_digests: Mapping[str, str], generator: nn.Module, file_name: str) -> DecoderCheck:
    """Whether the StyleGAN2 a network in ``file_name`` was trained with (its ``decoder.*``,
    fingerprinted by :func:`state_digests` when the file was read) is ``generator``, tensor
    for tensor."""
    if not decoder_digests:
        return DecoderCheck(False, f"{file_name} held no decoder to compare with the generator.")
    ours = state_digests(generator.state_dict())
    differing = [key for key, digest in decoder_digests.items() if ours.get(key) != digest]
    differing += [key for key in ours if key not in decoder_digests]
    if not differing:
        return DecoderCheck(True, "")
    return DecoderCheck(
        False,
        f"{file_name} was trained with another StyleGAN2 than the loaded generator ({len(differing)} "
        f"tensors differ, first {differing[0]}): its results will not fit this generator's images.",
    )


def _first(items: list[str], count: int = 5) -> str:
    shown = ", ".join(items[:count])
    return shown + (f" and {len(items) - count} more" if len(items) > count else "")
