"""HairEditor: a photo in, the same photo with new hair out (HairCLIPv2).

``edit`` reads as the paper's figure: align the face, invert it, build the proxies, blend
the hairstyle in F, recolour, paste back into the whole photo.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .components import Components
from .conditions import load_mask, load_sketch, parse_rgb
from .config import EditConfig, LatentRows
from .errors import InputError
from .face.align import AlignedFace, align_face
from .face.detect import DetectedFace, choose_face, detect_faces
from .face.paste import old_hair_left_past_crop, paste_back
from .imageio import PhotoLike, load_photo
from .networks.bisenet import EAR, HAIR
from .progress import ProgressCallback, Reporter, to_uint8
from .stages.bald import bald_latent
from .stages.blending import blend_hairstyle
from .stages.color import ColorTarget, color_proxy
from .stages.inversion import Inverter, image_tensor
from .stages.reference import reference_proxy
from .stages.sketch import sketch_proxy
from .stages.text import text_proxy
from .weights.registry import weights_dir as default_weights_dir

CROP_SIZE_PX = 1024
EDIT_MARGIN_FRACTION = 0.02  # the paste region reaches this far (of the crop side) past the hair
OLD_HAIR_PAST_CROP = (
    "the hair in the photo runs on past the edge of the face crop, and the new hair stops short of it there: "
    "hair outside the crop is never edited, so the old ends may still show beyond the new hair. For a large change "
    "of length, use a photo where the hair fits inside the face square (see docs/faces.md, 'Long hair past the crop')."
)


@dataclass
class ProxyImages:
    """What each stage produced, (H, W, 3) uint8 at the generator's size; None when unused."""

    reconstruction: np.ndarray | None = None
    bald: np.ndarray | None = None
    hairstyle: np.ndarray | None = None  # the text or reference proxy
    sketch: np.ndarray | None = None
    hairstyle_blend: np.ndarray | None = None
    color_stage1: np.ndarray | None = None


@dataclass
class EditMasks:
    """Masks (S, S) float in [0, 1] in crop coordinates at the generator's size."""

    hair_before: np.ndarray
    hair_after: np.ndarray
    edit_region: np.ndarray  # what paste-back may change, before feathering
    sketch_region: np.ndarray | None = None


@dataclass
class EditResult:
    image: Image.Image  # the whole photo, edited
    crop_before: Image.Image  # the aligned 1024 px crop
    crop_after: Image.Image
    proxies: ProxyImages
    masks: EditMasks
    timings: dict[str, float]  # seconds per stage
    face_index: int
    faces: list[DetectedFace] = field(default_factory=list)
    aligned: AlignedFace | None = None
    warnings: list[str] = field(default_factory=list)  # things the user should know about the result


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class _Timer:
    def __init__(self):
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        yield
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start


