"""The inversion cache: what makes a hit, what misses, how it stays small, `hairedit cache`."""

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from hairedit import EditConfig, HairEditor
from hairedit.cache import InversionCache, cache_key
from hairedit.cli import main
from tests.disk import full_after


@pytest.fixture(scope="module")
def photo():
    return data.astronaut()


def _inversion_steps(editor, photo, **options):
    record = []
    editor.edit(photo, rgb="red", callback=record.append, previews=False, **options)
    return [p for p in record if p.stage.startswith("inversion")]


def test_changing_the_seed_or_the_precision_misses_the_cache(tmp_path, photo):
    editor = HairEditor.from_random(seed=3, config=EditConfig.smoke(1), cache_dir=tmp_path)
    assert _inversion_steps(editor, photo, seed=1)  # computed
    assert not _inversion_steps(editor, photo, seed=1)  # found
    assert _inversion_steps(editor, photo, seed=2)  # another seed: other noise, another inversion
    editor.config = EditConfig.for_preset("faithful", {**editor.config.overrides(), "autocast": "bf16"})
    assert _inversion_steps(editor, photo, seed=1)  # another precision
    assert len(InversionCache(tmp_path).entries()) == 6  # W+ and FS of each


def test_changing_a_setting_or_the_networks_misses_the_cache(tmp_path, photo):
    editor = HairEditor.from_random(seed=3, config=EditConfig.smoke(1), cache_dir=tmp_path)
    assert _inversion_steps(editor, photo)
    editor.config = EditConfig.for_preset(
        "faithful", {**editor.config.overrides(), "inversion": {"w_steps": 1, "fs_steps": 1, "p_norm_lambda": 0.002}}
    )
    assert _inversion_steps(editor, photo)
    other_networks = HairEditor.from_random(seed=4, config=EditConfig.smoke(1), cache_dir=tmp_path)
    assert _inversion_steps(other_networks, photo)
    same_networks = HairEditor.from_random(seed=3, config=EditConfig.smoke(1), cache_dir=tmp_path)
    assert not _inversion_steps(same_networks, photo)


def test_the_least_recently_used_entries_go_once_the_cap_is_passed(tmp_path):
    tensor = torch.zeros(64, 1024)  # 256 KiB an entry
    cache = InversionCache(tmp_path, max_bytes=3 * 300 * 1024)
    for index in range(3):
        cache.save(f"key{index}", {"t": tensor})
        time.sleep(0.02)
    assert cache.load("key0", "cpu") is not None  # key0 is now the most recently used
    os.utime(cache.path("key0"))
    cache.save("key3", {"t": tensor})
    assert {entry.path.name.split(".")[0] for entry in cache.entries()} == {"key0", "key2", "key3"}
    assert cache.size_bytes() <= cache.max_bytes


