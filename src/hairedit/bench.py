"""``hairedit bench``: how fast the generator and every stage run here, as ratios.

Everything runs at the real network sizes with random weights (no download needed): the
1024 px generator, BiSeNet, VGG16/LPIPS, the 4-stack FAN, CLIP ViT-B/32. Per-step times are
measured on the real stage code; whole edits are projected from them and each preset's step
counts. Machine-readable lines:

    speedup_generator_1024=<x>   forward+backward at 1024 px, fast ops vs the ops written from their definitions
    speedup_fast_preset=<x>      projected text hairstyle + RGB colour edit of a new photo, faithful / fast
    instant_edit_seconds=<s>     that edit under the instant preset, measured (networks loaded)
    instant_followup_seconds=<s> the same photo again, another hairstyle and colour (its per-photo work kept)
    instant_preview_seconds=<s>  a further change as the UI's live preview (the result at the 512 px layer)
    speedup_instant_preset=<x>   the projected faithful edit / the measured instant one
    instant_peak_memory_mib=<m>  peak process memory of a first instant edit (networks built in it)
    whole_photo_seconds=<s>      the whole-photo step (window parse, old ends removed by big-lama) on an 18 MP photo

On a GPU the instant edit is measured again with ``{"autocast": "bf16"}`` and with
``{"compile": true}`` (both off by default), as ``instant_edit_seconds_bf16=`` and
``instant_edit_seconds_compile=``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from .config import LOOPS, EditConfig
from .memory import measure_peak_memory
from .networks.random_init import seeded

EDIT = {"hairstyle": "bob cut hairstyle", "rgb": (212, 163, 115)}
FOLLOW_UP = {"hairstyle": "afro hairstyle", "rgb": (60, 40, 30)}  # another hairstyle and colour, the same photo
PREVIEW_CHANGE = {"hairstyle": "short hair", "rgb": (150, 60, 40)}  # and another, as the UI's live preview
GPU_OPTIONS = {"bf16": {"autocast": "bf16"}, "compile": {"compile": True}}
BENCH_LOOPS = ("inversion (W+)", "inversion (FS)", "text proxy", "colour proxy", "colour blending")  # of EDIT


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(function, device: torch.device, repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        function()
        _sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def bench_generator(device: torch.device, repeats: int, generator=None) -> tuple[dict[str, float], float]:
    """Times of forward and forward+backward at a quarter of the size (stopping after that
    block) and at full size with the fast ops, and forward+backward at full size with the
    reference formulation; checks both formulations give the same image.

    generator: default a random 1024 px one. Returns the times and the full-size
    forward+backward speed-up of the fast ops.
    """
    from .networks.stylegan2 import Generator
    from .networks.stylegan2_reference import reference_formulation

    if generator is None:
        with seeded(0):
            generator = Generator(1024).eval().requires_grad_(False)
    generator = generator.to(device)
    latent = generator.mean_latent(256).unsqueeze(1).repeat(1, generator.n_latent, 1)
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(0)).to(latent.device)
    latent = (latent + 0.1 * noise).requires_grad_(True)
    full, quarter = generator.size, max(4, generator.size // 4)  # 4 px: the first block

    def forward(stop_px=None):
        with torch.no_grad():
            return generator.synthesis(latent, stop_px=stop_px).image

    def forward_backward(stop_px=None):
        generator.synthesis(latent, stop_px=stop_px).image.square().mean().backward()

    results = {
        f"generator forward {quarter}": _time(lambda: forward(quarter), device, repeats),
        f"generator forward+backward {quarter}": _time(lambda: forward_backward(quarter), device, repeats),
        f"generator forward {full}": _time(forward, device, repeats),
        f"generator forward+backward {full}": _time(forward_backward, device, repeats),
    }
    fast_image = forward()
    with reference_formulation(generator):
        results[f"reference forward+backward {full}"] = _time(forward_backward, device, repeats)
        reference_image = forward()
    difference = (fast_image - reference_image).abs().max().item()
    if difference > 1e-3:
        raise RuntimeError(f"the fast generator differs from the reference formulation by {difference}")
    results["max |fast - reference|"] = difference
    speedup = results[f"reference forward+backward {full}"] / results[f"generator forward+backward {full}"]
    return results, speedup


def full_size_editor(device: torch.device, config: EditConfig):
    """A HairEditor of the official architectures and sizes with random weights."""
    from .components import Components
    from .latent_pca import LatentPCA
    from .networks import (
        bald_mapper, bisenet, clip, e4e_encoder, fan, hairclip_mapper, lama, sketch_encoder, stylegan2, vgg,
    )
    from .networks.clip_openai import compute_in_float32
    from .pipeline import HairEditor

    def generator():
        with seeded(0):
            g = stylegan2.Generator(1024).eval().requires_grad_(False)
        return g, g.mean_latent(1024)

    def pca(g):
        return LatentPCA(torch.zeros(1, g.style_dim), torch.eye(g.style_dim), torch.ones(g.style_dim))

    def clip_guide():
        small = clip.small_clip(0)  # borrows the byte-level tokenizer; the model is full size
        return clip.CLIPGuide(clip.build_clip_model().eval().requires_grad_(False), small.tokenizer)

    def hairclip():
        small = clip.small_clip(0)  # its tokenizer; HairCLIP's own CLIP is full size
        mapper = hairclip_mapper.HairMapper().eval().requires_grad_(False)
        model = clip.build_clip_model().eval().requires_grad_(False)
        for module in model.modules():  # fp16, as hairclip.pt stores them (and as loading keeps them)
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                module.half()
        return hairclip_mapper.HairCLIP(mapper, clip.CLIPGuide(compute_in_float32(model), small.tokenizer))

    loaders = {
        "generator": generator,
        "e4e": lambda: e4e_encoder.E4EEncoder().eval().requires_grad_(False),
        "hairclip": hairclip,
        "parser": lambda: bisenet.FaceParser(bisenet.BiSeNet()).eval().requires_grad_(False),
        "vgg": lambda: vgg.VGG16Features().eval().requires_grad_(False),
        "lpips": lambda: vgg.lpips_with(components.vgg, None),
        "landmarks": lambda: fan.LandmarkHeatmaps(fan.FAN()).eval().requires_grad_(False),
        "clip": clip_guide,
        "bald_mapper": lambda: bald_mapper.BaldMapper().eval().requires_grad_(False),
        "sketch_encoder": lambda: sketch_encoder.SketchEncoder().eval().requires_grad_(False),
        "pca": pca,
        "lama": lambda: lama.LamaGenerator().eval().requires_grad_(False),  # big-lama: a user with it waits for it
    }
    components = Components(loaders, device, "random, full size (bench)")
    return HairEditor(components, config)


def bench_preset(editor, preset: str, steps: int) -> tuple[dict[str, float], float]:
    """Per-step seconds of each loop (the median over its steps after the first, which pays
    for warm-up), and the seconds outside the loops, for one edit with ``steps`` steps a loop."""
    from skimage import data

    stamps: list[tuple[str, float]] = []
    overrides: dict = {}
    for stage in BENCH_LOOPS:
        section, name = LOOPS[stage]
        overrides.setdefault(section, {})[name] = steps
    if EditConfig.for_preset(preset).fast is not None:
        overrides["fast"] = {"plateau_patience": steps + 1}  # time every step
    editor.config = EditConfig.for_preset(preset, overrides)

    def on_step(progress) -> None:
        if progress.loss is not None:  # an optimisation step, not a stage's start or end
            stamps.append((progress.stage, time.perf_counter()))

    start = time.perf_counter()
    editor.edit(data.astronaut(), callback=on_step, previews=False, **EDIT)
    total = time.perf_counter() - start
    per_step, loop_time, previous = {}, 0.0, start
    by_stage: dict[str, list[float]] = {}
    for stage, stamp in stamps:
        by_stage.setdefault(stage, []).append(stamp - previous)
        previous = stamp
    for stage, durations in by_stage.items():
        per_step[stage] = statistics.median(durations[1:] or durations)
        # The time before a loop's first step beyond one step's worth is that stage's set-up.
        loop_time += sum(durations[1:]) + min(durations[0], per_step[stage])
    return per_step, total - loop_time


def projected(per_step: dict[str, float], once: float, config: EditConfig) -> float:
    seconds = once
    for stage in BENCH_LOOPS:
        section, name = LOOPS[stage]
        seconds += per_step[stage] * getattr(getattr(config, section), name)
    return seconds


def bench_presets(device: torch.device, steps: int) -> dict[str, float]:
    """Each preset's projected whole edit, seconds, printed stage by stage."""
    editor = full_size_editor(device, EditConfig())
    totals = {}
    for preset in ("faithful", "fast"):
        per_step, once = bench_preset(editor, preset, steps)
        official = EditConfig.for_preset(preset)
        totals[preset] = projected(per_step, once, official)
        print(f"  {preset} preset, seconds per step:", flush=True)
        for stage in BENCH_LOOPS:
            section, name = LOOPS[stage]
            count = getattr(getattr(official, section), name)
            print(f"    {stage:20s} {per_step[stage]:8.3f} s x {count:5d} steps = {per_step[stage] * count:9.1f} s")
        print(f"    {'outside the loops':20s} {once:8.3f} s")
        print(f"    projected whole edit (text hairstyle + RGB colour, new photo): {totals[preset]:.1f} s", flush=True)
    return totals


