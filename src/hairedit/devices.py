"""Which device an edit runs on, checked before anything is built on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    import torch


def available_devices() -> list[str]:
    """Every device this machine can run on: cpu, cuda, cuda:1, ..., mps."""
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += ["cuda"] + [f"cuda:{i}" for i in range(1, torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def default_device() -> torch.device:
    """CUDA, else Apple's MPS, else the CPU."""
    import torch

    return torch.device(next(name for name in ("cuda", "mps", "cpu") if name in available_devices()))


def resolve_device(name: str | torch.device | None) -> torch.device:
    """``name`` as a ``torch.device`` once known to exist here (None: the best available).

    Raises InputError naming the devices this machine has.
    """
    import torch

    if name is None:
        return default_device()
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise InputError(f"unknown device '{name}'; use cpu, cuda, cuda:N or mps.") from None
    canonical = device.type if device.index in (None, 0) else f"{device.type}:{device.index}"
    if canonical not in available_devices():
        raise InputError(f"device '{name}' is not available here; available: {', '.join(available_devices())}.")
    return device
