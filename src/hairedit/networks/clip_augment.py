"""AugCLIPLoss's augmentations (kornia 0.6 ``RandomAffine`` and ``RandomPerspective``) in plain torch.

Re-implemented with the parameter distributions and warping conventions of kornia 0.6.7, the
version HairCLIPv2 pins (pixel-space matrices normalised by ``size - 1``, ``grid_sample`` with
``align_corners=False``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# AugCLIPLoss: kornia RandomAffine(degrees=15, translate=0.1, p=0.7, padding_mode="border")
# followed by RandomPerspective(distortion_scale=0.7, p=0.7).
AUGMENT_PROBABILITY = 0.7
MAX_ROTATION_DEG = 15.0
# kornia 0.6.7 (the version HairCLIPv2 pins) turns the scalar translate=0.1 into the range
# [0, 0.1] and draws the horizontal shift from U(-0, 0), the vertical one from U(-0.1, 0.1):
# only vertical shifts happen. Fractions of the image width and height:
MAX_TRANSLATION = (0.0, 0.1)
PERSPECTIVE_DISTORTION = 0.7


def augment_views(
    images: torch.Tensor, generator: torch.Generator | None = None, p: float = AUGMENT_PROBABILITY
) -> torch.Tensor:
    """Each image of (N, C, H, W): a random affine warp with probability ``p`` (border
    padding), then a random perspective warp with probability ``p`` (zero padding).

    Parameters are drawn on the CPU from ``generator``, so a seeded generator gives the same
    views on every device. Images a warp skips are passed through untouched, as kornia does.
    """
    n, _, height, width = images.shape
    affine = random_affine_matrices(n, height, width, generator)
    images = _where(_coin_flips(n, p, generator), warp_affine(images, affine, "border"), images)
    perspective = random_perspective_matrices(n, height, width, generator)
    return _where(_coin_flips(n, p, generator), warp_perspective(images, perspective), images)


def _coin_flips(n: int, p: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=generator) < p


def _where(chosen: torch.Tensor, warped: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    return torch.where(chosen.view(-1, 1, 1, 1).to(images.device), warped, images)


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator, dtype=torch.float64) * (high - low) + low


def random_affine_matrices(
    n: int, height: int, width: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(n, 3, 3) pixel-space matrices: rotation uniform in +-15 degrees about the centre,
    then a shift uniform in +-:data:`MAX_TRANSLATION` of the width and height (kornia
    0.6.7's ``AffineGenerator`` for ``RandomAffine(15, translate=0.1)``)."""
    angle_deg = _uniform((n,), -MAX_ROTATION_DEG, MAX_ROTATION_DEG, generator)
    reach = torch.tensor(MAX_TRANSLATION, dtype=torch.float64) * torch.tensor([width, height], dtype=torch.float64)
    shift = (2 * _uniform((n, 2), 0, 1, generator) - 1) * reach
    return affine_matrices(angle_deg, shift, height, width)


