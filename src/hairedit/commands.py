"""``hairedit edit``, ``hairedit demo`` and ``hairedit doctor``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageOps

from .config import EditConfig
from .errors import InputError
from .imageio import load_photo, save_image
from .progress import Progress

SMOKE_STEPS = 3
# Random networks are random: with this seed the random parser labels much of the sample
# portrait as hair, so smoke edits visibly change something.
SMOKE_NETWORK_SEED = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    edit = subparsers.add_parser("edit", help="edit the hair in a photo", description=(
        "Edit the hair of a photo. Give a hairstyle (--hairstyle, --hairstyle-ref or --sketch, optionally with --mask) "
        "and/or a colour (--color, --color-ref or --rgb)."))
    edit.add_argument("photo", help="the photo to edit (JPEG, PNG, WebP)")
    edit.add_argument("-o", "--output", required=True, type=Path, help="where to write the edited photo")
    edit.add_argument("--hairstyle", metavar="TEXT", help='a hairstyle in words, e.g. "bob cut hairstyle"')
    edit.add_argument("--hairstyle-ref", metavar="IMAGE", help="a photo of someone whose hairstyle you want")
    edit.add_argument("--sketch", metavar="IMAGE", help="light strokes on black, square, on the aligned crop")
    edit.add_argument("--mask", metavar="IMAGE", help="label map (0 background, 1 face, 6 ear, 10 hair) on the crop")
    edit.add_argument("--color", metavar="TEXT", help='a hair colour in words, e.g. "platinum blonde"')
    edit.add_argument("--color-ref", metavar="IMAGE", help="a photo of someone whose hair colour you want")
    edit.add_argument("--rgb", metavar="COLOUR", help="R,G,B or #RRGGBB or a colour name")
    edit.add_argument("--face", type=int, default=0, help="which face, 0 = the largest (see `hairedit align`)")
    edit.add_argument("--save-intermediates", type=Path, metavar="DIR", help="also write crops, proxies and masks")
    edit.add_argument("--overwrite", action="store_true", help="replace an existing output")
    _add_editor_options(edit)
    edit.set_defaults(func=run_edit)

    demo = subparsers.add_parser("demo", help="edit a sample portrait in several modes; write a before/after sheet")
    demo.add_argument("-o", "--output", type=Path, default=Path("hairedit_demo.png"), help="the contact sheet")
    demo.add_argument("--overwrite", action="store_true", help="replace an existing sheet")
    _add_editor_options(demo)
    demo.set_defaults(func=run_demo)

    doctor = subparsers.add_parser("doctor", help="check torch, devices and weights; --smoke runs every mode")
    _add_editor_options(doctor)
    doctor.set_defaults(func=run_doctor)


def _add_editor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke", action="store_true",
                        help=f"small random networks, no weights, {SMOKE_STEPS} steps a stage: output meaningless")
    parser.add_argument("--preset", choices=("faithful", "fast"), default="faithful", help="see README, 'Presets'")
    parser.add_argument("--config", type=Path, metavar="JSON", help="override settings, e.g. {\"text\": {\"steps\": 100}}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: the best available)")
    parser.add_argument("--weights-dir", type=Path, help="pretrained files (default: $HAIREDIT_HOME or ~/.cache/hairedit)")


def build_editor(args: argparse.Namespace):
    from .pipeline import HairEditor

    if args.config is not None:
        try:
            config = EditConfig.from_dict(json.loads(Path(args.config).read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise InputError(f"{args.config}: not a valid settings file ({error}).") from error
    else:
        config = EditConfig.smoke(SMOKE_STEPS) if args.smoke else EditConfig()
    config = EditConfig.preset_config(args.preset, config) if args.preset != config.preset else config
    if args.smoke:
        print("hairedit: --smoke: small random networks, the output is meaningless.", file=sys.stderr)
        return HairEditor.from_random(seed=SMOKE_NETWORK_SEED, device=args.device, config=config)
    return HairEditor.from_pretrained(args.weights_dir, args.device, config)


class StageBars:
    """One tqdm bar per stage, fed by the edit's progress callback."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar = None
        self.stage = None

    def __call__(self, progress: Progress) -> None:
        from tqdm import tqdm

        if progress.stage != self.stage:
            self.close()
            self.stage = progress.stage
            self.bar = tqdm(total=progress.total, desc=f"{progress.stage:20s}", unit="step", disable=not self.enabled,
                            leave=True, file=sys.stderr)
        self.bar.update(progress.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# -- edit ----------------------------------------------------------------------------------


def run_edit(args: argparse.Namespace) -> int:
    if args.output.exists() and not args.overwrite:
        raise InputError(f"{args.output} already exists; pass --overwrite to replace it.")
    if args.output.suffix.lower() not in Image.registered_extensions():
        raise InputError(f"{args.output}: unknown image extension; use .png, .jpg or .webp.")
    load_photo(args.photo)  # a missing or unreadable photo fails here, before any network loads
    editor = build_editor(args)
    conditions = dict(hairstyle=args.hairstyle, hairstyle_ref=args.hairstyle_ref, sketch=args.sketch, mask=args.mask,
                      color=args.color, color_ref=args.color_ref, rgb=args.rgb)
    editor.check_inputs(**conditions)
    bars = StageBars()
    try:
        result = editor.edit(args.photo, face=args.face, seed=args.seed, callback=bars, **conditions)
    finally:
        bars.close()
    save_image(result.image, args.output, overwrite=args.overwrite)
    if args.save_intermediates is not None:
        write_intermediates(result, args.save_intermediates, args.overwrite)
    total = sum(result.timings.values())
    print(f"wrote {args.output} ({total:.1f} s: " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()) + ")")
    return 0


