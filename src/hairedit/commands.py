"""``hairedit edit``, and the options and checks it shares with ``demo``, ``doctor`` (hairedit.demo)
and the UI.

Every command checks what it was given (files, colours, output path, device) before any
network loads or any optimisation runs, and writes its output atomically, so a bad option, an
error or Ctrl-C never leaves half a file behind.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .conditions import LABEL_COLOURS, check_conditions, load_sketch
from .config import PRESETS, EditConfig
from .errors import InputError, MissingWeightsError
from .imageio import output_format, read_photo, save_image
from .progress import ProgressBars

SMOKE_STEPS = 3
# Random networks are random: with this seed the random parser labels much of the sample
# portrait as hair, so smoke edits visibly change something.
SMOKE_NETWORK_SEED = 3
SMOKE_NOTICE = "--smoke: small random networks, the output is meaningless."
CONDITION_OPTIONS = ("hairstyle", "hairstyle_ref", "sketch", "mask", "color", "color_ref", "rgb")


def register(subparsers: argparse._SubParsersAction) -> None:
    edit = subparsers.add_parser("edit", help="edit the hair in a photo", description=(
        "Edit the hair of a photo. Give a hairstyle (--hairstyle, --hairstyle-ref or --sketch, optionally with --mask) "
        "and/or a colour (--color, --color-ref or --rgb)."))
    edit.add_argument("photo", help="the photo to edit (JPEG, PNG, WebP)")
    edit.add_argument("-o", "--output", required=True, type=Path, help="where to write the edited photo")
    add_condition_options(edit)
    edit.add_argument("--save-intermediates", type=Path, metavar="DIR",
                      help="also write the aligned crop before/after, every proxy, the masks and the crop's parse")
    edit.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_editor_options(edit)
    edit.add_argument("--server", metavar="URL", help="edit on a `hairedit serve` server (key: $HAIREDIT_API_KEY)")
    edit.set_defaults(func=run_edit)


def add_condition_options(parser: argparse.ArgumentParser) -> None:
    """What to change: ``edit``'s conditions (CONDITION_OPTIONS) and ``--face``."""
    parser.add_argument("--hairstyle", metavar="TEXT", help='a hairstyle in words, e.g. "bob cut hairstyle"')
    parser.add_argument("--hairstyle-ref", metavar="IMAGE", help="a photo of someone whose hairstyle you want")
    parser.add_argument("--sketch", metavar="IMAGE",
                        help="strokes (light on black, dark on white, or on transparent), square, on the aligned crop")
    parser.add_argument("--mask", metavar="IMAGE", help=(
        "the hair shape you want, square, on the aligned crop: a label map (0 background, 1 face, 6 ear, 10 hair) "
        "or painted in the official painter's colours; --save-intermediates writes the crop's own as parse_before.png"))
    parser.add_argument("--color", metavar="TEXT", help='a hair colour in words, e.g. "platinum blonde"')
    parser.add_argument("--color-ref", metavar="IMAGE", help="a photo of someone whose hair colour you want")
    parser.add_argument("--rgb", metavar="COLOUR", help="R,G,B or #RRGGBB or a colour name, e.g. 180,40,40 or crimson")
    parser.add_argument("--face", type=int, default=0, help="which face, 0 = the largest (see `hairedit align`)")


def add_editor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke", action="store_true",
                        help=f"small random networks, no weights, {SMOKE_STEPS} steps a stage: output meaningless")
    parser.add_argument("--preset", choices=PRESETS,
                        help="faithful (the official settings; default) or fast; see README, 'Presets'. "
                             "It wins over a preset named in --config")
    parser.add_argument("--config", metavar="JSON|FILE",
                        help='settings laid over the preset: inline JSON such as \'{"text": {"steps": 100}}\' or a JSON '
                             "file with the same nested keys (EditConfig)")
    parser.add_argument("--seed", type=int,
                        help="the same seed, inputs and settings give the same pixels (default: the settings' seed, 0)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: the best available)")
    parser.add_argument("--weights-dir", type=Path, help="pretrained files (default: $HAIREDIT_HOME or ~/.cache/hairedit)")


# -- checks made before any heavy work ------------------------------------------------------


def check_output(path: Path, overwrite: bool, fallback_format: str | None = None) -> None:
    """Refuse an output that could not be written, before any work is done. A name without an
    extension takes ``fallback_format`` (the photo's own), when there is one."""
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite to replace it, or choose another name.")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name such as {path / 'edited.png'}.")
    if not path.parent.is_dir():
        raise InputError(f"{path.parent} does not exist; create the folder first.")
    output_format(path, fallback_format)


def read_config(args: argparse.Namespace) -> EditConfig:
    """The settings: --config's over the preset it names (default faithful), moved to --preset
    when that is given (what the file sets beyond its preset's own values comes along), with
    --smoke's step cap."""
    settings = {} if args.config is None else settings_json(args.config)
    return config_of(settings, args.preset, args.smoke)


def config_of(settings: dict, preset: str | None = None, smoke: bool = False, source: str = "--config") -> EditConfig:
    """``settings`` (--config's JSON object, or a served edit's ``config``) over the preset they
    name, moved to ``preset`` when given, with --smoke's step cap; InputError naming ``source``."""
    try:
        config = EditConfig.from_dict(settings)
        if preset is not None:
            config = config.with_preset(preset)
        if smoke and config.step_cap is None:
            config = config.with_step_cap(SMOKE_STEPS)
        return config
    except (ValueError, TypeError) as error:
        raise InputError(f"{source}: {error}.") from None