class HairEditor:
    """Owns the networks (loaded on first use) and the configuration of every edit."""

    def __init__(self, components: Components, config: EditConfig | None = None, cache_dir: Path | None = None):
        self.components = components
        self.config = config or EditConfig()
        self.cache_dir = cache_dir

    @classmethod
    def from_pretrained(
        cls,
        weights_dir: str | Path | None = None,
        device: str | torch.device | None = None,
        config: EditConfig | None = None,
        download: bool = True,
    ) -> HairEditor:
        """The official networks from ``weights_dir`` (default ``$HAIREDIT_HOME`` or
        ``~/.cache/hairedit``), each downloaded on first use when missing."""
        folder = default_weights_dir(weights_dir)
        device = torch.device(device) if device is not None else default_device()
        return cls(Components.pretrained(folder, device, download), config, folder / "inversions")

    @classmethod
    def from_random(
        cls,
        seed: int = 0,
        size_px: int = 64,
        device: str | torch.device | None = None,
        config: EditConfig | None = None,
        cache_dir: str | Path | None = None,
    ) -> HairEditor:
        """Small random networks of the official architectures: runs anywhere, output meaningless."""
        device = torch.device(device) if device is not None else torch.device("cpu")
        return cls(Components.random(seed, size_px, device), config, Path(cache_dir) if cache_dir else None)

    # -- helpers the UI uses too -----------------------------------------------------------

    @property
    def rows(self) -> LatentRows:
        return self.config.layers.rows(self.components.generator.size)

    def detect_faces(self, photo: PhotoLike) -> list[DetectedFace]:
        return detect_faces(load_photo(photo))

    def align(self, photo: PhotoLike, face: int = 0, name: str = "the photo") -> AlignedFace:
        array = load_photo(photo, name)
        return align_face(array, choose_face(detect_faces(array), face, name), CROP_SIZE_PX)

    @torch.no_grad()
    def parse(self, crop: np.ndarray) -> np.ndarray:
        """Labels (p, p) uint8 of an aligned crop at the parser's size, for painting masks."""
        image = image_tensor(crop, self.components.generator.size, self.components.device)
        return self.components.parser(image).logits.argmax(1)[0].to(torch.uint8).cpu().numpy()

    # -- the edit ------------------------------------------------------------------------

    def edit(
        self,
        photo: PhotoLike,
        hairstyle: str | None = None,
        hairstyle_ref: PhotoLike | None = None,
        sketch: PhotoLike | np.ndarray | None = None,
        mask: PhotoLike | np.ndarray | None = None,
        color: str | None = None,
        color_ref: PhotoLike | None = None,
        rgb: str | tuple[int, int, int] | None = None,
        face: int = 0,
        preset: str | None = None,
        seed: int | None = None,
        callback: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        previews: bool = True,
    ) -> EditResult:
        """Edit the hair of face ``face`` (0 = largest) in ``photo``; see the README for the modes.

        ``callback`` gets a :class:`Progress` per optimisation step; with ``previews`` about
        ten of them per stage carry an image (each costs one more synthesis). ``cancel``
        stops the edit with :class:`EditInterrupted` at the next step.
        """
        config = self._config_for(preset, seed)
        c = self.components
        reporter, timer = Reporter(callback, cancel, previews), _Timer()
        with _precision(config, c):
            return self._edit(photo, hairstyle, hairstyle_ref, sketch, mask, color, color_ref, rgb, face, config,
                              reporter, timer)

    def _edit(self, photo, hairstyle, hairstyle_ref, sketch, mask, color, color_ref, rgb, face, config, reporter,
              timer) -> EditResult:
        c = self.components
        # 0. Check every condition before any heavy work.
        conditions = self.check_inputs(hairstyle, hairstyle_ref, sketch, mask, color, color_ref, rgb)
        _seed_everything(config.seed)
        clip_generator = torch.Generator().manual_seed(config.seed)
        rows = config.layers.rows(c.generator.size)
        size = c.generator.size

        # 1. Find and align the face; the references too.
        with timer("align"):
            photo_array = load_photo(photo)
            faces = detect_faces(photo_array)
            aligned = align_face(photo_array, choose_face(faces, face), CROP_SIZE_PX)
            source = image_tensor(aligned.crop, size, c.device)
            reference = self.align(hairstyle_ref, 0, "the hairstyle reference") if hairstyle_ref is not None else None
            color_reference = self.align(color_ref, 0, "the colour reference") if color_ref is not None else None
        reporter.check()

        # 2. Invert the photo: W+ (II2S), then F and the fine rows (FS).
        inverter = Inverter(
            c.generator, c.lpips, c.pca, c.mean_latent, config.inversion, rows, self.cache_dir, config.fast
        )
        with timer("inversion"):
            inversion = inverter.invert(aligned.crop, reporter)
        with torch.no_grad():
            reconstruction = c.generator.synthesis(inversion.latent, start_features=inversion.features).image
            source_parse = c.parser(source)
            source_labels = source_parse.logits.argmax(1, keepdim=True)
        proxies = ProxyImages(reconstruction=to_uint8(reconstruction))
        painted = conditions["mask"]
        painted_labels = None
        if painted is not None:
            p = c.parser.input_size_px
            painted_labels = torch.from_numpy(cv2.resize(painted, (p, p), interpolation=cv2.INTER_NEAREST))
            painted_labels = painted_labels.long().unsqueeze(0).to(c.device)

        # 3-4. Hairstyle proxies: bald, then a global one (text or reference), a local one (sketch).
        global_latent = local_latent = local_mask = bald = None
        if hairstyle is not None or reference is not None:
            with timer("bald proxy"):
                bald = bald_latent(c.bald_mapper, inversion.latent, rows, config.blending.bald_alpha_scale)
                proxies.bald = to_uint8(c.generator(bald))
        if hairstyle is not None:
            with timer("text proxy"):
                global_latent = text_proxy(
                    c, hairstyle, source, config.text, rows, reporter, painted_labels, clip_generator, config.fast
                )
        elif reference is not None:
            with timer("reference proxy"):
                reference_image = image_tensor(reference.crop, size, c.device)
                reference_latent = inverter.invert_w(reference.crop, reporter, "reference inversion")
                global_latent = reference_proxy(
                    c, reference_latent, reference_image, source, config.reference, rows, reporter, painted_labels,
                    config.fast,
                )
        if global_latent is not None:
            with torch.no_grad():
                proxies.hairstyle = to_uint8(c.generator(global_latent))
        if conditions["sketch"] is not None:
            with timer("sketch proxy"):
                local_latent, local_mask = sketch_proxy(c, conditions["sketch"], config.sketch)
                with torch.no_grad():
                    proxies.sketch = to_uint8(c.generator(local_latent))

        # 5. Blend the hairstyle in F.
        features, hairstyle_image = inversion.features, reconstruction
        if global_latent is not None or local_latent is not None:
            with timer("blending"):
                blend = blend_hairstyle(
                    c, inversion, source_labels, rows, config.blending, bald, global_latent, local_latent, local_mask
                )
            features, hairstyle_image = blend.features, blend.image
            proxies.hairstyle_blend = to_uint8(hairstyle_image)

        # 6. Recolour.
        final = hairstyle_image
        if conditions["color_target"] is not None:
            target = conditions["color_target"]
            if color_reference is not None:
                target = ColorTarget(reference_image=image_tensor(color_reference.crop, size, c.device))
            with timer("colour proxy"):
                result = color_proxy(
                    c, target, hairstyle_image, inversion.latent, features, config.color, rows, reporter, config.fast
                )
            final = result.image
            proxies.color_stage1 = to_uint8(result.stage1_image)

        # 7. Paste the new hair back into the whole photo.
        with timer("paste back"), torch.no_grad():
            hair_before = (source_parse.logits_full.argmax(1) == HAIR)[0].float().cpu().numpy()
            final_labels = c.parser(final).logits_full.argmax(1)[0]
            hair_after = (final_labels == HAIR).float().cpu().numpy()
            changed = np.maximum(hair_before, hair_after)
            if bald is not None:
                ears = (source_parse.logits_full.argmax(1) == EAR)[0].float().cpu().numpy()
                changed = np.maximum(changed, ears)
            if local_mask is not None:
                sketch_region = F.interpolate(local_mask, size=(size, size), mode="nearest")[0, 0].cpu().numpy()
                changed = np.maximum(changed, sketch_region)
            region = _grow(changed, max(1, round(size * EDIT_MARGIN_FRACTION)))
            crop_after = to_uint8(final)
            if size != CROP_SIZE_PX:
                crop_after = np.asarray(Image.fromarray(crop_after).resize((CROP_SIZE_PX,) * 2, Image.LANCZOS))
            whole = paste_back(photo_array, aligned, crop_after, region)
            crop_after = paste_back(aligned.crop, _identity_aligned(aligned), crop_after, region)
        masks = EditMasks(
            hair_before, hair_after, region,
            None if local_mask is None else F.interpolate(local_mask, size=(size, size))[0, 0].cpu().numpy(),
        )
        warnings = [OLD_HAIR_PAST_CROP] if old_hair_left_past_crop(hair_before, hair_after, aligned.transform) else []
        return EditResult(
            image=Image.fromarray(whole),
            crop_before=Image.fromarray(aligned.crop),
            crop_after=Image.fromarray(crop_after),
            proxies=proxies,
            masks=masks,
            timings=timer.timings,
            face_index=face,
            faces=faces,
            aligned=aligned,
            warnings=warnings,
        )

    def check_inputs(self, hairstyle, hairstyle_ref, sketch, mask, color, color_ref, rgb) -> dict:
        """Validate the conditions; returns the parsed ones. Raises InputError with the reason."""
        if hairstyle is not None and not str(hairstyle).strip():
            raise InputError("the hairstyle text is empty.")
        if color is not None and not str(color).strip():
            raise InputError("the colour text is empty.")
        if mask is not None and hairstyle is None and hairstyle_ref is None:
            raise InputError("a painted mask steers a text or reference hairstyle; give --hairstyle or --hairstyle-ref too.")
        if all(v is None for v in (hairstyle, hairstyle_ref, sketch, color, color_ref, rgb)):
            raise InputError(
                "nothing to do: give a hairstyle (text, reference photo or sketch) and/or a colour (text, reference "
                "photo or RGB)."
            )
        if hairstyle is not None and hairstyle_ref is not None:
            raise InputError(
                "a text hairstyle and a reference hairstyle cannot be combined: HairCLIPv2 blends one global hairstyle "
                "proxy. Choose one (a sketch can be added to either)."
            )
        if sum(v is not None for v in (color, color_ref, rgb)) > 1:
            raise InputError("give one colour: text, reference photo or RGB.")
        if hairstyle_ref is not None:
            load_photo(hairstyle_ref, "the hairstyle reference")
        if color_ref is not None:
            load_photo(color_ref, "the colour reference")
        parsed = {
            "sketch": load_sketch(sketch, self.config.sketch.canvas_px) if sketch is not None else None,
            "mask": load_mask(mask) if mask is not None else None,
            "color_target": None,
        }
        if color is not None:
            parsed["color_target"] = ColorTarget(text=str(color))
        elif rgb is not None:
            parsed["color_target"] = ColorTarget(rgb=parse_rgb(rgb))
        elif color_ref is not None:
            parsed["color_target"] = ColorTarget()  # filled with the aligned reference in stage 6
        return parsed

    def _config_for(self, preset: str | None, seed: int | None) -> EditConfig:
        config = self.config
        if preset is not None and preset != config.preset:
            config = EditConfig.preset_config(preset, base=config)
        if seed is not None:
            config = replace(config, seed=seed)
        return config


