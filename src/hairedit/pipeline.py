"""HairEditor: a photo in, the same photo with new hair out (HairCLIPv2).

``edit`` reads as the paper's figure: align the face, invert it, build the proxies, blend
the hairstyle in F, recolour, paste back into the whole photo.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import seeding
from .cache import InversionCache
from .cache import default_folder as default_cache_folder
from .components import Components
from .conditions import Conditions, check_conditions
from .config import EditConfig, LatentRows
from .devices import resolve_device
from .errors import InputError
from .face.align import AlignedFace, CropTransform, align_face
from .face.detect import DetectedFace, choose_face, detect_faces
from .face.paste import old_hair_left_past_crop, paste_back
from .imageio import PhotoLike, load_photo, read_photo
from .labels import EAR, HAIR
from .networks.e4e_encoder import e4e_input
from .progress import ProgressBars, ProgressCallback, Reporter, to_uint8
from .result import EditMasks, EditResult, ProxyImages
from .stages.bald import bald_latent
from .stages.blending import blend_hairstyle
from .stages.color import ColorTarget, color_proxy
from .stages.inversion import Inverter, image_tensor
from .stages.mapper import MapperCondition, mapper_latent, recoloured_hair, with_color_rows
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

__all__ = ["EditMasks", "EditResult", "HairEditor", "ProxyImages"]


class _Timer:
    def __init__(self):
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        yield
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start


class HairEditor:
    """Owns the networks (loaded on first use), the configuration of every edit and the
    inversion cache."""

    def __init__(self, components: Components, config: EditConfig | None = None, cache: InversionCache | None = None):
        self.components = components
        self.config = config or EditConfig()
        self.cache = cache
        self._progress_bar_options: dict = {}

    @classmethod
    def from_pretrained(
        cls,
        weights_dir: str | Path | None = None,
        device: str | torch.device | None = None,
        config: EditConfig | None = None,
        download: bool = True,
    ) -> HairEditor:
        """The official networks from ``weights_dir`` (default ``$HAIREDIT_HOME`` or
        ``~/.cache/hairedit``), each downloaded on first use when missing. ``device``: cpu,
        cuda, cuda:N or mps (default: the best available); one this machine lacks is refused."""
        folder = default_weights_dir(weights_dir)
        components = Components.pretrained(folder, resolve_device(device), download)
        return cls(components, config, InversionCache(default_cache_folder(folder)))

    @classmethod
    def from_random(
        cls,
        seed: int = 0,
        size_px: int = 64,
        device: str | torch.device | None = "cpu",
        config: EditConfig | None = None,
        cache_dir: str | Path | None = None,
    ) -> HairEditor:
        """Small random networks of the official architectures: runs anywhere, output meaningless."""
        components = Components.random(seed, size_px, resolve_device(device))
        return cls(components, config, InversionCache(cache_dir) if cache_dir is not None else None)

    def set_progress_bar_config(self, **options) -> None:
        """Options for the progress bars ``edit`` shows when given no callback (tqdm's
        keywords, e.g. ``disable=True`` to hide them, ``file=sys.stdout``)."""
        self._progress_bar_options = options

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

    def check_inputs(self, hairstyle=None, hairstyle_ref=None, sketch=None, mask=None, color=None, color_ref=None,
                     rgb=None) -> Conditions:
        """Read and check the conditions (see :func:`~hairedit.conditions.check_conditions`)."""
        return check_conditions(hairstyle, hairstyle_ref, sketch, mask, color, color_ref, rgb,
                                self.config.sketch.canvas_px)

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
        progress: bool | None = None,
    ) -> EditResult:
        """Edit the hair of face ``face`` (0 = largest) in ``photo``; see the README for the modes.

        ``preset`` (default: this editor's) picks the preset, with this editor's overrides
        laid over it; ``seed`` (default: the configuration's) makes the edit reproducible: the
        same inputs, settings and seed give the same pixels. Without a ``callback`` a progress
        bar per stage is shown on stderr (``progress=False`` or
        ``set_progress_bar_config(disable=True)`` hide them); ``callback`` gets a
        :class:`Progress` per optimisation step instead, about ten a stage with a preview
        image when ``previews``. ``cancel`` stops the edit with :class:`EditInterrupted` at
        the next step.
        """
        # 0. Check every condition before any heavy work.
        conditions = self.check_inputs(hairstyle, hairstyle_ref, sketch, mask, color, color_ref, rgb)
        config = self._config_for(preset, seed)
        bars = None
        if callback is None and progress is not False and not self._progress_bar_options.get("disable"):
            bars = callback = ProgressBars(**self._progress_bar_options)
        try:
            with _precision(config, self.components):
                run = _EditRun(self, config, Reporter(callback, cancel, previews))
                return run.run(photo, conditions, face)
        finally:
            if bars is not None:
                bars.close()

    def _config_for(self, preset: str | None, seed: int | None) -> EditConfig:
        config = self.config
        if preset is not None:
            try:
                config = config.with_preset(preset)
            except ValueError as error:
                raise InputError(str(error)) from None
        return config if seed is None else config.with_seed(seed)


class _EditRun:
    """One edit's state, stage by stage (the numbered steps of :meth:`HairEditor.edit`)."""

    def __init__(self, editor: HairEditor, config: EditConfig, reporter: Reporter):
        self.editor, self.config, self.reporter = editor, config, reporter
        self.c = editor.components
        self.size = self.c.generator.size
        self.rows = config.layers.rows(self.size)
        self.timer = _Timer()
        self.instant = config.instant is not None
        self.mapped: torch.Tensor | None = None  # the instant preset's HairCLIP latent, hairstyle and colour

    def run(self, photo: PhotoLike, conditions: Conditions, face: int) -> EditResult:
        c, config, timer = self.c, self.config, self.timer
        # 1. Find and align the face; the references too.
        with timer("align"):
            photo_array, photo_info = read_photo(photo)
            faces = detect_faces(photo_array)
            aligned = align_face(photo_array, choose_face(faces, face), CROP_SIZE_PX)
            source = image_tensor(aligned.crop, self.size, c.device)
            hairstyle_ref = self._align(conditions.hairstyle_ref, "the hairstyle reference")
            color_ref = self._align(conditions.color_ref, "the colour reference")
        self.reporter.check()

        # 2. Invert the photo: W+ (II2S, or the encoder in the instant preset), then F and the fine rows (FS).
        inverter = self._inverter()
        with timer("inversion"):
            encode = (lambda: c.e4e(e4e_input(aligned.crop, c.device))) if self.instant else None
            inversion = inverter.invert(aligned.crop, self.reporter, encode)
        with torch.no_grad():
            reconstruction = c.generator.synthesis(inversion.latent, start_features=inversion.features).image
            source_parse = c.parser(source)
        self.source, self.source_hair = source, (source_parse.logits_full.argmax(1, keepdim=True) == HAIR).float()
        proxies = ProxyImages(reconstruction=to_uint8(reconstruction))

        # 3-4. Hairstyle proxies: bald, then a global one (text or reference), a local one (sketch).
        bald = global_latent = local_latent = local_mask = None
        if conditions.global_hairstyle:
            bald, global_latent = self._global_proxies(conditions, inversion.latent, source, hairstyle_ref, color_ref,
                                                       inverter, proxies)
        if conditions.sketch is not None:
            with timer("sketch proxy"):
                local_latent, local_mask = sketch_proxy(c, conditions.sketch, config.sketch)
                with torch.no_grad():
                    proxies.sketch = to_uint8(c.generator(local_latent))

        # 5. Blend the hairstyle in F.
        features, hairstyle_image = inversion.features, reconstruction
        if global_latent is not None or local_latent is not None:
            with timer("blending"):
                noise = seeding.stream(config.seed, seeding.BLENDING_NOISE, c.device)
                blend = blend_hairstyle(
                    c, inversion, source_parse.logits.argmax(1, keepdim=True), self.rows, config.blending, bald,
                    global_latent, local_latent, local_mask, noise, self._painted_hair(conditions),
                )
            features, hairstyle_image = blend.features, blend.image
            proxies.hairstyle_blend = to_uint8(hairstyle_image)
            if global_latent is not None:
                with torch.no_grad():
                    global_image = blend.global_image if blend.global_image is not None else c.generator(global_latent)
                proxies.hairstyle = to_uint8(global_image)

        # 6. Recolour.
        final = hairstyle_image
        if conditions.recolours:
            with timer("colour proxy"):
                result = color_proxy(
                    c, self._color_target(conditions, color_ref), hairstyle_image, inversion.latent, features,
                    config.color, self.rows, self.reporter, config.fast,
                    self._mapped_color_latent(conditions, inversion.latent, color_ref),
                )
            final = result.image
            proxies.color_stage1 = to_uint8(result.stage1_image)

        # 7. Paste the new hair back into the whole photo.
        with timer("paste back"), torch.no_grad():
            masks = self._edit_masks(source_parse.logits_full, final, bald is not None, local_mask)
            crop_after = to_uint8(final)
            if self.size != CROP_SIZE_PX:
                crop_after = np.asarray(Image.fromarray(crop_after).resize((CROP_SIZE_PX,) * 2, Image.LANCZOS))
            whole = paste_back(photo_array, aligned, crop_after, masks.edit_region)
            crop_after = paste_back(aligned.crop, _identity_aligned(aligned), crop_after, masks.edit_region)
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
            warnings=self._warnings(masks, aligned),
            photo=photo_array,
            photo_info=photo_info,
        )

    # -- the stages' details ---------------------------------------------------------------

    def _align(self, reference: np.ndarray | None, name: str) -> AlignedFace | None:
        if reference is None:
            return None
        return align_face(reference, choose_face(detect_faces(reference), 0, name), CROP_SIZE_PX)

    def _inverter(self) -> Inverter:
        c, config, context = self.c, self.config, ()
        if self.editor.cache is not None:  # fingerprints cost a pass over the networks: only for the cache key
            context = (c.inversion_fingerprint, config.autocast, c.e4e_fingerprint if self.instant else None)
        return Inverter(
            c.generator, c.lpips, c.pca, c.mean_latent, config.inversion, self.rows, config.seed, self.editor.cache,
            config.fast, cache_context=context,
        )

    def _global_proxies(self, conditions: Conditions, latent, source, hairstyle_ref, color_ref, inverter, proxies):
        """The bald proxy (its image goes to ``proxies``) and the text or reference proxy."""
        c, config, timer = self.c, self.config, self.timer
        with timer("bald proxy"), torch.no_grad():
            bald = bald_latent(c.bald_mapper, latent, self.rows, config.blending.bald_alpha_scale)
            proxies.bald = to_uint8(c.generator(bald))
        if self.instant:
            with timer("mapper proxy"):
                hairstyle = MapperCondition(conditions.hairstyle, self._image(hairstyle_ref))
                self.mapped = mapper_latent(c, latent, hairstyle, self._mapper_color(conditions, color_ref),
                                            config.instant.mapper_strength)
            global_latent = self.mapped
        elif conditions.hairstyle is not None:
            with timer("text proxy"):
                augmentations = seeding.stream(config.seed, seeding.TEXT_AUGMENTATIONS)
                global_latent = text_proxy(
                    c, conditions.hairstyle, source, config.text, self.rows, self.reporter,
                    self._painted_labels(conditions), augmentations, config.fast,
                )
        else:
            with timer("reference proxy"):
                reference_image = image_tensor(hairstyle_ref.crop, self.size, c.device)
                reference_latent = inverter.invert_w(hairstyle_ref.crop, self.reporter, "reference inversion")
                global_latent = reference_proxy(
                    c, reference_latent, reference_image, source, config.reference, self.rows, self.reporter,
                    self._painted_labels(conditions), config.fast,
                )
        return bald, global_latent

    def _painted_labels(self, conditions: Conditions) -> torch.Tensor | None:
        """The painted mask (1, p, p) long at the parser's size, for the proxies' mask loss."""
        if conditions.mask is None:
            return None
        p = self.c.parser.input_size_px
        labels = cv2.resize(conditions.mask, (p, p), interpolation=cv2.INTER_NEAREST)
        return torch.from_numpy(labels).long().unsqueeze(0).to(self.c.device)

    def _painted_hair(self, conditions: Conditions) -> torch.Tensor | None:
        """The instant preset blends the global proxy where the mask's hair is painted (no
        optimisation steers the proxy to it)."""
        if not self.instant or conditions.mask is None:
            return None
        return (self._painted_labels(conditions).unsqueeze(1) == HAIR).float()

    def _image(self, aligned: AlignedFace | None) -> torch.Tensor | None:
        return None if aligned is None else image_tensor(aligned.crop, self.size, self.c.device)

    def _mapper_color(self, conditions: Conditions, color_ref: AlignedFace | None) -> MapperCondition | None:
        """The colour condition for the instant preset's mapper; None without a colour, or for an
        RGB colour when ``color.stage1_steps`` asks for the official loss instead."""
        if conditions.color is not None:
            return MapperCondition(text=conditions.color)
        if color_ref is not None:
            return MapperCondition(image=self._image(color_ref))
        if conditions.rgb is not None and self.config.color.stage1_steps == 0:
            return recoloured_hair(self.source, self.source_hair, conditions.rgb)
        return None

    def _mapped_color_latent(self, conditions: Conditions, latent, color_ref) -> torch.Tensor | None:
        """The instant preset's colour proxy (text or reference colour), from the mapper's
        latent; None where the colour proxy is optimised (other presets, RGB colours)."""
        color = self._mapper_color(conditions, color_ref)
        if not self.instant or color is None:
            return None
        if self.mapped is None:  # no hairstyle asked: the mapper for the colour alone
            self.mapped = mapper_latent(self.c, latent, None, color, self.config.instant.mapper_strength)
        return with_color_rows(latent, self.mapped, self.rows.color)

    def _color_target(self, conditions: Conditions, color_ref: AlignedFace | None) -> ColorTarget:
        if conditions.color is not None:
            return ColorTarget(text=conditions.color)
        if conditions.rgb is not None:
            return ColorTarget(rgb=conditions.rgb)
        return ColorTarget(reference_image=image_tensor(color_ref.crop, self.size, self.c.device))

    def _edit_masks(self, source_logits, final, bald_used: bool, local_mask) -> EditMasks:
        """Hair before and after, and the region paste-back may change: hair before or after,
        the ears where the bald proxy went, the sketch's region, grown by a margin."""
        size, parser = self.size, self.c.parser
        source_labels = source_logits.argmax(1)[0]
        hair_before = (source_labels == HAIR).float().cpu().numpy()
        hair_after = (parser(final).logits_full.argmax(1)[0] == HAIR).float().cpu().numpy()
        changed = np.maximum(hair_before, hair_after)
        if bald_used:
            changed = np.maximum(changed, (source_labels == EAR).float().cpu().numpy())
        sketch_region = None
        if local_mask is not None:
            sketch_region = F.interpolate(local_mask, size=(size, size), mode="nearest")[0, 0].cpu().numpy()
            changed = np.maximum(changed, sketch_region)
        region = _grow(changed, max(1, round(size * EDIT_MARGIN_FRACTION)))
        return EditMasks(hair_before, hair_after, region, sketch_region)

    def _warnings(self, masks: EditMasks, aligned: AlignedFace) -> list[str]:
        """What the user should know about the result: what loading the networks found, and
        old hair left past the crop (random networks say nothing about hair)."""
        warnings = list(self.c.warnings)
        if self.c.pretrained and old_hair_left_past_crop(masks.hair_before, masks.hair_after, aligned.transform):
            warnings.append(OLD_HAIR_PAST_CROP)
        return warnings


@contextlib.contextmanager
def _precision(config: EditConfig, components: Components):
    """Optional GPU speed-ups for one edit: mixed precision and compiled generator blocks."""
    generator = components.generator
    if config.compile and "synthesis" not in vars(generator):
        # Compiled once per editor. Each block range, grad mode and noise kind is its own graph:
        # a few dozen in all, more than dynamo's default limit of 8.
        from torch import _dynamo

        _dynamo.config.recompile_limit = max(_dynamo.config.recompile_limit, 64)
        generator.synthesis = torch.compile(generator.synthesis, backend=config.compile_backend)
    if config.autocast is None:
        yield
        return
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
    if config.autocast not in dtypes:
        raise InputError(f"autocast must be 'bf16' or 'fp16'. Got {config.autocast!r}")
    with torch.autocast(components.device.type, dtype=dtypes[config.autocast]):
        yield


def _grow(mask: np.ndarray, margin_px: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin_px + 1, 2 * margin_px + 1))
    return cv2.dilate((mask > 0.5).astype(np.uint8), kernel).astype(np.float32)


def _identity_aligned(aligned: AlignedFace) -> AlignedFace:
    """The crop pasted into itself: the same blending, in crop coordinates."""
    size = aligned.transform.size_px
    identity = CropTransform(np.array([[1.0, 0, 0], [0, 1.0, 0]]), size, (size, size))
    return AlignedFace(aligned.crop, identity, aligned.face)