def write_intermediates(result, folder: Path, overwrite: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    images = {"crop_before": result.crop_before, "crop_after": result.crop_after}
    for name, value in vars(result.proxies).items():
        if value is not None:
            images[f"proxy_{name}"] = value
    for name, value in vars(result.masks).items():
        if value is not None:
            images[f"mask_{name}"] = (np.clip(value, 0, 1) * 255).astype(np.uint8)
    for name, image in images.items():
        save_image(image, folder / f"{name}.png", overwrite=overwrite)


# -- demo and doctor -------------------------------------------------------------------------


@dataclass
class Mode:
    label: str
    conditions: dict


def sample_photo() -> np.ndarray:
    """scikit-image's astronaut portrait: a real photo that needs no download."""
    from skimage import data

    return data.astronaut()


def sample_sketch(size_px: int = 512) -> np.ndarray:
    """A few strokes over the left side of an FFHQ crop: hair reaching down past the ear."""
    canvas = np.zeros((size_px, size_px), np.uint8)
    s = size_px / 512
    for offset in (0, 14, 28):
        points = np.array([[150 - offset, 90], [110 - offset, 150], [95 - offset, 230], [100 - offset, 320]]) * s
        cv2.polylines(canvas, [points.astype(np.int32)], False, 128, 2)
    return canvas


def sample_mask(editor, crop: np.ndarray) -> np.ndarray:
    """The crop's own parse with the hair painted longer on both sides."""
    labels = editor.parse(crop).copy()
    size = labels.shape[0]
    band_top, band_bottom = int(size * 0.35), int(size * 0.75)
    labels[band_top:band_bottom, : int(size * 0.2)] = 10
    labels[band_top:band_bottom, int(size * 0.8) :] = 10
    return labels


def modes(editor, photo: np.ndarray, everything: bool) -> list[Mode]:
    reference = np.ascontiguousarray(photo[:, ::-1])  # the mirrored portrait stands in for a second person
    chosen = [
        Mode("text: bob cut", {"hairstyle": "bob cut hairstyle"}),
        Mode("reference hairstyle", {"hairstyle_ref": reference}),
        Mode("sketch", {"sketch": sample_sketch()}),
        Mode("RGB colour", {"rgb": (200, 40, 40)}),
        Mode("text + colour", {"hairstyle": "afro hairstyle", "color": "blond hair"}),
    ]
    if everything:
        crop = editor.align(photo).crop
        chosen += [
            Mode("text + painted mask", {"hairstyle": "long wavy hairstyle", "mask": sample_mask(editor, crop)}),
            Mode("colour text", {"color": "purple hair"}),
            Mode("colour reference", {"color_ref": reference}),
            Mode("reference + sketch + RGB", {"hairstyle_ref": reference, "sketch": sample_sketch(), "rgb": "#d4a373"}),
        ]
    return chosen


def contact_sheet(before: Image.Image, tiles: list[tuple[str, Image.Image]], tile_px: int = 256) -> Image.Image:
    items = [("before", before)] + tiles
    sheet = Image.new("RGB", (tile_px * len(items), tile_px + 24), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (label, image) in enumerate(items):
        sheet.paste(ImageOps.fit(image, (tile_px, tile_px)), (index * tile_px, 24))
        draw.text((index * tile_px + 6, 5), label, fill="black")
    return sheet


def run_demo(args: argparse.Namespace) -> int:
    if args.output.exists() and not args.overwrite:
        raise InputError(f"{args.output} already exists; pass --overwrite to replace it.")
    editor = build_editor(args)
    photo = sample_photo()
    tiles, before = [], None
    for mode in modes(editor, photo, everything=False):
        print(f"demo: {mode.label}", file=sys.stderr)
        bars = StageBars()
        try:
            result = editor.edit(photo, seed=args.seed, callback=bars, **mode.conditions)
        finally:
            bars.close()
        before = result.crop_before
        tiles.append((mode.label, result.crop_after))
    save_image(contact_sheet(before, tiles), args.output, overwrite=args.overwrite)
    print(f"wrote {args.output}")
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    import torch

    from .weights.download import locate
    from .weights.registry import WEIGHTS, weights_dir

    print(f"hairedit {__import__('hairedit').__version__}, torch {torch.__version__}, python {sys.version.split()[0]}")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    print(f"devices: {', '.join(devices)}")
    print(f"weights folder: {weights_dir(args.weights_dir)}")
    for name in WEIGHTS:
        print(f"  {'present' if locate(name, args.weights_dir) else 'MISSING':8s} {name}")
    if not args.smoke:
        return 0
    editor = build_editor(args)
    photo = sample_photo()
    failures = 0
    for mode in modes(editor, photo, everything=True):
        start = time.perf_counter()
        try:
            result = editor.edit(photo, seed=args.seed, **mode.conditions)
            ok = result.image.size == (photo.shape[1], photo.shape[0])
            print(f"  {'ok' if ok else 'FAILED':6s} {mode.label} ({time.perf_counter() - start:.1f} s)")
            failures += not ok
        except Exception as error:  # doctor reports every mode, whatever breaks
            print(f"  FAILED {mode.label}: {type(error).__name__}: {error}")
            failures += 1
    return 1 if failures else 0