@dataclass
class InstantTimes:
    new_photo_s: float  # a text hairstyle + RGB edit of a photo not seen before
    stages: dict[str, float]  # its seconds per stage
    followup_s: float  # the same photo again, another hairstyle and colour
    preview_s: float  # a further change of the same photo as the UI's live preview
    peak_mib: float  # peak memory of a first, cold edit (networks built inside it)


def _timed_edit(editor, photo, device: torch.device, **options):
    _sync(device)
    start = time.perf_counter()
    result = editor.edit(photo, progress=False, **options)
    _sync(device)
    return time.perf_counter() - start, result


def bench_instant(device: torch.device, editor=None) -> InstantTimes:
    """Instant edits with networks already loaded: a text hairstyle + RGB edit of a new photo,
    a follow-up of it and its live preview; and the peak memory of a first, cold edit.
    editor: default the full-size random one (its networks are built inside the first edit)."""
    from skimage import data

    if editor is None:
        editor = full_size_editor(device, EditConfig.for_preset("instant"))
    photo = data.astronaut()
    with measure_peak_memory(device) as memory:
        editor.edit(photo, progress=False, **EDIT)
    new_photo = np.ascontiguousarray(photo[:, ::-1])  # not the photo just edited
    seconds, result = _timed_edit(editor, new_photo, device, **EDIT)
    followup_s, _ = _timed_edit(editor, new_photo, device, **FOLLOW_UP)
    preview_s, _ = _timed_edit(editor, new_photo, device, preview=True, **PREVIEW_CHANGE)
    return InstantTimes(seconds, result.timings, followup_s, preview_s, memory.peak_mib)


