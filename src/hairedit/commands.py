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
import typing
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .conditions import LABEL_COLOURS, check_conditions, load_sketch, parse_face
from .config import PRESETS, SMOKE_STEPS, EditConfig, Inpaint
from .errors import InputError, MissingWeightsError
from .imageio import output_format, read_photo, save_image
from .output_paths import check_name_length, check_writable_folder
from .progress import ProgressBars

# Random networks are random: with this seed the random parser labels much of the sample
# portrait as hair (half of its crop), and much of the mean face too (three quarters), where a
# text proxy starts. Blending takes a proxy's features only where the parser finds its hair:
# with a seed whose parser finds none on the mean face (3 found 0.3 %), every text hairstyle
# gave the same pixels, and a smoke run could not show that the text reaches the networks.
SMOKE_NETWORK_SEED = 37
SMOKE_NOTICE = "--smoke: small random networks, the output is meaningless."
CONDITION_OPTIONS = ("hairstyle", "hairstyle_ref", "sketch", "mask", "color", "color_ref", "rgb")
WHOLE_PHOTO_INPAINTERS = typing.get_args(Inpaint)
PHOTO_MASKS = ("paste_region", "hair_photo_before", "hair_photo_after", "inpaint_region")  # photo-sized


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
    parser.add_argument("--face", type=_face_option, default=0, help=(
        "which face, 0 = the largest (see `hairedit align`), or 'all': every face in turn, largest first "
        "(docs/faces.md, 'Every face')"))


def add_editor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke", action="store_true",
                        help=f"small random networks, no weights, {SMOKE_STEPS} steps a stage: output meaningless")
    parser.add_argument("--preset", choices=PRESETS,
                        help="faithful (the official settings; default), fast (the same stages, fewer steps, "
                             "smaller losses) or instant (trained encoders instead of optimisation; two more files); "
                             "see README, 'Presets'. It wins over a preset named in --config")
    parser.add_argument("--config", metavar="JSON|FILE",
                        help='settings laid over the preset: inline JSON such as \'{"text": {"steps": 100}}\' or a JSON '
                             "file with the same nested keys (EditConfig)")
    parser.add_argument("--seed", type=int,
                        help="the same seed, inputs and settings give the same pixels (default: the settings' seed, 0)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: the best available)")
    parser.add_argument("--weights-dir", type=Path, help="pretrained files (default: $HAIREDIT_HOME or ~/.cache/hairedit)")
    parser.add_argument("--inpaint", choices=WHOLE_PHOTO_INPAINTERS, help=(
        "past the crop, old hair the new hair does not continue is removed and longer hair continued by inpainting: "
        "lama (default; OpenCV while its file is missing), opencv, or none (only the crop is edited, as before)"))
    parser.add_argument("--hair-length", type=_length_option, metavar="PX", help=(
        "how far longer hair goes on past the crop, in pixels of the 1024 px crop (default: as far as the old "
        "hair went, else 256)"))


# -- checks made before any heavy work ------------------------------------------------------


def check_output(path: Path, overwrite: bool, fallback_format: str | None = None) -> None:
    """Refuse an output that could not be written, before any work is done. A name without an
    extension takes ``fallback_format`` (the photo's own), when there is one."""
    check_name_length(path)  # first: asking the file system about a name too long is an error of its own
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite to replace it, or choose another name.")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name such as {path / 'edited.png'}.")
    check_writable_folder(path.parent, create=False)
    output_format(path, fallback_format)


