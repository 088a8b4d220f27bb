"""``hairedit align PHOTO -o DIR``: the FFHQ crops and their transforms, to draw on."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from ..errors import InputError
from ..imageio import load_photo, save_image
from .align import align_face
from .detect import choose_face, detect_faces


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "align",
        help="detect faces and write the FFHQ-aligned 1024 px crops with their transforms",
        description="Writes NAME_faceN.png (1024 px crop) and NAME_faceN.json (transform, landmarks, box) per face. "
        "Draw sketches and masks on the crop.",
    )
    parser.add_argument("photo", help="a JPEG, PNG or WebP photo")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output folder (created if needed)")
    parser.add_argument("--face", type=int, default=None, help="only this face (0 = largest)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    photo = load_photo(args.photo)
    faces = detect_faces(photo)
    indices = [args.face] if args.face is not None else list(range(len(faces)))
    chosen = [(index, choose_face(faces, index, args.photo)) for index in (indices or [0])]
    stem = Path(args.photo).stem
    outputs = [(args.output / f"{stem}_face{i}.png", args.output / f"{stem}_face{i}.json") for i, _ in chosen]
    if not args.overwrite:
        existing = [str(p) for pair in outputs for p in pair if p.exists()]
        if existing:
            raise InputError(f"{existing[0]} already exists; pass --overwrite to replace it.")
    args.output.mkdir(parents=True, exist_ok=True)
    for (index, face), (image_path, json_path) in zip(chosen, outputs):
        aligned = align_face(photo, face)
        save_image(aligned.crop, image_path, overwrite=args.overwrite)
        record = {"photo": str(args.photo), "face": index, **face.to_json(), "transform": aligned.transform.to_json(),
                  "landmarks_in_crop": aligned.transform.to_crop(face.landmarks).round(2).tolist()}
        _write_json(record, json_path)
        print(f"face {index}: {image_path} ({json_path.name})")
    return 0


def _write_json(record: dict, path: Path) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(record, handle, indent=1)
    os.replace(temporary, path)
