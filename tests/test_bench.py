"""`hairedit bench`'s measurements, on small random networks."""

import torch

from hairedit import EditConfig, HairEditor
from hairedit.bench import LOOPS, bench_generator, bench_preset, projected
from hairedit.networks.stylegan2 import small_generator


def test_generator_bench_times_both_formulations_and_checks_they_agree():
    times, speedup = bench_generator(torch.device("cpu"), repeats=1, generator=small_generator(size_px=64))
    assert set(times) == {
        "generator forward 16", "generator forward+backward 16", "generator forward 64",
        "generator forward+backward 64", "reference forward+backward 64", "max |fast - reference|",
    }
    assert times["max |fast - reference|"] < 1e-4
    assert speedup == times["reference forward+backward 64"] / times["generator forward+backward 64"]


def test_preset_bench_times_every_loop_and_projects_the_official_step_counts():
    editor = HairEditor.from_random(config=EditConfig.smoke(2))
    totals = {}
    for preset in ("faithful", "fast"):
        per_step, once = bench_preset(editor, preset, steps=2)
        assert set(per_step) == set(LOOPS) and all(seconds > 0 for seconds in per_step.values())
        assert once > 0
        totals[preset] = projected(per_step, once, EditConfig.preset_config(preset))
    # 1100 + 250 + 200 + 100 + 100 official steps against the fast preset's 300.
    assert totals["fast"] < totals["faithful"]
