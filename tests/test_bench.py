"""`hairedit bench`'s measurements, on small random networks."""

import math

import pytest
import torch

from hairedit import EditConfig, HairEditor
from hairedit.bench import BENCH_LOOPS, bench_generator, bench_preset, projected
from hairedit.networks import stylegan2_reference
from hairedit.networks.stylegan2 import small_generator


def test_generator_bench_times_both_formulations_and_checks_they_agree():
    times, speedup = bench_generator(torch.device("cpu"), repeats=1, generator=small_generator(size_px=64))
    assert set(times) == {
        "generator forward 16", "generator forward+backward 16", "generator forward 64",
        "generator forward+backward 64", "reference forward+backward 64", "max |fast - reference|",
    }
    assert times["max |fast - reference|"] < 1e-3  # the bench's own limit (float32 rounding is well inside)
    assert math.isfinite(speedup) and speedup > 0


def test_generator_bench_refuses_formulations_that_disagree(monkeypatch):
    wrong = staticmethod(lambda x, bias: stylegan2_reference.FastOps.bias_leaky_relu(x, bias) * 1.01)
    monkeypatch.setattr(stylegan2_reference.ReferenceOps, "bias_leaky_relu", wrong)
    with pytest.raises(RuntimeError, match="differs from the reference formulation"):
        bench_generator(torch.device("cpu"), repeats=1, generator=small_generator(size_px=64))


def test_projection_counts_each_loop_at_its_presets_official_steps():
    per_step = {stage: 1.0 for stage in BENCH_LOOPS}
    per_step["text proxy"] = 2.0
    # faithful: 1100 + 250 + 2 * 200 + 100 + 100 steps, fast: 150 + 50 + 2 * 50 + 30 + 20, plus 5 s outside.
    assert projected(per_step, 5.0, EditConfig.for_preset("faithful")) == 1955.0
    assert projected(per_step, 5.0, EditConfig.for_preset("fast")) == 355.0


def test_preset_bench_times_every_loop_of_a_real_edit():
    editor = HairEditor.from_random(config=EditConfig.smoke(2))
    for preset in ("faithful", "fast"):
        per_step, once = bench_preset(editor, preset, steps=2)
        assert set(per_step) == set(BENCH_LOOPS) and all(seconds > 0 for seconds in per_step.values())
        assert once > 0
        assert editor.config.preset == preset