def affine_matrices(angle_deg: torch.Tensor, translation_px: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N,) angles and (N, 2) x/y translations -> (N, 3, 3) float64 matrices mapping source
    pixels to destination pixels: rotation by ``angle_deg`` about the image centre
    ``((W - 1) / 2, (H - 1) / 2)`` (positive turns x towards y) then the translation."""
    angle = angle_deg.double() * math.pi / 180
    cos, sin = torch.cos(angle), torch.sin(angle)
    centre = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=torch.float64)
    matrices = torch.zeros(angle.shape[0], 3, 3, dtype=torch.float64)
    matrices[:, 0, 0], matrices[:, 0, 1] = cos, -sin
    matrices[:, 1, 0], matrices[:, 1, 1] = sin, cos
    rotated_centre = matrices[:, :2, :2] @ centre
    matrices[:, :2, 2] = centre - rotated_centre + translation_px.double()
    matrices[:, 2, 2] = 1
    return matrices


def random_perspective_matrices(
    n: int, height: int, width: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(n, 3, 3) homographies moving each image corner inwards by uniform amounts up to
    ``0.7 / 2`` of the width (x) and height (y) (kornia's ``PerspectiveGenerator``, "basic")."""
    corners = _corners(height, width).expand(n, 4, 2)
    inwards = torch.tensor([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=torch.float64)
    reach = PERSPECTIVE_DISTORTION * torch.tensor([width / 2, height / 2], dtype=torch.float64)
    moved = corners + reach * _uniform((n, 4, 2), 0, 1, generator) * inwards
    return perspective_matrices(corners, moved)


def _corners(height: int, width: int) -> torch.Tensor:
    """(1, 4, 2) pixel corners: top-left, top-right, bottom-right, bottom-left."""
    return torch.tensor([[[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]], dtype=torch.float64)


def perspective_matrices(start_points: torch.Tensor, end_points: torch.Tensor) -> torch.Tensor:
    """(N, 4, 2) point pairs -> (N, 3, 3) float64 homographies H (H[2, 2] = 1) with
    ``end ~ H @ start``, by solving the 8x8 direct linear system."""
    x, y = start_points[..., 0].double(), start_points[..., 1].double()
    u, v = end_points[..., 0].double(), end_points[..., 1].double()
    ones, zeros = torch.ones_like(x), torch.zeros_like(x)
    rows_u = torch.stack([x, y, ones, zeros, zeros, zeros, -u * x, -u * y], -1)
    rows_v = torch.stack([zeros, zeros, zeros, x, y, ones, -v * x, -v * y], -1)
    system = torch.stack([rows_u, rows_v], 2).reshape(-1, 8, 8)
    targets = torch.stack([u, v], 2).reshape(-1, 8)
    solution = torch.linalg.solve(system, targets)
    return torch.cat([solution, torch.ones_like(solution[:, :1])], 1).view(-1, 3, 3)


def _normalised(matrices: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pixel-space matrices -> the same maps in [-1, 1] coordinates where -1 and 1 are the
    centres of the first and last pixels (kornia's ``normalize_homography``)."""
    to_unit = torch.tensor(
        [[2 / (width - 1), 0, -1], [0, 2 / (height - 1), -1], [0, 0, 1]], dtype=torch.float64
    )
    return to_unit @ matrices.double() @ torch.linalg.inv(to_unit)


def warp_affine(images: torch.Tensor, matrices: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """``out(p) = images(A^-1 p)`` for (N, 3, 3) affine pixel-space ``matrices``, bilinear,
    the way kornia's ``warp_affine(..., align_corners=False)`` samples."""
    n, channels, height, width = images.shape
    inverse = torch.linalg.inv(_normalised(matrices, height, width))[:, :2].to(images)
    grid = F.affine_grid(inverse, [n, channels, height, width], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def warp_perspective(images: torch.Tensor, homographies: torch.Tensor) -> torch.Tensor:
    """``out(p) = images(H^-1 p)`` for (N, 3, 3) pixel-space homographies, bilinear, zero
    padding, the way kornia's ``warp_perspective(..., align_corners=False)`` samples: its
    grid puts -1 and 1 at the outer pixel centres while ``grid_sample`` reads them as the
    outer pixel edges, a slight zoom kornia has and the official augmentations inherit."""
    n, _, height, width = images.shape
    inverse = torch.linalg.inv(_normalised(homographies, height, width)).to(images)
    ys, xs = torch.meshgrid(
        torch.linspace(-1, 1, height, dtype=images.dtype, device=images.device),
        torch.linspace(-1, 1, width, dtype=images.dtype, device=images.device),
        indexing="ij",
    )
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1).view(1, -1, 3)
    mapped = points @ inverse.transpose(1, 2)
    depth = mapped[..., 2:]
    scale = torch.where(depth.abs() > 1e-8, 1 / depth, torch.ones_like(depth))
    grid = (mapped[..., :2] * scale).view(n, height, width, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