def test_concurrent_writers_of_one_key_leave_one_whole_entry(tmp_path):
    cache = InversionCache(tmp_path)
    values = [torch.full((256, 256), float(i)) for i in range(8)]
    threads = [threading.Thread(target=cache.save, args=("same", {"t": value})) for value in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    loaded = cache.load("same", "cpu")["t"]
    assert any(torch.equal(loaded, value) for value in values)
    assert [path.name for path in tmp_path.iterdir()] == [cache.path("same").name]  # no temporary file left


def test_a_damaged_entry_is_recomputed_not_trusted(tmp_path):
    cache = InversionCache(tmp_path)
    cache.save("k", {"t": torch.ones(3)})
    cache.path("k").write_bytes(b"not a checkpoint")
    assert cache.load("k", "cpu") is None and not cache.path("k").exists()


def test_keys_differ_for_any_part():
    image = np.zeros((4, 4, 3), np.uint8)
    base = cache_key(image.tobytes(), ("fs", 0), "cpu")
    assert base == cache_key(image.tobytes(), ("fs", 0), "cpu")
    assert base != cache_key(image.tobytes(), ("fs", 1), "cpu")
    assert base != cache_key(image.tobytes(), ("fs", 0), "cuda")
    assert base != cache_key((image + 1).tobytes(), ("fs", 0), "cpu")


def test_cache_list_and_clear(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HAIREDIT_CACHE_MAX_MB", "5")
    cache = InversionCache(tmp_path / "inversions")
    cache.save("one", {"t": torch.zeros(1000)})
    assert main(["cache", "list", "--weights-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "one.inversion.pt" in out and "1 inversions" in out and "of 5 MB" in out
    assert main(["cache", "clear", "--weights-dir", str(tmp_path)]) == 0
    assert "removed 1 inversions" in capsys.readouterr().out
    assert cache.entries() == []


def test_a_bad_cap_is_named(monkeypatch):
    from hairedit.errors import InputError

    monkeypatch.setenv("HAIREDIT_CACHE_MAX_MB", "lots")
    with pytest.raises(InputError, match="HAIREDIT_CACHE_MAX_MB must be a number"):
        InversionCache("/tmp/nowhere")


def test_a_cache_that_cannot_be_written_does_not_fail_the_edit(tmp_path, photo, caplog):
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    editor = HairEditor.from_random(seed=3, config=EditConfig.smoke(1), cache_dir=blocked / "inversions")
    result = editor.edit(photo, rgb="red", progress=False)
    assert result.image.size == (512, 512)
    assert "cannot be written" in caplog.text


def test_a_cache_on_a_folder_that_refuses_files_does_not_fail_the_edit(photo, caplog):
    refusing = Path("/sys/kernel")  # sysfs: no file can be made there, not even by root
    if not refusing.is_dir():
        pytest.skip("no /sys/kernel here")
    editor = HairEditor.from_random(config=EditConfig.smoke(1), cache_dir=refusing)
    result = editor.edit(photo, rgb=(200, 40, 40), progress=False)
    assert result.image.size == (512, 512)
    assert "cannot be written" in caplog.text


def test_a_full_disk_keeps_the_old_entry_and_leaves_no_part_file(tmp_path, caplog):
    cache = InversionCache(tmp_path)
    cache.save("k", {"t": torch.ones(8)})
    with full_after(64 * 1024):
        cache.save("k", {"t": torch.zeros(2**20)})  # 4 MB: the write fails midway
    assert "cannot be written" in caplog.text
    assert torch.equal(cache.load("k", "cpu")["t"], torch.ones(8))
    assert [path.name for path in tmp_path.iterdir()] == [cache.path("k").name]


def test_clear_while_a_writer_renames_its_file_into_place(tmp_path, monkeypatch):
    cache = InversionCache(tmp_path)
    cache.save("k", {"t": torch.ones(8)})
    part = tmp_path / f".{cache.path('j').name}.0123.part"
    part.write_bytes(b"being written")
    stat = Path.stat

    def renamed_meanwhile(path, *args, **kwargs):
        if path == part:
            path.replace(cache.path("j"))  # the writer finished between listing and looking
        return stat(path, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", renamed_meanwhile)
    assert cache.clear() == 1


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", ""])
def test_a_cap_that_is_no_size_is_refused(monkeypatch, value):
    from hairedit.errors import InputError

    monkeypatch.setenv("HAIREDIT_CACHE_MAX_MB", value)
    with pytest.raises(InputError, match="HAIREDIT_CACHE_MAX_MB must be a number of megabytes"):
        InversionCache("/tmp/nowhere")


def test_a_cap_of_zero_keeps_nothing(tmp_path, monkeypatch, photo):
    InversionCache(tmp_path).save("earlier", {"t": torch.ones(8)})
    monkeypatch.setenv("HAIREDIT_CACHE_MAX_MB", "0")
    editor = HairEditor.from_random(seed=3, config=EditConfig.smoke(1), cache_dir=tmp_path)
    assert _inversion_steps(editor, photo)
    assert _inversion_steps(editor, photo)  # computed again: nothing was kept
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("preset, overrides, uses_losses", [
    ("faithful", {}, True),
    ("instant", {}, False),  # the encoder's inversion: no loss
    ("instant", {"inversion": {"fs_steps": 1}}, True),  # FS after the encoder
])
def test_the_key_holds_the_losses_an_inversion_runs(tmp_path, photo, preset, overrides, uses_losses):
    config = EditConfig.for_preset(preset, {**overrides, "step_cap": 1})
    assert _inversion_steps(HairEditor.from_random(seed=3, config=config, cache_dir=tmp_path), photo)
    other_prior = HairEditor.from_random(seed=3, config=config, cache_dir=tmp_path)
    other_prior.components.pca.stdev.mul_(2)
    assert bool(_inversion_steps(other_prior, photo)) == uses_losses  # computed again only if the prior counts
