"""Reading photos as people take them, and writing results without losing anything.

Every reader returns an RGB uint8 array (H, W, 3) in the photo's *visible* orientation (EXIF
orientation applied), whatever the file holds:

- greyscale and bilevel: the grey value in all three channels;
- 16-bit greyscale: scaled to 8 bits (65535 -> 255); 16-bit colour PNGs are reduced by Pillow;
- transparency (RGBA, LA, palette with a transparent colour): composited on white, because the
  edit needs a complete picture and white is what most viewers show behind transparent pixels;
- CMYK: through the file's embedded ICC profile to sRGB when it has one, else Pillow's conversion.

Colour values of RGB files are kept as stored (no colour management), so pasting an edit back
leaves every untouched pixel bit for bit as it was.

Size limit: a file whose header declares more than :func:`max_pixels` pixels (default 150
million; ``$HAIREDIT_MAX_PIXELS`` or the ``limit_px`` arguments change it) is refused before
any pixel is decoded, so a small, highly compressed "image bomb" cannot fill the memory.
It is the only limit on the photos hairedit opens: Pillow's own guard
(``PIL.Image.MAX_IMAGE_PIXELS``, a process-wide setting that hairedit leaves alone for other
code) would warn above 89 million pixels and refuse above 179 million before hairedit's check
could run, so :func:`open_header` opens files through Pillow's format readers without it.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ._requirements import require
from .atomic import write_atomically
from .errors import InputError

require("numpy", "pillow")

MAX_PIXELS_ENV = "HAIREDIT_MAX_PIXELS"
# 150 megapixels: above the largest camera photos (a 100 MP medium-format frame is 11656x8742),
# far below a bomb's billions; one RGB copy of such a photo is 450 MB.
DEFAULT_MAX_PIXELS = 150_000_000

if typing.TYPE_CHECKING:
    import torch

# torch is not imported here: reading photos and masks (and every error about them) must not
# wait for it. A tensor can only be given where torch is already imported.
PhotoLike = typing.Union[str, os.PathLike, Image.Image, np.ndarray, "torch.Tensor"]

_SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I;16N")
_TRANSPARENT_MODES = ("RGBA", "RGBa", "LA", "La", "PA")

# The formats photos are opened as. Each of their readers takes only the header on opening, so the
# pixel limit is checked before anything is decoded (Pillow's ICO reader, for one, decodes on
# opening; its EPS reader runs Ghostscript). HEIF and AVIF count where a plugin reads them.
PHOTO_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF", "PPM", "TGA", "JPEG2000", "AVIF", "HEIF")
# The formats results are written as (by extension), and the extensions to say so with.
OUTPUT_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP")
OUTPUT_EXTENSIONS = ".jpg, .png, .webp, .tif or .bmp"


def max_pixels() -> int:
    """The largest image hairedit decodes, in pixels: ``$HAIREDIT_MAX_PIXELS`` or 150 million."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip().replace("_", "")
    if not value:
        return DEFAULT_MAX_PIXELS
    if not value.isdigit() or int(value) == 0:
        raise InputError(f"{MAX_PIXELS_ENV}={os.environ[MAX_PIXELS_ENV]!r} is not a positive whole number of pixels.")
    return int(value)


def check_pixel_count(image: Image.Image, name: str, limit_px: int | None = None) -> None:
    """Refuse an image of more than ``limit_px`` pixels (default :func:`max_pixels`) from its
    size alone: for a file just opened, only the header has been read."""
    limit_px = max_pixels() if limit_px is None else limit_px
    width, height = image.size
    if width * height > limit_px:
        raise InputError(
            f"{name} is too large: {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), more "
            f"than the {limit_px / 1e6:g} megapixels hairedit opens. Scale it down first, or raise the limit "
            f"with {MAX_PIXELS_ENV}={width * height} if this machine has the memory."
        )


