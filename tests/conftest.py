import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import hairedit
from hairedit.allocator import keep_freed_memory

# The run's own hairedit home and caches for every test, subprocess and Ray worker; the real
# home checked untouched at the end (tests/home_guard.py). pytester: a test of that check.
pytest_plugins = ["tests.home_guard", "pytester"]

# Two cores on CI: say so, so that parallel work does not oversubscribe them.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
# As the command line does: freed tensors' memory reused, not faulted in again (hairedit.allocator).
keep_freed_memory()


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Every test gets its own weights folder (and inversion cache), inside the run's own (tests/home_guard.py); seeded."""
    monkeypatch.setenv("HAIREDIT_HOME", str(tmp_path_factory.mktemp("hairedit_home")))
    torch.manual_seed(0)


@pytest.fixture
def ctrl_c():
    """Sends the process the SIGINT that Ctrl-C in a terminal sends, with Python's own handler
    in place: a suite started as a shell's background job inherits SIGINT ignored."""
    earlier = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield lambda: os.kill(os.getpid(), signal.SIGINT)
    signal.signal(signal.SIGINT, earlier)


@pytest.fixture(scope="session")
def official_dir(tmp_path_factory):
    """A weights folder with every network file in its official layout, random values."""
    from tests.official.bald_proxy import write_bald_proxy
    from tests.official.clip import write_clip
    from tests.official.e4e import write_e4e
    from tests.official.fan import write_fan
    from tests.official.ffhq import write_ffhq
    from tests.official.hairclip import write_hairclip
    from tests.official.pca import write_pca
    from tests.official.seg import write_seg
    from tests.official.sketch_proxy import write_sketch_proxy
    from tests.official.vgg import write_lpips_lin, write_vgg16

    folder = tmp_path_factory.mktemp("official")
    write_ffhq(folder / "ffhq.pt")
    write_pca(folder / "ffhq_PCA.npz")
    write_seg(folder / "seg.pth")
    write_bald_proxy(folder / "bald_proxy.pt")
    write_sketch_proxy(folder / "sketch_proxy.pt")
    # Full layouts at a few hundred kilobytes: one stored number per tensor.
    write_e4e(folder / "e4e_ffhq_encode.pt", compact=True)
    write_hairclip(folder / "hairclip.pt", compact=True)
    write_vgg16(folder / "vgg16-397923af.pth")
    write_lpips_lin(folder / "lpips_vgg_v0.1.pth")
    write_fan(folder / "3DFAN4-7835d9f11d.pth.tar")
    write_clip(folder / "clip_vit_b32.safetensors")
    from hairedit.networks.clip_tokenizer import write_byte_vocabulary

    vocab, merges = write_byte_vocabulary(folder / "tokenizer")
    vocab.rename(folder / "clip_vocab.json")
    merges.rename(folder / "clip_merges.txt")
    return folder


class Booby:
    """Unpickling this runs code: a checkpoint holding it must be refused."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/hairedit_booby_trap_ran",))


def run_python(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter importing this checkout's hairedit: for what one process
    can only show once (import-time effects, a blocked module, a faked library version)."""
    environment = {**os.environ, "PYTHONPATH": str(Path(hairedit.__file__).parents[1])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
