"""Photos as people take them are read as the RGB picture they show; results are written safely."""

import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile
from skimage import data

from hairedit.errors import InputError
from hairedit.imageio import (
    check_pixel_count, load_photo, open_header, open_image, read_photo, save_image, save_photo,
)
from tests.conftest import run_python


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


def _mean_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


@pytest.mark.parametrize("orientation, turn", [(3, 2), (6, 3), (8, 1)])
def test_exif_rotated_photo_is_read_as_displayed(tmp_path, astronaut, orientation, turn):
    # Cameras store the sensor's pixels and an orientation tag; viewers turn the picture upright.
    stored = np.rot90(astronaut, -turn)  # what a camera held sideways stores
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "phone.jpg"
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, quality=95)
    photo = load_photo(path)
    assert photo.shape == astronaut.shape
    assert _mean_error(photo, astronaut) < 3


def test_transparent_pixels_become_white_and_opaque_ones_stay(tmp_path, astronaut):
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:100, :, 3] = 0  # a transparent strip
    rgba[100:200, :, 3] = 128  # half transparent
    Image.fromarray(rgba).save(tmp_path / "cutout.png")
    photo = load_photo(tmp_path / "cutout.png")
    assert (photo[:100] == 255).all()
    np.testing.assert_array_equal(photo[200:], astronaut[200:])
    expected = (astronaut[100:200].astype(float) * 128 + 255 * 127) / 255
    assert np.abs(photo[100:200] - expected).max() <= 1


def test_greyscale_and_bilevel_photos_become_three_equal_channels(tmp_path, astronaut):
    grey = np.asarray(Image.fromarray(astronaut).convert("L"))
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(grey > 128).save(tmp_path / "bilevel.png")
    photo = load_photo(tmp_path / "grey.png")
    assert photo.shape == astronaut.shape
    for channel in range(3):
        np.testing.assert_array_equal(photo[..., channel], grey)
    assert set(np.unique(load_photo(tmp_path / "bilevel.png")).tolist()) == {0, 255}


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    values = np.arange(256, dtype=np.uint16).reshape(16, 16) * 257  # full 16-bit range
    Image.fromarray(values).save(tmp_path / "scan16.png")
    assert Image.open(tmp_path / "scan16.png").mode.startswith("I")
    photo = load_photo(tmp_path / "scan16.png")
    np.testing.assert_array_equal(photo[..., 0], np.arange(256).reshape(16, 16))


def test_cmyk_jpeg_gives_the_same_picture(tmp_path, astronaut):
    Image.fromarray(astronaut).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    photo = load_photo(tmp_path / "print.jpg")
    assert photo.shape == astronaut.shape and photo.dtype == np.uint8
    assert _mean_error(photo, astronaut) < 6


def test_webp_and_palette_files_load(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "photo.webp", quality=95)
    assert _mean_error(load_photo(tmp_path / "photo.webp"), astronaut) < 4
    palette = Image.fromarray(astronaut).convert("P", palette=Image.Palette.ADAPTIVE)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "palette.png", transparency=0)
    assert load_photo(tmp_path / "palette.png").shape == astronaut.shape


def test_arrays_and_tensors_load_as_uint8_rgb(astronaut):
    as_float = astronaut.astype(np.float32) / 255
    np.testing.assert_array_equal(load_photo(as_float), astronaut)
    np.testing.assert_array_equal(load_photo(torch.from_numpy(as_float).permute(2, 0, 1)[None]), astronaut)
    np.testing.assert_array_equal(load_photo(astronaut.astype(np.uint16) * 257), astronaut)
    np.testing.assert_array_equal(load_photo(Image.fromarray(astronaut)), astronaut)
    with pytest.raises(InputError, match="expected"):
        load_photo(np.zeros((4, 4, 2), np.uint8))


@pytest.mark.parametrize(
    "name, content",
    [("broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg"), ("notes.png", b"shopping list: eggs"), ("empty.webp", b"")],
)
def test_unreadable_files_are_named(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=name):
        load_photo(tmp_path / name)


