"""The Python API as a newcomer meets it: progress by default, saving that keeps the photo,
devices checked where the editor is made."""

import dataclasses
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from skimage import data

import hairedit
from hairedit import EditConfig, HairEditor
from hairedit.commands import SMOKE_NETWORK_SEED
from hairedit.errors import InputError


@pytest.fixture(scope="module")
def editor():
    return HairEditor.from_random(seed=SMOKE_NETWORK_SEED, config=EditConfig.smoke(1))


@pytest.fixture(scope="module")
def photo():
    return data.astronaut()


def test_an_edit_shows_progress_bars_unless_turned_off(editor, photo, capsys):
    editor.edit(photo, rgb="red")
    err = capsys.readouterr().err
    assert "inversion (W+)" in err and "colour blending" in err and "1/1" in err
    editor.edit(photo, rgb="red", progress=False)
    editor.edit(photo, rgb="red", callback=lambda progress: None)
    editor.set_progress_bar_config(disable=True)
    try:
        editor.edit(photo, rgb="red")
    finally:
        editor.set_progress_bar_config()
    assert capsys.readouterr().err == ""


def test_a_device_this_machine_lacks_is_refused_where_the_editor_is_made():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InputError, match="device 'cuda' is not available here; available: cpu"):
        HairEditor.from_random(device="cuda")
    with pytest.raises(InputError, match="device 'cuda' is not available here"):
        HairEditor.from_pretrained(device="cuda")
    with pytest.raises(InputError, match="unknown device 'gpu'"):
        HairEditor.from_random(device="gpu")


def _mean_error(a, b):
    return np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean()


def test_saving_a_jpeg_keeps_the_untouched_pixels_close_icc_and_exif(editor, photo, tmp_path):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "hairedit test camera"  # Make
    original = tmp_path / "me.jpg"
    Image.fromarray(photo).save(original, quality=80, icc_profile=srgb, exif=exif)
    result = editor.edit(original, rgb="red", progress=False)
    saved = result.save(tmp_path / "edited.jpg")
    decoded = np.asarray(Image.open(original).convert("RGB"))
    with Image.open(saved) as image:
        assert image.info.get("icc_profile") == srgb
        assert image.getexif().get(0x010F) == "hairedit test camera"
        edited = np.asarray(image.convert("RGB"))
    untouched = np.all(np.asarray(result.image) == decoded, axis=2)
    # Re-encoding with the photo's own tables drifts far less than Pillow's default quality.
    default = io.BytesIO()
    result.image.save(default, format="JPEG")
    drift_default = _mean_error(np.asarray(Image.open(default))[untouched], decoded[untouched])
    drift_saved = _mean_error(edited[untouched], decoded[untouched])
    assert drift_saved < 0.5 < drift_default


def test_saving_puts_transparency_back(editor, photo, tmp_path):
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    rgba[:60, :60, 3] = 0  # a transparent corner, far from the face
    rgba[:60, :60, :3] = (10, 200, 30)  # with colours that compositing on white would lose
    original = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(original)
    # The crop's own edit only: random networks' whole-photo step may find "hair" in the corner.
    crop_only = dataclasses.replace(editor.config, whole_photo=dataclasses.replace(editor.config.whole_photo,
                                                                                   inpaint="none"))
    result = editor.edit(original, rgb="red", progress=False, config=crop_only)
    saved = np.asarray(Image.open(result.save(tmp_path / "edited.png")))
    assert saved.shape == rgba.shape
    assert np.array_equal(saved[..., 3], rgba[..., 3])
    assert np.array_equal(saved[:60, :60], rgba[:60, :60])
    changed = np.any(np.asarray(result.image) != result.photo, axis=2)
    assert changed.any() and np.array_equal(saved[changed, :3], np.asarray(result.image)[changed])


def test_saving_without_an_extension_uses_the_photos_format_and_never_overwrites(editor, photo, tmp_path):
    original = tmp_path / "me.webp"
    Image.fromarray(photo).save(original, quality=90)
    result = editor.edit(original, rgb="red", progress=False)
    path = result.save(tmp_path / "edited")
    assert Image.open(path).format == "WEBP"
    with pytest.raises(InputError, match="already exists"):
        result.save(path)
    result.save(path, overwrite=True)


def test_a_pil_image_given_keeps_its_format_and_jpeg_tables_on_saving(editor, photo, tmp_path):
    original = tmp_path / "me.jpg"
    Image.fromarray(photo).save(original, quality=70)
    with Image.open(original) as image:
        result = editor.edit(image, rgb="red", progress=False)
    assert result.photo_info.format == "JPEG" and result.photo_info.jpeg_quantization
    assert Image.open(result.save(tmp_path / "edited")).format == "JPEG"


def test_from_random_is_the_small_smoke_editor_unless_given_settings():
    assert HairEditor.from_random().config == EditConfig.smoke()
    fast = EditConfig.for_preset("fast")
    assert HairEditor.from_random(config=fast).config is fast


def test_the_readmes_no_download_example_runs_as_written(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    example = next(code for code in re.findall(r"```python\n(.*?)```", readme, re.S) if "from_random()" in code)
    home = tmp_path / "home"
    environment = {**os.environ, "PYTHONPATH": str(Path(hairedit.__file__).parents[1]), "HAIREDIT_HOME": str(home)}
    run = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert Image.open(tmp_path / "astronaut_smoke.png").size == (512, 512)
    assert "inversion" in run.stdout
    assert not home.exists() or not any(home.iterdir())  # nothing downloaded
