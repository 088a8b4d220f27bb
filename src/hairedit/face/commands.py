"""``hairedit align PHOTO -o DIR``: the FFHQ crops of a photo's faces and their transforms, so
sketches and masks can be drawn on exactly the crop an edit will use."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..atomic import write_atomically
from ..errors import InputError
from ..imageio import load_photo, save_image
from .align import CROP_SIZE_PX, AlignedFace, align_face
from .detect import DetectedFace, choose_face, detect_faces

COORDINATES = "photo pixels as displayed (EXIF orientation applied): x right, y down, pixel centres at integers"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "align",
        help="detect faces and write the FFHQ-aligned 1024 px crops with their transforms",
        description="Writes NAME_faceN.png (the 1024 px FFHQ crop) and NAME_faceN.json (transform between "
        "photo and crop, landmarks, box, score) for every face large enough to edit, or only face N. "
        "Faces are numbered largest first; draw sketches and masks on the crop.",
    )
    parser.add_argument("photo", help="a JPEG, PNG or WebP photo")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output folder (created if needed)")
    parser.add_argument("--face", type=int, default=None, metavar="N", help="only face N (0 = the largest)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    photo = load_photo(args.photo)
    faces = detect_faces(photo)
    for index, face in enumerate(faces):
        print(f"face {index}: box {face.box}, score {face.score:.2f}, {face.eye_distance_px:.0f} px between the eyes")
    chosen = _faces_to_write(faces, args.face, str(args.photo))
    stem = Path(args.photo).stem
    outputs = {
        index: (args.output / f"{stem}_face{index}.png", args.output / f"{stem}_face{index}.json") for index in chosen
    }
    if not args.overwrite:
        existing = [path for pair in outputs.values() for path in pair if path.exists()]
        if existing:
            raise InputError(f"{existing[0]} already exists; pass --overwrite to replace it.")
    args.output.mkdir(parents=True, exist_ok=True)
    for index, face in chosen.items():
        image_path, json_path = outputs[index]
        aligned = align_face(photo, face, CROP_SIZE_PX)
        save_image(aligned.crop, image_path, overwrite=args.overwrite)
        _write_json(_record(str(args.photo), index, aligned), json_path, args.overwrite)
        print(f"face {index}: wrote {image_path} and {json_path.name}")
    return 0


def _faces_to_write(faces: list[DetectedFace], wanted: int | None, source: str) -> dict[int, DetectedFace]:
    """Face ``wanted`` only, or every face large enough; a small face is skipped, not fatal,
    unless it is the only kind there is."""
    if wanted is not None:
        return {wanted: choose_face(faces, wanted, source)}
    usable = {}
    for index in range(len(faces)):
        try:
            usable[index] = choose_face(faces, index, source)
        except InputError as error:
            print(f"face {index}: skipped, {error}")
    return usable or {0: choose_face(faces, 0, source)}


def _record(photo: str, index: int, aligned: AlignedFace) -> dict:
    return {
        "photo": photo,
        "face": index,
        "coordinates": COORDINATES,
        **aligned.face.to_json(),
        "transform": aligned.transform.to_json(),
        "landmarks_in_crop": aligned.transform.to_crop(aligned.face.landmarks).round(2).tolist(),
    }


def _write_json(record: dict, path: Path, overwrite: bool) -> None:
    text = json.dumps(record, indent=1).encode()
    write_atomically(path, lambda handle: handle.write(text), overwrite)
