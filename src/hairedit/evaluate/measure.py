"""Every per-edit metric of one edit, and the per-set summary of many.

Metric names (the keys of :attr:`Measured.metrics`, present where they apply; nan where
undefined, e.g. a colour distance when the parser sees no hair):

- ``psnr``, ``ssim``: the whole photos, every pixel (no network);
- ``identity``, ``identity_distance``: dlib embeddings' cosine similarity and distance;
- ``psnr_outside``, ``ssim_outside``, ``lpips_outside`` on the whole photo, the same with
  ``_crop`` on the aligned crop, outside the edit region (hair before ∪ after, grown);
- ``color_delta_e`` (``--rgb`` or ``--color-ref``), ``clip_score`` (``--hairstyle``),
  ``color_clip_score`` (``--color``), ``mask_iou`` (``--mask``), ``sketch_coverage``
  (``--sketch``), each with ``<name>_before``: the same measure of the photo before the edit;
- ``psnr_crop``, ``lpips_crop``: the whole aligned crops (``--protocol hairfast``'s reconstruction);
- ``seconds`` and ``seconds_<stage>`` where the edit's timings are known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from ..components import Components
from ..conditions import load_mask, load_sketch, parse_rgb
from ..errors import InputError
from ..face.align import CROP_SIZE_PX, AlignedFace, align_face
from ..face.detect import choose_face, detect_faces
from ..imageio import load_photo
from ..labels import HAIR
from ..stages.inversion import image_tensor
from . import agreement
from .identity import identity_score
from .needs import METRIC_NETWORKS, MetricPlan
from .pixels import edit_region, preservation, region_in_photo, whole_crop, whole_photo
from .sets import Interval, SetInterval, embed, frechet_interval, mean_interval, psnr_interval

THUMBNAIL_PX = 320
# Metrics where more is better; for all others (distances, LPIPS, seconds) less is better.
HIGHER_IS_BETTER = (
    "identity", "psnr", "ssim", "psnr_outside", "ssim_outside", "psnr_outside_crop", "ssim_outside_crop", "clip_score",
    "color_clip_score", "mask_iou", "sketch_coverage", "psnr_crop",
)


@dataclass
class EditSample:
    """One edit to measure.

    before, after: the whole photos (H, W, 3) uint8, one size. conditions: what was asked,
    under ``edit``'s names (``hairstyle``, ``color``, ``rgb``, ``color_ref``, ``mask``,
    ``sketch``; others are not measured), as files or arrays. aligned (whose crop is the crop
    before) and crop_after: the face's alignment in ``before`` and the aligned crop after,
    where the editor gave them (otherwise found here). timings: seconds per stage, where known.
    """

    before: np.ndarray
    after: np.ndarray
    face: int = 0
    conditions: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    aligned: AlignedFace | None = None
    crop_after: np.ndarray | None = None
    name: str = ""
    preset: str = ""


@dataclass
class Measured:
    """An edit's metrics, small copies of its crops for reports (``THUMBNAIL_PX``), and the
    crops' FID features (name -> (before (D,), after (D,))) where asked."""

    name: str
    preset: str
    metrics: dict[str, float]
    thumbnail_before: np.ndarray
    thumbnail_after: np.ndarray
    features: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