@contextlib.contextmanager
def _precision(config: EditConfig, components: Components):
    """Optional GPU speed-ups for one edit: mixed precision and compiled generator blocks.
    The editor is left as it was, so a later edit without ``compile`` runs the plain blocks."""
    with contextlib.ExitStack() as stack:
        if config.compile:
            stack.enter_context(_compiled_synthesis(components.generator, config.compile_backend))
        if config.autocast is not None:
            dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
            if config.autocast not in dtypes:
                raise InputError(f"autocast must be 'bf16' or 'fp16'. Got {config.autocast!r}")
            stack.enter_context(torch.autocast(components.device.type, dtype=dtypes[config.autocast]))
        yield


@contextlib.contextmanager
def _compiled_synthesis(generator, backend: str):
    """``generator.synthesis`` compiled for the time of one edit. The compiled function is kept
    per backend, so later compiled edits reuse its graphs instead of compiling again."""
    compiled = generator.__dict__.setdefault("_compiled_synthesis", {})
    if backend not in compiled:
        # Each block range, grad mode and noise kind is its own graph: a few dozen in all, more
        # than dynamo's default limit of 8.
        from torch import _dynamo

        _dynamo.config.recompile_limit = max(_dynamo.config.recompile_limit, 64)
        compiled[backend] = torch.compile(type(generator).synthesis.__get__(generator), backend=backend)
    generator.synthesis = compiled[backend]
    try:
        yield
    finally:
        generator.__dict__.pop("synthesis", None)  # the class's own method again


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _grow(mask: np.ndarray, margin_px: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin_px + 1, 2 * margin_px + 1))
    return cv2.dilate((mask > 0.5).astype(np.uint8), kernel).astype(np.float32)


def _identity_aligned(aligned: AlignedFace) -> AlignedFace:
    """The crop pasted into itself: the same blending, in crop coordinates."""
    from .face.align import CropTransform

    size = aligned.transform.size_px
    identity = CropTransform(np.array([[1.0, 0, 0], [0, 1.0, 0]]), size, (size, size))
    return AlignedFace(aligned.crop, identity, aligned.face)