def test_truncated_photo_is_named(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "cut.jpg")
    whole = (tmp_path / "cut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="cut.jpg"):
        load_photo(tmp_path / "cut.jpg")


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_photo(tmp_path / "nowhere.jpg")
    with pytest.raises(InputError, match="folder"):
        open_image(tmp_path)


def _blank_png(path, width: int, height: int) -> None:
    """A valid 1-bit greyscale PNG, all black: width x height pixels in a few kilobytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    packer = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte, then the packed pixels
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


@pytest.fixture
def no_decoding(monkeypatch):
    """Fails the test if any image is decoded."""

    def refuse(self):
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def test_image_bomb_is_refused_before_decoding(tmp_path, no_decoding):
    # 20000 x 20000 = 400 million pixels (1.2 GB as RGB) in about 60 kB: refused from the header.
    _blank_png(tmp_path / "bomb.png", 20000, 20000)
    assert (tmp_path / "bomb.png").stat().st_size < 200_000
    with pytest.raises(InputError, match="bomb.png is too large"):
        load_photo(tmp_path / "bomb.png")


def test_the_pixel_limit_is_checked_from_the_header_and_can_be_changed(tmp_path, monkeypatch, no_decoding):
    _blank_png(tmp_path / "big.png", 2000, 1000)
    monkeypatch.setenv("HAIREDIT_MAX_PIXELS", "1_000_000")
    with pytest.raises(InputError, match=r"big.png is too large: 2000x1000 .*HAIREDIT_MAX_PIXELS=2000000"):
        load_photo(tmp_path / "big.png")
    with pytest.raises(InputError, match="too large"):
        load_photo(tmp_path / "big.png", limit_px=1_999_999)
    with pytest.raises(InputError, match="too large"):  # a PIL image opened by the caller, not decoded yet
        load_photo(Image.open(tmp_path / "big.png"))
    monkeypatch.setenv("HAIREDIT_MAX_PIXELS", "lots")
    with pytest.raises(InputError, match="HAIREDIT_MAX_PIXELS='lots'"):
        load_photo(tmp_path / "big.png")


def test_an_icon_holding_a_huge_picture_is_refused_unopened(tmp_path, monkeypatch):
    # Pillow decodes an ICO's picture when opening it, before its size can be checked.
    from PIL import IcoImagePlugin

    def refuse(self):
        raise AssertionError("the icon was decoded")

    monkeypatch.setattr(IcoImagePlugin.IcoImageFile, "load", refuse)
    Image.new("RGB", (64, 64)).save(tmp_path / "photo.ico")
    with pytest.raises(InputError, match="photo.ico is not a readable image"):
        load_photo(tmp_path / "photo.ico")


def test_photos_within_the_limit_load(tmp_path, monkeypatch):
    _blank_png(tmp_path / "big.png", 2000, 1000)
    monkeypatch.setenv("HAIREDIT_MAX_PIXELS", "2000000")
    assert load_photo(tmp_path / "big.png").shape == (1000, 2000, 3)


def test_importing_hairedit_leaves_pillows_limit_alone():
    # Pillow's limit is process-wide: a library that changes it changes it for every other one.
    code = (
        "import PIL.Image; before = PIL.Image.MAX_IMAGE_PIXELS; "
        "import hairedit, hairedit.imageio, hairedit.pipeline; "
        "assert PIL.Image.MAX_IMAGE_PIXELS == before, (before, PIL.Image.MAX_IMAGE_PIXELS)"
    )
    run = run_python(code)
    assert run.returncode == 0, run.stderr[-2000:]


def test_save_never_overwrites_unless_asked_and_leaves_no_partial_files(tmp_path):
    path = tmp_path / "result.png"
    save_image(np.zeros((8, 8, 3), np.uint8), path)
    with pytest.raises(InputError, match="already exists"):
        save_image(np.full((8, 8, 3), 9, np.uint8), path)
    assert np.asarray(Image.open(path)).max() == 0
    save_image(np.full((8, 8, 3), 9, np.uint8), path, overwrite=True)
    assert np.asarray(Image.open(path)).max() == 9
    assert [p.name for p in tmp_path.iterdir()] == ["result.png"]


def test_save_writes_the_format_of_the_extension(tmp_path, astronaut):
    for name, image_format in [("a.jpg", "JPEG"), ("a.webp", "WEBP"), ("a.png", "PNG")]:
        save_image(astronaut, tmp_path / name)
        assert Image.open(tmp_path / name).format == image_format
    np.testing.assert_array_equal(load_photo(tmp_path / "a.png"), astronaut)
    save_image(np.dstack([astronaut, astronaut[..., :1]]), tmp_path / "rgba.jpg")  # alpha dropped for JPEG
    with pytest.raises(InputError, match="extension"):
        save_image(astronaut, tmp_path / "a.xyz")
    for name in ("a.psd", "a.xbm", "a.gif"):  # Pillow reads them, but cannot or should not write a photo so
        with pytest.raises(InputError, match=r"does not write .*use \.jpg, \.png"):
            save_image(astronaut, tmp_path / name)
    with pytest.raises(InputError, match="does not exist"):
        save_image(astronaut, tmp_path / "missing" / "a.png")


def test_a_quick_png_has_the_same_pixels_in_a_larger_file(tmp_path, astronaut):
    save_image(astronaut, tmp_path / "quick.png", quick=True)
    save_image(astronaut, tmp_path / "small.png")
    np.testing.assert_array_equal(load_photo(tmp_path / "quick.png"), astronaut)
    assert (tmp_path / "quick.png").stat().st_size > (tmp_path / "small.png").stat().st_size
    save_image(astronaut, tmp_path / "quick.jpg", quick=True)  # other formats as always
    assert Image.open(tmp_path / "quick.jpg").format == "JPEG"


def test_an_rgba_array_gets_its_own_colours_back(tmp_path):
    # Half-transparent red: read as red over white, written back as the red it was.
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[...] = (255, 0, 0, 128)
    rgb, info = read_photo(rgba)
    assert tuple(rgb[0, 0]) == (255, 127, 127)
    save_photo(rgb, tmp_path / "back.png", info, original=rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "back.png")), rgba)


def test_a_camera_jpeg_read_as_mpo_is_written_with_its_own_tables(tmp_path, astronaut):
    # Phones and cameras add a multi-picture segment; Pillow then names the JPEG "MPO".
    photo = Image.fromarray(astronaut)
    photo.save(tmp_path / "camera.jpg", "MPO", quality=70, save_all=True, append_images=[photo.resize((64, 64))])
    rgb, info = read_photo(tmp_path / "camera.jpg")
    assert info.format == "MPO" and info.jpeg_quantization
    save_photo(rgb, tmp_path / "edited", info, original=rgb)  # no extension: the original's format
    written = Image.open(tmp_path / "edited")
    assert written.format == "JPEG"
    assert written.quantization == Image.open(tmp_path / "camera.jpg").quantization


def test_hairedits_limit_is_the_only_one_on_the_photos_it_opens(tmp_path, monkeypatch, no_decoding):
    """Pillow's process-wide limit (here lowered, as other code may) neither warns about nor
    refuses a photo within $HAIREDIT_MAX_PIXELS, and stays as it was."""
    _blank_png(tmp_path / "big.png", 2000, 1000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500_000)  # 2 000 000 pixels: 4 times Pillow's limit
    monkeypatch.setenv("HAIREDIT_MAX_PIXELS", "2000000")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning would fail here
        with open_header(tmp_path / "big.png") as image:
            check_pixel_count(image, "big.png")
            assert image.size == (2000, 1000)
        with open(tmp_path / "big.png", "rb") as handle, open_header(handle) as image:
            assert image.size == (2000, 1000)
    assert Image.MAX_IMAGE_PIXELS == 500_000
    with pytest.raises(Image.DecompressionBombError):  # other code's Image.open still has Pillow's limit
        Image.open(tmp_path / "big.png")
    monkeypatch.setenv("HAIREDIT_MAX_PIXELS", "1999999")
    with pytest.raises(InputError, match="big.png is too large: 2000x1000 .*HAIREDIT_MAX_PIXELS=2000000"):
        load_photo(tmp_path / "big.png")


def test_photos_past_pillows_limit_load_within_hairedits(tmp_path, monkeypatch):
    _blank_png(tmp_path / "big.png", 2000, 1000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500_000)
    monkeypatch.setenv("HAIREDIT_MAX_PIXELS", "2000000")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_photo(tmp_path / "big.png").shape == (1000, 2000, 3)
    with pytest.raises(InputError, match="not a readable image"):
        (tmp_path / "text.png").write_text("not an image")
        load_photo(tmp_path / "text.png")
