"""Reading photos as people take them, and writing results without losing anything.

Every reader returns RGB uint8 arrays (H, W, 3) in the photo's visible orientation.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

Image.MAX_IMAGE_PIXELS = 200_000_000  # 8000x6000 phone photos are fine; decompression bombs are not

PhotoLike = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB. Transparent pixels are composited on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: scale the actual range down to 8 bits.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def _array_to_rgb(array: np.ndarray, name: str) -> np.ndarray:
    from .errors import InputError

    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise InputError(f"{name}: expected an image array (H, W[, 1|3|4]). Got shape {array.shape}")
    if array.dtype == np.uint16:
        array = (array.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    elif array.dtype.kind == "f":
        array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0) + 0.5, 0, 255).astype(np.uint8)
    elif array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        alpha = array[..., 3:].astype(np.float64) / 255.0
        array = (array[..., :3] * alpha + 255.0 * (1 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(array)


def open_image(path: str | os.PathLike) -> Image.Image:
    """Open an image file fully decoded, EXIF orientation applied.

    Raises InputError naming the file if it is missing or not a readable image.
    """
    from .errors import InputError

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file.")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an image.")
    try:
        with Image.open(path) as image:
            image.load()
            return ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path} is not a readable image ({error}). Use a JPEG, PNG or WebP file.") from error
    except Image.DecompressionBombError as error:
        raise InputError(f"{path} is too large to open safely ({error}).") from error


def load_photo(source: PhotoLike, name: str = "photo") -> np.ndarray:
    """A photo from a path, PIL image, array (H, W, C) or tensor (3, H, W) in [0, 1] -> RGB uint8 (H, W, 3)."""
    from .errors import InputError

    if isinstance(source, (str, os.PathLike)):
        return np.asarray(_to_rgb(open_image(source)))
    if isinstance(source, Image.Image):
        return np.asarray(_to_rgb(ImageOps.exif_transpose(source)))
    if isinstance(source, torch.Tensor):
        tensor = source.detach().cpu()
        if tensor.ndim == 4 and tensor.shape[0] == 1:
            tensor = tensor[0]
        if tensor.ndim != 3 or tensor.shape[0] not in (1, 3, 4):
            raise InputError(f"{name}: expected a tensor (C, H, W). Got {tuple(tensor.shape)}")
        return _array_to_rgb(tensor.permute(1, 2, 0).float().numpy(), name)
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, name)
    raise InputError(f"{name}: expected a path, PIL image, array or tensor. Got {type(source).__name__}")


def save_image(image: Image.Image | np.ndarray, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write atomically (a temporary file in the same folder, then a rename).

    An existing file is kept unless ``overwrite``; the format follows the file extension.
    """
    from .errors import InputError

    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite (overwrite=True) to replace it.")
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if not path.parent.exists():
        raise InputError(f"{path.parent} does not exist; create the folder first.")
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None:
        raise InputError(f"{path}: unknown image extension; use .png, .jpg or .webp.")
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            options = {"quality": 95} if image_format in ("JPEG", "WEBP") else {}
            image.save(handle, format=image_format, **options)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
