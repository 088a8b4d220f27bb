"""Shared editors stay sound: networks load once whoever asks, and compiling is one edit's choice."""

import threading
import time

import torch

from hairedit import EditConfig
from hairedit.components import Components
from hairedit.networks import stylegan2
from hairedit.pipeline import _precision


def test_a_network_asked_for_by_two_threads_at_once_loads_once():
    calls = []

    def parser():
        calls.append(threading.current_thread().name)
        time.sleep(0.3)  # long enough for the other thread to ask meanwhile
        return torch.nn.Identity()

    components = Components({"parser": parser}, torch.device("cpu"), "test")
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(components.parser)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and seen[0] is seen[1]


def test_compiling_is_one_edits_choice():
    generator = stylegan2.small_generator(0, 16)
    components = Components({"generator": lambda: (generator, generator.mean_latent(64, 0))}, torch.device("cpu"),
                            "test")
    compiled = EditConfig.from_dict({"compile": True, "compile_backend": "eager"})
    latent = generator.mean_latent(64, 0).repeat(1, generator.n_latent, 1)
    plain_image = generator.synthesis(latent).image
    with _precision(compiled, components):
        first = generator.synthesis
        assert first != type(generator).synthesis.__get__(generator)  # compiled for this edit
        assert torch.equal(generator.synthesis(latent).image, plain_image)
    assert "synthesis" not in vars(generator)  # the next edit without compile runs the plain blocks
    with _precision(EditConfig(), components):
        assert "synthesis" not in vars(generator)
    with _precision(compiled, components):
        assert generator.synthesis is first  # compiled once, reused
    assert "synthesis" not in vars(generator)
