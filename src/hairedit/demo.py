"""``hairedit demo``, ``hairedit doctor`` and ``hairedit bench``: the sample portrait edited in
several modes, a report on torch, devices and weights, and the speed measurements.

Heavy modules (cv2, torch, the networks) are imported only once the arguments are read.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from .commands import SMOKE_NOTICE, add_editor_options, build_editor, check_output, read_config
from .imageio import save_image
from .progress import ProgressBars


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="edit a sample portrait in several modes; write a before/after sheet")
    demo.add_argument("-o", "--output", type=Path, default=None,
                      help="the contact sheet (default hairedit_demo.png; hairedit_demo_smoke.png with --smoke)")
    demo.add_argument("--overwrite", action="store_true", help="replace an existing sheet")
    add_editor_options(demo)
    demo.set_defaults(func=run_demo)

    doctor = subparsers.add_parser("doctor", help="check torch, devices and weights; --smoke runs every mode")
    add_editor_options(doctor)
    doctor.set_defaults(func=run_doctor)

    bench = subparsers.add_parser("bench", help="time the generator and each stage; print speed-up ratios")
    bench.add_argument("--quick", action="store_true", help="two timed repeats, two steps a stage (a few minutes)")
    bench.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    bench.add_argument("--serve", action="store_true", help="instead: the time hairedit serve adds to an edit")
    bench.set_defaults(func=run_bench)


def contact_sheet(before: Image.Image, tiles: list[tuple[str, Image.Image]], tile_px: int = 256) -> Image.Image:
    """'before' then each labelled result, side by side: (tile_px * (1 + len(tiles)), tile_px + 24) RGB."""
    label_px = 24
    items = [("before", before)] + tiles
    sheet = Image.new("RGB", (tile_px * len(items), tile_px + label_px), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (label, image) in enumerate(items):
        sheet.paste(ImageOps.fit(image.convert("RGB"), (tile_px, tile_px)), (index * tile_px, label_px))
        draw.text((index * tile_px + 6, 5), label, fill="black")
    return sheet


def run_demo(args: argparse.Namespace) -> int:
    from .samples import modes, sample_photo  # cv2: only once the arguments are read

    output = args.output or Path("hairedit_demo_smoke.png" if args.smoke else "hairedit_demo.png")
    check_output(output, args.overwrite)
    editor = build_editor(args)
    photo = sample_photo()
    tiles, before = [], None
    for mode in modes(editor, photo, everything=False):
        print(f"demo: {mode.label}", file=sys.stderr)
        with ProgressBars() as bars:
            result = editor.edit(photo, seed=args.seed, callback=bars, previews=False, **mode.conditions)
        before = result.crop_before
        tiles.append((mode.label, result.crop_after))
    save_image(contact_sheet(before, tiles), output, overwrite=args.overwrite)
    print(f"wrote {output}: the aligned crop before, then each edit")
    if args.smoke:
        print(f"hairedit: {SMOKE_NOTICE}", file=sys.stderr)
    return 0


def run_bench(args: argparse.Namespace) -> int:
    if args.serve:
        from .serve.bench import run
    else:
        from .bench import run  # torch and every network: only once the arguments are read

    return run(args)


def run_doctor(args: argparse.Namespace) -> int:
    import torch

    from . import __version__
    from .devices import available_devices
    from .weight_needs import files_needed
    from .weights.download import missing_files, missing_files_message
    from .weights.registry import WEIGHTS, weights_dir

    print(f"hairedit {__version__}, torch {torch.__version__}, python {sys.version.split()[0]}")
    print(f"devices: {', '.join(available_devices())}")
    for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        print(f"  cuda:{index} {torch.cuda.get_device_name(index)}")
    print(f"weights folder: {weights_dir(args.weights_dir)}")
    missing = missing_files(folder=args.weights_dir)
    broken = _broken_files(args.weights_dir)
    for name in WEIGHTS:
        state = "MISSING" if WEIGHTS[name] in missing else "BROKEN" if name in broken else "present"
        print(f"  {state:8s} {name}{broken.get(name, '')}")
    if missing:
        print(missing_files_message(missing, args.weights_dir))
    if args.smoke:  # random networks need no file: the edits decide
        return _run_every_mode(args)
    config = read_config(args)
    failed = [name for name in files_needed(config) if WEIGHTS[name] in missing or name in broken]
    if failed:
        print(f"edits with the {config.preset} preset cannot run: {', '.join(failed)} missing or broken.")
    return 1 if failed else 0


def _broken_files(folder: Path | None) -> dict[str, str]:
    """Present files whose size differs from their pin or lock-file record: name -> how
    (a size only: `hairedit weights verify` compares every checksum)."""
    from .weights.download import locate
    from .weights.lock import expected
    from .weights.registry import WEIGHTS

    broken = {}
    for name, entry in WEIGHTS.items():
        path = locate(name, folder)
        size_bytes = None if path is None else expected(entry, folder)[0]
        if size_bytes is not None and path.stat().st_size != size_bytes:
            broken[name] = f"  ({path.stat().st_size} bytes, expected {size_bytes}; `hairedit weights verify` says more)"
    return broken


def _run_every_mode(args: argparse.Namespace) -> int:
    from .samples import modes, sample_photo  # cv2: only once the arguments are read

    editor = build_editor(args)
    photo = sample_photo()
    print(f"every mode on the sample portrait ({SMOKE_NOTICE})")
    failures = 0
    for mode in modes(editor, photo, everything=True):
        start = time.perf_counter()
        try:
            result = editor.edit(photo, seed=args.seed, progress=False, **mode.conditions)
            ok = result.image.size == (photo.shape[1], photo.shape[0])
            print(f"  {'ok' if ok else 'FAILED':6s} {mode.label} ({time.perf_counter() - start:.1f} s)")
            failures += not ok
        except Exception as error:  # doctor reports every mode, whatever breaks
            print(f"  FAILED {mode.label}: {type(error).__name__}: {error}")
            failures += 1
    return 1 if failures else 0