def open_image(path: str | os.PathLike, limit_px: int | None = None) -> Image.Image:
    """Open an image file fully decoded, EXIF orientation applied.

    ``limit_px``: the most pixels accepted (default :func:`max_pixels`), checked from the
    header before decoding. Only :data:`PHOTO_FORMATS` are opened.

    Raises InputError naming the file if it is missing, a folder, too large, or not a
    readable image.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file.")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an image.")
    try:
        with open_header(path) as image:
            check_pixel_count(image, str(path), limit_px)
            image.load()
            # in_place frees the stored pixels once turned: a 48-megapixel photo is held once.
            ImageOps.exif_transpose(image, in_place=True)
            return image
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path} is not a readable image ({error}). Use a JPEG, PNG or WebP file.") from error


def open_header(source: str | os.PathLike | BinaryIO) -> Image.Image:
    """``Image.open`` limited to :data:`PHOTO_FORMATS`, without Pillow's process-wide
    decompression-bomb check (hairedit's :func:`check_pixel_count` is the limit): reads the
    header only, so the size can be checked before any pixel is decoded. Raises what
    ``Image.open`` raises for a file no reader accepts."""
    Image.init()
    is_path = isinstance(source, (str, os.PathLike))
    if is_path:
        with open(source, "rb") as handle:
            prefix = handle.read(16)
    else:
        prefix = source.read(16)
    for name in PHOTO_FORMATS:
        reader, accept = Image.OPEN.get(name, (None, None))
        verdict = reader is not None and (accept is None or accept(prefix))
        if not verdict or isinstance(verdict, str):  # a string: "this format, but unsupported"
            continue
        try:
            if is_path:
                return reader(os.fspath(source))  # the image opens and owns its handle, as with Image.open
            source.seek(0)
            return reader(source, None)
        except (SyntaxError, IndexError, TypeError, struct.error):  # not this format after all, as Image.open decides
            continue
    raise UnidentifiedImageError(f"cannot identify image file {os.fspath(source) if is_path else source!r}")


@dataclass
class PhotoInfo:
    """What reading a photo leaves aside and saving the edit puts back."""

    format: str | None = None  # the file's format ("JPEG", "PNG", ...); None for arrays and tensors
    icc_profile: bytes | None = None
    exif: bytes | None = None  # orientation already applied to the pixels
    rgba: np.ndarray | None = None  # (H, W, 4) uint8, as read, when the photo has transparency
    jpeg_quantization: dict | None = None  # a JPEG's own quantization tables ...
    jpeg_subsampling: int | None = None  # ... and chroma subsampling, to re-encode it alike


def load_photo(source: PhotoLike, name: str = "photo", limit_px: int | None = None) -> np.ndarray:
    """A photo -> RGB uint8 (H, W, 3), visible orientation.

    ``source``: a path; a PIL image; an array (H, W[, 1|3|4]) of uint8, uint16 or float in [0, 1];
    or a tensor (C, H, W) / (1, C, H, W) in [0, 1]. Files and PIL images (which may not be
    decoded yet) larger than ``limit_px`` pixels (default :func:`max_pixels`) are refused.
    """
    return read_photo(source, name, limit_px)[0]


def read_photo(source: PhotoLike, name: str = "photo", limit_px: int | None = None) -> tuple[np.ndarray, PhotoInfo]:
    """:func:`load_photo`, and what saving the edit needs to write it like the original."""
    if isinstance(source, (str, os.PathLike)):
        image = open_image(source, limit_px)
        return pil_to_rgb(image, str(source)), _info_of(image)
    if isinstance(source, Image.Image):
        check_pixel_count(source, name, limit_px)
        image = ImageOps.exif_transpose(source)  # a copy: the file's format and tables stay on ``source``
        return pil_to_rgb(image, name), _info_of(image, stored=source)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(source, torch.Tensor):
        tensor = source.detach().cpu()
        if tensor.ndim == 4 and tensor.shape[0] == 1:
            tensor = tensor[0]
        if tensor.ndim != 3 or tensor.shape[0] not in (1, 3, 4):
            raise InputError(f"{name}: expected a tensor (C, H, W) in [0, 1]. Got shape {tuple(tensor.shape)}")
        source = tensor.permute(1, 2, 0).float().numpy()
    if isinstance(source, np.ndarray):
        rgb = array_to_rgb(source, name)
        if not (source.ndim == 3 and source.shape[2] == 4):
            return rgb, PhotoInfo()
        # The colours as given, not as composited on white: saving puts them back unchanged.
        stored = np.dstack([array_to_rgb(source[..., :3], name), array_to_rgb(source[..., 3], name)[..., 0]])
        return rgb, PhotoInfo(rgba=stored)
    raise InputError(f"{name}: expected a path, PIL image, array or tensor. Got {type(source).__name__}")


def _info_of(image: Image.Image, stored: Image.Image | None = None) -> PhotoInfo:
    """What saving needs, from ``image`` as shown (orientation applied) and, for the format and
    a JPEG's tables, ``stored``, the image as read from its file (default: ``image``)."""
    stored = stored or image
    transparent = has_transparency(image)
    exif = image.getexif()
    return PhotoInfo(
        format=stored.format,
        icc_profile=_rgb_profile(image.info.get("icc_profile")),
        exif=exif.tobytes() if len(exif) else None,
        rgba=np.asarray(image.convert("RGBA")) if transparent else None,
        jpeg_quantization=getattr(stored, "quantization", None) if _is_jpeg(stored) else None,
        jpeg_subsampling=_jpeg_subsampling(stored),
    )


def has_transparency(image: Image.Image) -> bool:
    """Whether ``image`` has an alpha channel or a transparent palette colour."""
    return image.mode in _TRANSPARENT_MODES or (image.mode == "P" and "transparency" in image.info)


def _rgb_profile(profile: bytes | None) -> bytes | None:
    """``profile`` if it describes RGB pixels, as the edit's are; a CMYK or grey one (whose
    pixels were converted to RGB on reading) is dropped: without one, viewers assume sRGB."""
    if not profile:
        return None
    try:
        space = ImageCms.ImageCmsProfile(io.BytesIO(profile)).profile.xcolor_space
    except (OSError, ImageCms.PyCMSError):
        return None
    return profile if space.strip() == "RGB" else None


def _is_jpeg(image: Image.Image) -> bool:
    # Pillow names a JPEG with a multi-picture segment (as many cameras and phones write) MPO.
    return image.format in ("JPEG", "MPO")


def _jpeg_subsampling(image: Image.Image) -> int | None:
    if not _is_jpeg(image):
        return None
    from PIL import JpegImagePlugin

    sampling = JpegImagePlugin.get_sampling(image)
    return None if sampling == -1 else sampling


def pil_to_rgb(image: Image.Image, name: str = "photo") -> np.ndarray:
    """Any PIL mode -> RGB uint8 (H, W, 3); see the module notes for each kind of file."""
    if image.mode in _SIXTEEN_BIT_GREY or image.mode == "I":
        return array_to_rgb(_grey_to_uint8(np.asarray(image)), name)
    if image.mode == "F":
        return array_to_rgb(np.asarray(image), name)
    if image.mode == "CMYK":
        return np.asarray(_cmyk_to_rgb(image))
    if has_transparency(image):
        return _on_white(np.asarray(image.convert("RGBA")))
    return np.asarray(image.convert("RGB"))


def array_to_rgb(array: np.ndarray, name: str = "photo") -> np.ndarray:
    """(H, W[, 1|3|4]) uint8 / uint16 (0..65535) / float (0..1, or 0..255 if larger) -> RGB uint8 (H, W, 3)."""
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise InputError(f"{name}: expected an image array (H, W[, 1|3|4]). Got shape {array.shape}")
    if array.dtype == np.uint16:
        array = _sixteen_to_eight(array)
    elif array.dtype.kind == "f":
        peak = 1.0 if np.nanmax(array, initial=0.0) <= 1.0 else 255.0
        array = np.clip(np.nan_to_num(array) * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)
    elif array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.shape[2] == 1:
        return np.repeat(array, 3, axis=2)
    if array.shape[2] == 4:
        return _on_white(array)
    return np.ascontiguousarray(array)


def _grey_to_uint8(grey: np.ndarray) -> np.ndarray:
    """16-bit greyscale (or Pillow's 32-bit "I" mode holding 16-bit values) -> uint8."""
    if grey.dtype != np.uint16:
        # "I" images hold 8-bit values when they came from an 8-bit source.
        if grey.max(initial=0) <= 255:
            return np.clip(grey, 0, 255).astype(np.uint8)
        grey = np.clip(grey, 0, 65535).astype(np.uint16)
    return _sixteen_to_eight(grey)


def _sixteen_to_eight(values: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 rounded (65535 -> 255), in integers: no float copy of a large photo."""
    return ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _on_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 straight alpha -> (H, W, 3) uint8 over a white background."""
    alpha = rgba[..., 3:].astype(np.uint16)
    mixed = (rgba[..., :3].astype(np.uint16) * alpha + 255 * (255 - alpha) + 127) // 255
    return mixed.astype(np.uint8)


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    profile = image.info.get("icc_profile")
    if profile:
        try:
            return ImageCms.profileToProfile(
                image, ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: Pillow's plain conversion is still a usable picture
    return image.convert("RGB")


def save_image(
    image: Image.Image | np.ndarray, path: str | os.PathLike, overwrite: bool = False, quick: bool = False
) -> Path:
    """Write ``image`` (PIL, or uint8 array (H, W[, 3|4])) atomically: a temporary file beside
    ``path``, then a rename, so a crash never leaves half a file.

    An existing file is kept unless ``overwrite``; the format follows the file extension
    (JPEG and WebP at quality 95). ``quick``: for a file someone waits for, a PNG is written at
    zlib's fastest level (a 12 MP photo in 0.6 s rather than 2.1 s, the file a quarter larger).
    Returns the path written.
    """
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image_format = output_format(path)
    options = {"compress_level": 1} if quick and image_format == "PNG" else {}
    return _save(image, Path(path), image_format, options, overwrite)


def save_photo(
    edited: np.ndarray, path: str | os.PathLike, info: PhotoInfo, original: np.ndarray, overwrite: bool = False
) -> Path:
    """Write an edited photo (H, W, 3) uint8 the way the original (``original``, as
    :func:`read_photo` gave it, with its ``info``) was stored.

    The format follows the extension, or the original's when the name has none. A JPEG
    original's own quantization tables and subsampling are reused, so untouched pixels stay
    as close as re-encoding allows (quality 95, no subsampling, for other originals). The ICC
    profile and EXIF go back in; so does transparency where the format keeps it: pixels the
    edit left alone get their original RGBA, edited ones the original alpha.
    """
    path = Path(path)
    image_format = output_format(path, info.format)
    image = Image.fromarray(edited)
    if info.rgba is not None and image_format in ("PNG", "WEBP", "TIFF"):
        rgba = info.rgba.copy()
        changed = np.any(edited != original, axis=2)
        rgba[changed, :3] = edited[changed]
        image = Image.fromarray(rgba, "RGBA")
    options = {key: value for key, value in (("icc_profile", info.icc_profile), ("exif", info.exif)) if value}
    if image_format == "JPEG" and info.jpeg_quantization:
        options.update(qtables=info.jpeg_quantization, subsampling=info.jpeg_subsampling)
    return _save(image, path, image_format, options, overwrite)


def output_format(path: str | os.PathLike, fallback: str | None = None) -> str:
    """Pillow's format name for ``path``'s extension, one of :data:`OUTPUT_FORMATS`.

    A name without an extension takes ``fallback`` (the original's format): an MPO is written
    as the JPEG it is, a format results are not written in (GIF's 256 colours, say) as PNG.
    """
    path = Path(path)
    if not path.suffix and fallback:
        fallback = "JPEG" if fallback == "MPO" else fallback
        return fallback if fallback in OUTPUT_FORMATS else "PNG"
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format not in OUTPUT_FORMATS:
        kind = "unknown image extension" if image_format is None else f"hairedit does not write {image_format} files"
        raise InputError(f"{path}: {kind}; use {OUTPUT_EXTENSIONS}.")
    return image_format


def _save(image: Image.Image, path: Path, image_format: str, options: dict, overwrite: bool) -> Path:
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite (overwrite=True) to replace it.")
    if not path.parent.is_dir():
        raise InputError(f"{path.parent} does not exist; create the folder first.")
    if image_format == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    if image_format in ("JPEG", "WEBP") and "qtables" not in options:
        options = {"quality": 95, **({"subsampling": 0} if image_format == "JPEG" else {}), **options}
    options = {key: value for key, value in options.items() if value is not None}
    return write_atomically(path, lambda handle: image.save(handle, format=image_format, **options), overwrite)