def bench_gpu_options(device: torch.device, editor) -> dict[str, float]:
    """The instant edit of a new photo under each of GPU_OPTIONS (after one warm-up edit, which
    compiles): seconds by option."""
    from skimage import data

    photo = data.astronaut()
    seconds = {}
    for name, overrides in GPU_OPTIONS.items():
        editor.config = EditConfig.for_preset("instant", overrides)
        editor.edit(photo, progress=False, **EDIT)
        seconds[name], _ = _timed_edit(editor, np.ascontiguousarray(photo[:, ::-1]), device, **EDIT)
    editor.config = EditConfig.for_preset("instant")
    return seconds


def bench_whole_photo(device: torch.device) -> tuple[float, dict[str, float]]:
    """The whole-photo step on the astronaut enlarged to 18 megapixels, with a full-size
    BiSeNet and big-lama (random weights): long hair past the crop (painted masks, as random
    networks find no hair) cut short, so the old ends are removed and inpainted. Returns the
    step's seconds and its parts'."""
    import cv2
    from skimage import data

    from .face.align import align_face
    from .face.detect import detect_faces
    from .inpaint import LamaInpainter
    from .networks.bisenet import BiSeNet, FaceParser
    from .networks.lama import LamaGenerator
    from .stages.whole_photo import CropFrame, parse_photo_hair, whole_photo_step

    photo = cv2.resize(data.astronaut(), (4240, 4240), interpolation=cv2.INTER_CUBIC)
    aligned = align_face(photo, detect_faces(photo)[0])
    with seeded(0):
        parser = FaceParser(BiSeNet(16)).eval().requires_grad_(False).to(device)
        inpainter = LamaInpainter(LamaGenerator().eval().requires_grad_(False).to(device))
    size = 1024
    hair_before, hair_after = np.zeros((size, size), np.float32), np.zeros((size, size), np.float32)
    hair_before[300:, 150:330] = hair_before[300:, 700:880] = 1  # hair to the crop's edge on both sides
    hair_after[300:620, 150:330] = hair_after[300:620, 700:880] = 1  # a bob
    parts = {}
    start = time.perf_counter()
    hair_photo = parse_photo_hair(photo, aligned.transform, parser)
    parts["window parse"] = time.perf_counter() - start
    frame = CropFrame(aligned.transform, photo.shape[:2])
    below = (frame.v > 0) & ((np.abs(frame.u - 240) < 90) | (np.abs(frame.u - 790) < 90)) & (frame.v < 1.6 * size)
    hair_photo |= frame.paste(below)  # the painted hair goes on to the chest
    crop = aligned.crop
    step_start = time.perf_counter()
    whole_photo_step(photo, aligned.transform, hair_before, hair_after, hair_photo, crop, crop, inpainter)
    parts["remove old ends"] = time.perf_counter() - step_start
    _sync(device)
    return time.perf_counter() - start, parts


