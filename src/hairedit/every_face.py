"""``face="all"`` (``--face all``): every face of a photo edited in turn, each on the result of
the one before.

The faces are found once, on the photo as given. They are edited largest first, except that a
face whose crop overlaps a smaller face's crop waits for that face (``face.align.edit_order``):
the smaller, usually further back face is edited first, and the nearer face's edit, pasted onto
that, stays whole where the two overlap. Faces too small to edit are left as they are, with a
warning. Before each edit the faces are found again on the photo so far (the edits before
changed hair, not faces) and the one nearest the original's box is edited.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .errors import FaceNotFoundError
from .face.align import crop_transform, edit_order, ffhq_quad
from .face.detect import MIN_EYE_DISTANCE_PX, DetectedFace, choose_face
from .imageio import PhotoLike, read_photo
from .result import EditResult

if TYPE_CHECKING:
    from .edit_run import EditRun
    from .photo_cache import FoundFaces


def edit_every_face(photo: PhotoLike, start_run: Callable[[], EditRun], conditions, found: FoundFaces) -> EditResult:
    """Every face of ``photo`` edited (``start_run`` makes a fresh :class:`EditRun` for each;
    ``found``: the editor's faces found, which each run's own search for its face then reuses).

    Returns the result of the last face with the whole photo as edited by all of them; its
    ``face_results`` hold each face's own result (in the order edited), its ``warnings`` every
    face's, each saying which face; its ``timings`` are summed over the faces.
    """
    original, info = read_photo(photo)
    faces = found.faces(original)
    usable = [index for index, face in enumerate(faces) if face.eye_distance_px >= MIN_EYE_DISTANCE_PX]
    skipped = [
        f"face {index} is too small to edit ({faces[index].eye_distance_px:.0f} px between the eyes, "
        f"{MIN_EYE_DISTANCE_PX} needed): it was left as it was"
        for index in range(len(faces)) if index not in usable
    ]
    if not usable:
        choose_face(faces, 0)  # raises: no face at all, or how small the largest is
    photo_size = (original.shape[1], original.shape[0])
    transforms = [crop_transform(ffhq_quad(faces[index].landmarks)[0], 64, photo_size) for index in usable]
    current, results = original, []
    for position in edit_order(transforms):
        index = usable[position]
        now_at = _same_face(found.faces(current), faces[index])
        if now_at is None:  # the edits before hid it from the detector
            skipped.append(f"face {index} was no longer found after the faces edited before it: it was left as it was")
            continue
        result = start_run().run(current, conditions, now_at)
        results.append(dataclasses.replace(result, face_index=index))
        current = np.asarray(result.image)
    if not results:
        raise FaceNotFoundError("no face of the photo could be edited: " + "; ".join(skipped) + ".")
    timings: dict[str, float] = {}
    for result in results:
        for stage, seconds in result.timings.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
    warnings = [f"face {result.face_index}: {warning}" for result in results for warning in result.warnings]
    return dataclasses.replace(
        results[-1], image=Image.fromarray(current), timings=timings, faces=faces, photo=original, photo_info=info,
        warnings=skipped + warnings, face_results=results,
    )


def _same_face(found: list[DetectedFace], face: DetectedFace) -> int | None:
    """The index in ``found`` of the detection whose box centre is nearest ``face``'s, if
    within a quarter of the box's width; else None."""

    def centre(box) -> np.ndarray:
        return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])

    if not found:
        return None
    distances = [float(np.hypot(*(centre(other.box) - centre(face.box)))) for other in found]
    nearest = int(np.argmin(distances))
    return nearest if distances[nearest] <= (face.box[2] - face.box[0]) / 4 else None