class EditEvaluator:
    """Measures edits with an editor's networks: the parser (hair masks), LPIPS, CLIP and
    the FID Inception, each loaded on first use, for the metrics of ``plan`` only (default:
    every metric; :mod:`.needs` says which the files present allow). Where ``plan`` holds FID
    or FID_CLIP, each crop's features are kept for the set's."""

    def __init__(self, components: Components, weights_dir: str | Path | None = None, plan: MetricPlan | None = None):
        self.components = components
        self.weights_dir = weights_dir
        self.plan = plan or MetricPlan(frozenset(METRIC_NETWORKS))

    def measures(self, metric: str) -> bool:
        return metric in self.plan.measured

    def planned_networks(self) -> set[str]:
        return {network for metric in self.plan.measured for network in METRIC_NETWORKS[metric]}

    def load_networks(self) -> None:
        """Load now the networks the planned metrics use: a file that cannot be had stops the
        command before the long work, and the edit timed next is not charged for loading the
        networks it shares with measuring."""
        for network in ("parser", "lpips", "clip", "inception"):
            if network in self.planned_networks():
                getattr(self.components, network)

    def measure(self, sample: EditSample) -> Measured:
        before, after = sample.before, sample.after
        if before.shape != after.shape:
            raise InputError(
                f"{sample.name or 'the edited photo'} is {after.shape[1]}x{after.shape[0]} but the photo before is "
                f"{before.shape[1]}x{before.shape[0]}: compare an edit with the photo it was made from."
            )
        metrics = whole_photo(before, after)
        networks = self.planned_networks()
        if "faces" not in networks and "identity" not in networks:
            metrics.update(seconds(sample.timings))
            return Measured(sample.name, sample.preset, metrics, thumbnail(before), thumbnail(after))
        aligned = sample.aligned or align_face(before, choose_face(detect_faces(before), sample.face), CROP_SIZE_PX)
        if self.measures("identity"):
            identity = identity_score(before, after, aligned.face, self.weights_dir)
            metrics.update(identity=identity.cosine, identity_distance=identity.distance)
        crop_before = aligned.crop
        crop_after = sample.crop_after if sample.crop_after is not None else align_face(after, aligned.face).crop
        hair_before = hair_after = None
        if "parser" in networks:
            hair_before, hair_after = self.hair(crop_before), self.hair(crop_after)
        if self.measures("psnr_outside"):
            region = edit_region(hair_before, hair_after)
            lpips = self.components.lpips if self.measures("lpips_outside") else None
            metrics.update(preservation(before, after, ~region_in_photo(region, aligned.transform), lpips=lpips))
            metrics.update(preservation(crop_before, crop_after, ~region, "_crop", lpips))
        if self.measures("psnr_crop"):
            metrics.update(whole_crop(crop_before, crop_after,
                                      self.components.lpips if self.measures("lpips_crop") else None))
        for name, measure in self._condition_measures(sample.conditions).items():
            metrics[name] = measure(crop_after, hair_after)
            metrics[f"{name}_before"] = measure(crop_before, hair_before)
        metrics.update(seconds(sample.timings))
        features = self._features(crop_before, crop_after)
        return Measured(sample.name, sample.preset, metrics, thumbnail(crop_before), thumbnail(crop_after), features)

    def _features(self, crop_before: np.ndarray, crop_after: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        device, networks = self.components.device, self.fid_networks()
        return {name: tuple(embed(network, [crop_before, crop_after], device)) for name, network in networks.items()}

    def fid_networks(self) -> dict:
        """The planned set metrics' networks: ``fid``, the Inception's pool features;
        ``fid_clip``, CLIP image embeddings as HairFastGAN's evaluation computes them."""
        networks = {}
        if self.measures("fid"):
            networks["fid"] = self.components.inception
        if self.measures("fid_clip"):
            networks["fid_clip"] = agreement.fid_clip_features(self.components.clip)
        return networks

    @torch.no_grad()
    def hair(self, crop: np.ndarray) -> np.ndarray:
        """(S, S) bool: where the parser sees hair in a crop (S, S, 3) uint8, parsed at the
        parser's own input size."""
        parser = self.components.parser
        image = image_tensor(crop, parser.input_size_px, self.components.device)
        hair = (parser(image).logits.argmax(1)[0] == HAIR).to(torch.uint8).cpu().numpy()
        return cv2.resize(hair, crop.shape[:2][::-1], interpolation=cv2.INTER_NEAREST).astype(bool)

    def _condition_measures(self, conditions: dict) -> dict:
        """Name -> measure(crop, hair) of each condition that has a metric."""
        measures = self._every_condition_measure(conditions)
        return {name: measure for name, measure in measures.items() if self.measures(name)}

    def _every_condition_measure(self, conditions: dict) -> dict:
        measures = {}
        if conditions.get("hairstyle") is not None:
            text = str(conditions["hairstyle"])
            measures["clip_score"] = lambda crop, hair: agreement.clip_score(self.components.clip, crop, text)
        if conditions.get("color") is not None:
            words = str(conditions["color"])
            measures["color_clip_score"] = lambda crop, hair: agreement.clip_score(self.components.clip, crop, words)
        target = self._target_colour(conditions) if self.measures("color_delta_e") else None  # reads the parser
        if target is not None:
            measures["color_delta_e"] = lambda crop, hair: agreement.color_difference(target, crop, hair)
        if conditions.get("mask") is not None:
            painted = load_mask(conditions["mask"])
            measures["mask_iou"] = lambda crop, hair: agreement.mask_iou(hair, painted)
        if conditions.get("sketch") is not None:
            strokes = load_sketch(conditions["sketch"])
            measures["sketch_coverage"] = lambda crop, hair: agreement.sketch_coverage(hair, strokes)
        return measures

    def _target_colour(self, conditions: dict) -> np.ndarray | None:
        """The asked hair colour in Lab: the RGB, or the mean hair colour of the colour reference."""
        if conditions.get("rgb") is not None:
            return agreement.rgb_lab(parse_rgb(conditions["rgb"]))
        if conditions.get("color_ref") is None:
            return None
        reference = load_photo(conditions["color_ref"], "the colour reference")
        crop = align_face(reference, choose_face(detect_faces(reference), 0, "the colour reference"), CROP_SIZE_PX).crop
        target = agreement.mean_hair_cie_lab(crop, self.hair(crop))
        if target is None:
            raise InputError("the parser finds no hair in the colour reference: its colour cannot be measured.")
        return target

    def summarise(self, measured: list[Measured]) -> dict[str, Interval | SetInterval]:
        """Per metric, its :class:`Interval` over the edits (PSNR: of the mean squared error, see
        :func:`~.sets.psnr_interval`); where features were kept, also ``fid`` and ``fid_clip`` of
        the crops after against the crops before, with bootstrap intervals (:func:`~.sets.frechet_interval`;
        nan below two edits)."""
        names = list(dict.fromkeys(name for item in measured for name in item.metrics))
        summary: dict[str, Interval | SetInterval] = {
            name: (psnr_interval if name.startswith("psnr") else mean_interval)(
                [item.metrics.get(name, math.nan) for item in measured]
            ) for name in names
        }
        for key in dict.fromkeys(key for item in measured for key in item.features):
            pairs = [item.features[key] for item in measured if key in item.features]
            summary[key] = frechet_interval(np.stack([p[1] for p in pairs]), np.stack([p[0] for p in pairs]))
        return summary


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A copy at most ``THUMBNAIL_PX`` on its long side (a crop: that square)."""
    small = Image.fromarray(image)
    small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.LANCZOS)
    return np.asarray(small)


def seconds(timings: dict[str, float]) -> dict[str, float]:
    """``seconds`` (the total) and ``seconds_<stage>`` (spaces as underscores) of an edit's timings."""
    if not timings:
        return {}
    per_stage = {f"seconds_{stage.replace(' ', '_')}": float(value) for stage, value in timings.items()}
    return {"seconds": float(sum(timings.values())), **per_stage}