def run(args: argparse.Namespace) -> int:
    from .devices import resolve_device

    device = resolve_device(args.device)
    repeats = 2 if args.quick else 3
    steps = 2 if args.quick else 4  # the first step of a loop pays for warm-up and is not timed
    print(f"hairedit bench on {device} (torch {torch.__version__}, {torch.get_num_threads()} threads)", flush=True)

    # First, while the process holds nothing else: its peak is what an instant edit needs.
    editor = full_size_editor(device, EditConfig.for_preset("instant"))  # its networks load in the first edit
    instant = bench_instant(device, editor)
    print("  instant preset, seconds per stage (networks loaded, new photo):", flush=True)
    for stage, seconds in instant.stages.items():
        print(f"    {stage:20s} {seconds:8.3f} s")
    print(f"    whole edit: {instant.new_photo_s:.2f} s; follow-up (same photo): {instant.followup_s:.2f} s; "
          f"its live preview: {instant.preview_s:.2f} s; peak memory of a first edit: {instant.peak_mib:.0f} MiB",
          flush=True)
    gpu_seconds = {}
    if device.type != "cpu":
        gpu_seconds = bench_gpu_options(device, editor)
    del editor
    with measure_peak_memory(device) as memory:
        generator_times, speedup_generator = bench_generator(device, repeats)
        for name, value in generator_times.items():
            print(f"  {name:34s} {value:9.3f}" + ("" if name.startswith("max") else " s"), flush=True)
        totals = bench_presets(device, steps)
    print(f"  peak memory: {memory.peak_mib:.0f} MiB ({memory.what})")
    whole_photo_seconds, whole_photo_parts = bench_whole_photo(device)
    print("  whole-photo step, 18 MP photo, seconds:", flush=True)
    for part, seconds in whole_photo_parts.items():
        print(f"    {part:20s} {seconds:8.3f} s")
    print(f"speedup_generator_1024={speedup_generator:.2f}")
    print(f"speedup_fast_preset={totals['faithful'] / totals['fast']:.2f}")
    print(f"instant_edit_seconds={instant.new_photo_s:.2f}")
    print(f"instant_followup_seconds={instant.followup_s:.2f}")
    print(f"instant_preview_seconds={instant.preview_s:.2f}")
    for name, seconds in gpu_seconds.items():
        print(f"instant_edit_seconds_{name}={seconds:.2f}")
    print(f"speedup_instant_preset={totals['faithful'] / instant.new_photo_s:.1f}")
    print(f"instant_peak_memory_mib={instant.peak_mib:.0f}")
    print(f"whole_photo_seconds={whole_photo_seconds:.2f}")
    sys.stdout.flush()
    return 0
