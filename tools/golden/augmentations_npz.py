"""tests/golden/augmentations.npz from kornia 0.6.7, as HairCLIPv2's ``AugCLIPLoss`` builds it.

    python tools/golden/augmentations_npz.py HAIRCLIPV2_CHECKOUT OUT.npz

``ImageAugmentations(224, 8).augmentations`` of ``criteria/clip_loss.py``
(``RandomAffine(degrees=15, translate=0.1, p=0.7, padding_mode="border")`` then
``RandomPerspective(0.7, p=0.7)``) on ``picture`` (the 256 px "face" crop reduced to 20 x 28 by
adaptive average pooling, in float32) repeated 6 times after ``torch.manual_seed(11)``: the
parameters kornia drew (float32, as it draws them; only the views it applied each warp to)
and ``warped``, the same parameters applied again to the float64 picture. Then 1000 draws of
each augmentation's parameters at 224 px after ``torch.manual_seed(12)``.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
import torch.nn.functional as F

from _official import numpy_of, prepare


def main(checkout: str, out: str) -> None:
    prepare(checkout)
    from criteria.clip_loss import ImageAugmentations
    from tests.golden_inputs import astronaut_image

    picture = F.adaptive_avg_pool2d(astronaut_image(256, "face"), (20, 28))
    affine, perspective = ImageAugmentations(224, 8).augmentations
    torch.manual_seed(11)
    perspective(affine(picture.repeat(6, 1, 1, 1)))
    a, p = affine._params, perspective._params
    views = picture.double().repeat(6, 1, 1, 1)
    warped = perspective(affine(views, params=a), params=p)
    stored = {
        "picture": numpy_of(picture), "warped": numpy_of(warped),
        "affine_applied": a["batch_prob"].numpy(), "affine_angle": numpy_of(a["angle"]),
        "affine_translations": numpy_of(a["translations"]), "affine_center": numpy_of(a["center"]),
        "affine_scale": numpy_of(a["scale"]), "affine_shear": numpy_of(torch.stack([a["sx"], a["sy"]], 1)),
        "perspective_applied": p["batch_prob"].numpy(), "perspective_start": numpy_of(p["start_points"]),
        "perspective_end": numpy_of(p["end_points"]),
    }
    torch.manual_seed(12)
    shape = torch.Size((1000, 3, 224, 224))
    a, p = affine.forward_parameters(shape), perspective.forward_parameters(shape)
    stored.update(
        draws_affine_applied=a["batch_prob"].numpy(), draws_angle=a["angle"].numpy(),
        draws_translations=a["translations"].numpy(), draws_perspective_applied=p["batch_prob"].numpy(),
        draws_perspective_offsets=(p["end_points"] - p["start_points"]).numpy(),
    )
    np.savez(out, **stored)


if __name__ == "__main__":
    main(*sys.argv[1:3])