def settings_json(value: str) -> dict:
    """--config's value: inline JSON (starting with "{") or a JSON file."""
    text, source = value, "the inline settings"
    if not value.lstrip().startswith("{"):
        source = value
        try:
            text = Path(value).read_text()
        except OSError as error:
            raise InputError(f"--config {value}: cannot read it ({error.strerror or error}).") from None
    try:
        settings = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"--config: {source} is not valid JSON ({error}).") from None
    if not isinstance(settings, dict):
        raise InputError(f"--config: {source} must hold a JSON object of settings, e.g. {{\"text\": {{\"steps\": 100}}}}.")
    return settings


def build_editor(args: argparse.Namespace, config: EditConfig | None = None, download: bool = True):
    """The HairEditor the options ask for. Cheap: networks load on the first edit. Missing
    pretrained files are refused first, all in one message; with ``download`` False the caller
    offers the download itself (the UI's page), and the editor fetches nothing on its own."""
    from .pipeline import HairEditor

    config = config or read_config(args)
    if args.smoke:
        return HairEditor.from_random(seed=SMOKE_NETWORK_SEED, device=args.device, config=config)
    if download:  # else the caller offers the download itself (the UI's page does)
        check_weights_present(args.weights_dir, config)
    return HairEditor.from_pretrained(args.weights_dir, args.device, config, download)


def check_weights_present(folder: Path | None, config: EditConfig, presets: Iterable[str] = ()) -> None:
    """Every pretrained file that edits with ``config`` need (moved to each of ``presets``, when
    given) and that is missing, in one message, before any work (not one at a time, midway)."""
    from .weights.download import missing_files, missing_files_message
    from .weight_needs import files_needed
    from .weights.registry import WEIGHTS

    configs = [config.with_preset(preset) for preset in set(presets) or {config.preset}]
    needed = [name for name in WEIGHTS if any(name in files_needed(each) for each in configs)]
    missing = missing_files(needed, folder)
    if missing:
        raise MissingWeightsError(missing_files_message(missing, folder))


# -- edit ----------------------------------------------------------------------------------


def run_edit(args: argparse.Namespace) -> int:
    # Everything the user gave is checked before torch is even imported.
    _, info = read_photo(args.photo)  # a missing or unreadable photo fails here, named
    check_output(args.output, args.overwrite, info.format)
    if args.save_intermediates is not None:
        check_intermediates_folder(args.save_intermediates, args.overwrite)
    conditions = {name: getattr(args, name) for name in CONDITION_OPTIONS}
    check_conditions(**conditions)
    if args.server is not None:
        from .client import edit_on_server

        settings = None if args.config is None else settings_json(args.config)
        return edit_on_server(args, conditions, info.format, settings)
    config = read_config(args)
    editor = build_editor(args, config)
    with ProgressBars() as bars:
        # Given the file (not the pixels read above), the result knows its format, profile and EXIF.
        result = editor.edit(args.photo, face=args.face, seed=args.seed, callback=bars, previews=False, **conditions)
    if args.save_intermediates is not None:
        write_intermediates(editor, result, args, args.save_intermediates)
    result.save(args.output, overwrite=args.overwrite)
    timings = ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in result.timings.items())
    print(f"wrote {args.output} in {sum(result.timings.values()):.1f} s ({timings})")
    for warning in result.warnings:
        print(f"hairedit: warning: {warning}", file=sys.stderr)
    if args.smoke:
        print(f"hairedit: {SMOKE_NOTICE}", file=sys.stderr)
    return 0


def intermediate_names() -> list[str]:
    """Every file --save-intermediates may write, without the .png."""
    from .pipeline import EditMasks, ProxyImages

    return (
        ["crop_before", "crop_after", "parse_before", "sketch_strokes"]
        + [f"proxy_{field.name}" for field in dataclasses.fields(ProxyImages)]
        + [f"mask_{field.name}" for field in dataclasses.fields(EditMasks)]
    )


def check_intermediates_folder(folder: Path, overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file; --save-intermediates needs a folder.")
    taken = [name for name in intermediate_names() if (folder / f"{name}.png").exists()]
    if taken and not overwrite:
        raise InputError(f"{folder} already holds {taken[0]}.png and others; pass --overwrite or choose another folder.")


def write_intermediates(editor, result, args: argparse.Namespace, folder: Path) -> None:
    """The aligned crop before and after, every proxy (generator size), the masks (white = 1),
    the crop's parse in the mask painter's colours (paint over it for --mask) and the sketch
    as the sketch encoder saw it."""
    folder.mkdir(parents=True, exist_ok=True)
    images = {"crop_before": result.crop_before, "crop_after": result.crop_after}
    images["parse_before"] = np.array(LABEL_COLOURS, np.uint8)[editor.parse(np.asarray(result.crop_before))]
    if args.sketch is not None:
        images["sketch_strokes"] = load_sketch(args.sketch)
    for name, image in vars(result.proxies).items():
        if image is not None:
            images[f"proxy_{name}"] = image
    for name, mask in vars(result.masks).items():
        if mask is not None:
            images[f"mask_{name}"] = (np.clip(mask, 0, 1) * 255).round().astype(np.uint8)
    for name, image in images.items():
        save_image(image, folder / f"{name}.png", overwrite=args.overwrite)