def _face_option(value: str) -> int | str:
    try:
        return parse_face(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _length_option(value: str) -> float:
    try:
        length = float(value)
    except ValueError:
        length = -1.0
    if not length >= 0:
        raise argparse.ArgumentTypeError(f"the hair length is a number of crop pixels, 0 or more, not {value!r}")
    return length


def read_config(args: argparse.Namespace) -> EditConfig:
    """The settings: --config's over the preset it names (default faithful), moved to --preset
    when that is given (what the file sets beyond its preset's own values comes along), with
    --smoke's step cap, and --inpaint / --hair-length."""
    settings = {} if args.config is None else settings_json(args.config)
    config = config_of(settings, args.preset, args.smoke)
    whole_photo = {"inpaint": getattr(args, "inpaint", None), "hair_length_px": getattr(args, "hair_length", None)}
    whole_photo = {name: value for name, value in whole_photo.items() if value is not None}
    if whole_photo:  # --inpaint, --hair-length over the settings' whole_photo section
        config = dataclasses.replace(config, whole_photo=dataclasses.replace(config.whole_photo, **whole_photo))
    return config


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


def given_conditions(values: dict) -> list[str]:
    """The names of the conditions given (options or a row's columns with a value)."""
    return [name for name in CONDITION_OPTIONS if values.get(name) is not None]


def build_editor(args: argparse.Namespace, config: EditConfig | None = None, download: bool = True,
                 conditions: Iterable[str] | None = None):
    """The HairEditor the options ask for. Cheap: networks load on the first edit. Missing
    pretrained files (those of an edit with ``conditions``; None: any edit) are refused first,
    all in one message; with ``download`` False the caller offers the download itself (the UI's
    page), and the editor fetches nothing on its own."""
    from .pipeline import HairEditor

    config = config or read_config(args)
    if args.smoke:
        return smoke_editor(args.device, config, args.weights_dir)
    if download:  # else the caller offers the download itself (the UI's page does)
        check_weights_present(args.weights_dir, config, [(None, conditions)])
    return HairEditor.from_pretrained(args.weights_dir, args.device, config, download)


def smoke_editor(device: str | None, config: EditConfig, weights_dir: str | Path | None = None):
    """The --smoke editor: small random networks; like any editor's, its inversions are cached
    in the weights folder (their key holds the networks' fingerprints: no mix-up with pretrained ones)."""
    from .cache import default_folder
    from .pipeline import HairEditor

    return HairEditor.from_random(seed=SMOKE_NETWORK_SEED, device=device, config=config,
                                  cache_dir=default_folder(weights_dir))


Edit = tuple[str | None, Iterable[str] | None]  # an edit to come: its preset (None: the settings') and conditions


def check_weights_present(folder: Path | None, config: EditConfig, edits: Iterable[Edit] = ((None, None),)) -> None:
    """Every pretrained file that the ``edits`` to come need and that is missing, in one message,
    before any work (not one at a time, midway). Each edit is its preset (``config`` moved to
    it; None: ``config``'s own) and the names of its conditions (None: any edit)."""
    from .weights.download import missing_files, missing_files_message
    from .weight_needs import files_needed
    from .weights.registry import WEIGHTS

    needed = set()
    for preset, conditions in set((preset, None if c is None else frozenset(c)) for preset, c in edits):
        needed.update(files_needed(config.with_preset(preset or config.preset), conditions))
    missing = missing_files([name for name in WEIGHTS if name in needed], folder)
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
    editor = build_editor(args, config, conditions=given_conditions(conditions))
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
    """Every file --save-intermediates may write into a face's folder, without the .png."""
    from .pipeline import EditMasks, ProxyImages

    return (
        ["crop_before", "crop_after", "parse_before", "sketch_strokes"]
        + [f"proxy_{name}" for name in ProxyImages.NAMES]
        + [f"mask_{field.name}" for field in dataclasses.fields(EditMasks) if field.name not in PHOTO_MASKS]
        + list(PHOTO_MASKS)
    )


def check_intermediates_folder(folder: Path, overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file; --save-intermediates needs a folder.")
    faces = sorted(folder.glob("face-*/")) if folder.is_dir() else []
    taken = [place / f"{name}.png" for place in (folder, *faces) for name in intermediate_names()
             if (place / f"{name}.png").exists()]
    if taken and not overwrite:
        raise InputError(f"{folder} already holds {taken[0].relative_to(folder)} and others; pass --overwrite or "
                         "choose another folder.")


def write_intermediates(editor, result, args: argparse.Namespace, folder: Path) -> None:
    """Each face's intermediates: in ``folder``, or in ``folder/face-N`` for each face edited
    under --face all."""
    if not result.face_results:
        write_face_intermediates(editor, result, args, folder)
    for each in result.face_results:
        write_face_intermediates(editor, each, args, folder / f"face-{each.face_index}")


def write_face_intermediates(editor, result, args: argparse.Namespace, folder: Path) -> None:
    """The aligned crop before and after, every proxy (generator size), the masks (white = 1;
    the crop's at the generator's size, the whole-photo ones at the photo's), the crop's parse
    in the mask painter's colours (paint over it for --mask) and the sketch as the sketch
    encoder saw it."""
    folder.mkdir(parents=True, exist_ok=True)
    images = {"crop_before": result.crop_before, "crop_after": result.crop_after}
    images["parse_before"] = np.array(LABEL_COLOURS, np.uint8)[editor.parse(np.asarray(result.crop_before))]
    if args.sketch is not None:
        images["sketch_strokes"] = load_sketch(args.sketch)
    for name, image in result.proxies.items():
        images[f"proxy_{name}"] = image
    for name, mask in vars(result.masks).items():
        if mask is not None:
            images[name if name in PHOTO_MASKS else f"mask_{name}"] = (np.clip(mask, 0, 1) * 255).round().astype(np.uint8)
    for name, image in images.items():
        save_image(image, folder / f"{name}.png", overwrite=args.overwrite)
