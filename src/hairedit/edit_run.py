"""One edit, stage by stage: the numbered steps of :meth:`hairedit.pipeline.HairEditor.edit`.

1. align the face (and any reference photo), 2. invert it, 3-4. the hairstyle proxies (bald,
a global one from text or a reference, a local one from a sketch), 5. blend the hairstyle in
F, 6. recolour, 7. paste the new hair back into the whole photo.
"""

from __future__ import annotations

import contextlib
import functools
import time
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import seeding
from .conditions import Conditions
from .config import EditConfig
from .face.align import AlignedFace, CropTransform, align_face
from .face.detect import choose_face, detect_faces
from .face.paste import old_hair_left_past_crop, paste_back
from .imageio import PhotoLike, read_photo
from .labels import EAR, HAIR
from .photo_cache import BaldState, PhotoState, photo_key
from .losses import hair_mask
from .progress import Reporter, to_uint8
from .result import EditMasks, EditResult, ProxyImages
from .stages.bald import bald_latent
from .stages.blending import blend_hairstyle, proxy_features, render_features
from .stages.color import ColorTarget, color_proxy
from .stages.inversion import Inverter, image_tensor
from .stages.mapper import MapperCondition, mapper_latent, recoloured_hair, with_color_rows
from .stages.reference import reference_proxy
from .stages.sketch import sketch_proxy
from .stages.text import text_proxy

if TYPE_CHECKING:
    from .pipeline import HairEditor

CROP_SIZE_PX = 1024
EDIT_MARGIN_FRACTION = 0.02  # the paste region reaches this far (of the crop side) past the hair
OLD_HAIR_PAST_CROP = (
    "the hair in the photo runs on past the edge of the face crop, and the new hair stops short of it there: "
    "hair outside the crop is never edited, so the old ends may still show beyond the new hair. For a large change "
    "of length, use a photo where the hair fits inside the face square (see docs/faces.md, 'Long hair past the crop')."
)


class _Stages:
    """Times an edit's stages. Through the reporter, stop is checked as each starts and ends,
    and its start and end are reported (``start``, ``end``): stages without optimisation steps
    stop and show too."""

    def __init__(self, reporter: Reporter):
        self.reporter = reporter
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str, start: bool = True, end: bool = True):
        began = time.perf_counter()
        with self.reporter.stage(stage, start, end):
            yield
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - began


class EditRun:
    """One edit's state, stage by stage (the numbered steps of :meth:`HairEditor.edit`)."""

    def __init__(self, editor: HairEditor, config: EditConfig, reporter: Reporter, preview: bool = False):
        self.editor, self.config, self.reporter = editor, config, reporter
        self.c = editor.components
        self.size = self.c.generator.size
        # A preview stops the result's synthesis at half the size (the 512 px layer), from the
        # same features as the full result.
        self.result_px = self.size // 2 if preview else None
        self.rows = config.layers.rows(self.size)
        self.timer = _Stages(reporter)
        self.instant = config.instant is not None
        self.mapped: torch.Tensor | None = None  # the instant preset's HairCLIP latent, hairstyle and colour
        self.networks_used: set[str] = set()  # the loaded networks whose warnings this edit's result carries

    def run(self, photo: PhotoLike, conditions: Conditions, face: int) -> EditResult:
        c, config, timer = self.c, self.config, self.timer
        # 1. Find and align the face; the references too. Bad input fails here, and fails before
        # any progress shows: only the stage's end is reported.
        # Steps 1-2 and the photo's parse are the per-photo work: an instant edit of a photo
        # edited before (the same face and settings) takes them from the editor's photo cache.
        inverter = self._inverter()
        with timer("align", start=False):
            photo_array, photo_info = read_photo(photo)
            key = self._photo_key(photo_array, face)
            state = self.editor.photo_cache.get(key) if key is not None else None
            photo_reused = state is not None
            if state is None:
                faces = detect_faces(photo_array)
                aligned = align_face(photo_array, choose_face(faces, face), CROP_SIZE_PX)
            hairstyle_ref = self._align(conditions.hairstyle_ref, "the hairstyle reference")
            color_ref = self._align(conditions.color_ref, "the colour reference")
        if state is None:
            state = self._photo_state(faces, aligned, inverter)
            if key is not None:
                self.editor.photo_cache.put(key, state)
        self.photo = state
        self.source, self.source_labels_full = state.source, state.source_labels_full
        source, inversion, aligned = state.source, state.inversion, state.aligned
        # The photo's own render, only for colour-only edits (their hairstyle image) and to show.
        reconstruction = functools.cache(
            lambda: render_features(c.generator, inversion.latent, inversion.features, self.rows.color_features_px))
        proxies = ProxyImages()
        proxies.defer("reconstruction", lambda: to_uint8(reconstruction()[0]))

        # 3-4. Hairstyle proxies: bald, then a global one (text or reference), a local one (sketch).
        bald = global_latent = local_latent = local_mask = bald_features = noise_state = None
        if conditions.global_hairstyle:
            bald, global_latent = self._global_proxies(conditions, inversion.latent, source, hairstyle_ref, color_ref,
                                                       inverter, proxies)
            bald_features, noise_state = bald.features, bald.noise_state
            bald = bald.latent
        if conditions.sketch is not None:
            with timer("sketch proxy"):
                local_latent, local_mask = sketch_proxy(c, conditions.sketch, config.sketch)
                proxies.defer("sketch", _render(c.generator, local_latent))

        # 5. Blend the hairstyle in F.
        features = inversion.features
        if global_latent is None and local_latent is None:
            hairstyle_image, colour_block = reconstruction()
        else:
            with timer("blending"):
                noise = self._blending_noise()
                if global_latent is not None and noise is not None:
                    noise.set_state(noise_state)  # the bald proxy's F drew first
                blend = blend_hairstyle(
                    c, inversion, state.source_labels, self.rows, config.blending, bald,
                    global_latent, local_latent, local_mask, noise, self._painted_hair(conditions),
                    bald_features if global_latent is not None else None,
                    None if conditions.recolours else self.result_px,
                )
            features, hairstyle_image, colour_block = blend.features, blend.image, blend.colour_block
            proxies.hairstyle_blend = to_uint8(hairstyle_image)
            if blend.global_image is not None:
                proxies.hairstyle = to_uint8(blend.global_image)
            elif global_latent is not None:
                proxies.defer("hairstyle", _render(c.generator, global_latent))

        # 6. Recolour.
        final = hairstyle_image
        if conditions.recolours:
            with timer("colour proxy"):
                result = color_proxy(
                    c, self._color_target(conditions, color_ref), hairstyle_image, inversion.latent, features,
                    config.color, self.rows, self.reporter, config.fast,
                    self._mapped_color_latent(conditions, inversion.latent, color_ref), colour_block,
                    self.result_px,
                )
            final = result.image
            if result.stage1_image is not None:
                proxies.color_stage1 = to_uint8(result.stage1_image)
            else:
                proxies.defer("color_stage1", _render(c.generator, result.color_latent, features))

        # 7. Paste the new hair back into the whole photo.
        with timer("paste back"), torch.no_grad():
            masks = self._edit_masks(final, bald is not None, local_mask)
            crop_after = to_uint8(final)
            if final.shape[-1] != CROP_SIZE_PX:
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
            faces=state.faces,
            aligned=aligned,
            warnings=self._warnings(masks, aligned),
            photo=photo_array,
            photo_info=photo_info,
            photo_reused=photo_reused,
        )

    # -- the stages' details ---------------------------------------------------------------

    def _align(self, reference: np.ndarray | None, name: str) -> AlignedFace | None:
        if reference is None:
            return None
        return align_face(reference, choose_face(detect_faces(reference), 0, name), CROP_SIZE_PX)

    def _photo_key(self, photo: np.ndarray, face: int) -> str | None:
        """The photo cache's key for this photo and face under this edit's settings; None where
        the photo cache is not used (presets other than instant: their edits take far longer
        than the per-photo work, and the inversion cache keeps the part that is long)."""
        if not self.instant or self.editor.photo_cache.max_bytes <= 0:
            return None
        c, config = self.c, self.config
        networks = (c.generator_fingerprint, c.e4e_fingerprint, c.parser_and_bald_fingerprint)
        settings = (config.inversion, config.fast, config.instant, config.layers, config.blending, config.seed,
                    config.autocast, config.compile and config.compile_backend, self.size)
        return photo_key(photo, face, settings, networks, torch.__version__, c.device.type)

    def _photo_state(self, faces, aligned: AlignedFace, inverter: Inverter) -> PhotoState:
        """2. Invert the photo: W+ (II2S, or the encoder in the instant preset), then F and the
        fine rows (FS); and parse it."""
        source = image_tensor(aligned.crop, self.size, self.c.device)
        # Not reported here: the inverter reports what it computes, a cached inversion nothing.
        with self.timer("inversion", start=False, end=False):
            inversion = inverter.invert(aligned.crop, self.reporter)
        with torch.no_grad():
            source_parse = self.c.parser(source)
            # Labels, not the parse's float logits (80 MB at 1024 px): at the parser's size for
            # blending; at the image's for paste-back's masks and an RGB colour's mapper reference.
            labels = source_parse.logits.argmax(1, keepdim=True)
            labels_full = source_parse.labels_full().to(torch.uint8)
        return PhotoState(faces, aligned, source, inversion, labels, labels_full)

    def _blending_noise(self) -> torch.Generator | None:
        """The stream the proxies' F draw their noise from, drawn bald, global, local in that
        order (the official fresh noise); None for the fixed noise."""
        if not self.config.blending.random_noise:
            return None
        return seeding.stream(self.config.seed, seeding.BLENDING_NOISE, self.c.device)

    def _bald(self, latent: torch.Tensor) -> BaldState:
        """The bald proxy and its F (the first F the blending noise draws), once per photo."""

        def compute() -> BaldState:
            c, config = self.c, self.config
            bald = bald_latent(c.bald_mapper, latent, self.rows, config.blending.bald_alpha_scale)
            noise = self._blending_noise()
            features = proxy_features(c.generator, bald, self.rows, noise)
            return BaldState(bald, features, None if noise is None else noise.get_state())

        computed = self.photo.bald is None
        bald = self.photo.bald_state(compute)
        if computed:
            self.editor.photo_cache.grew()
        return bald

    def _inverter(self) -> Inverter:
        config = self.config
        if self.instant:
            self.networks_used.add("e4e")  # a cached inversion came from it too
        context = (config.autocast, config.compile and config.compile_backend, torch.__version__)  # the arithmetic
        return Inverter(self.c, config.inversion, self.rows, config.seed, self.editor.cache, config.fast,
                        encoder=self.instant, cache_context=context)

    def _global_proxies(self, conditions: Conditions, latent, source, hairstyle_ref, color_ref, inverter, proxies):
        """The bald proxy (its image goes to ``proxies``) and the text or reference proxy."""
        c, config, timer = self.c, self.config, self.timer
        with timer("bald proxy"), torch.no_grad():
            bald = self._bald(latent)
            proxies.defer("bald", _render(c.generator, bald.latent))
        if self.instant:
            with timer("mapper proxy"):
                hairstyle = MapperCondition(conditions.hairstyle, self._image(hairstyle_ref))
                self.mapped = self._mapper_latent(latent, hairstyle, self._mapper_color(conditions, color_ref))
            global_latent = self.mapped
        elif conditions.hairstyle is not None:
            with timer("text proxy"):
                global_latent = text_proxy(
                    c, conditions.hairstyle, source, config.text, self.rows, self.reporter,
                    self._painted_labels(conditions), seeding.stream(config.seed, seeding.TEXT_AUGMENTATIONS),
                    config.fast, seeding.stream(config.seed, seeding.TEXT_START),
                )
        else:
            with timer("reference inversion"):
                reference_latent = inverter.invert_w(hairstyle_ref.crop, self.reporter, "reference inversion")
            with timer("reference proxy"):
                reference_image = image_tensor(hairstyle_ref.crop, self.size, c.device)
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
            return recoloured_hair(self.source, (self.source_labels_full == HAIR).float(), conditions.rgb)
        return None

    def _mapper_latent(self, latent, hairstyle: MapperCondition | None, color: MapperCondition | None):
        self.networks_used.add("hairclip")
        return mapper_latent(self.c, latent, hairstyle, color, self.config.instant.mapper_strength)

    def _mapped_color_latent(self, conditions: Conditions, latent, color_ref) -> torch.Tensor | None:
        """The instant preset's colour proxy (text or reference colour), from the mapper's
        latent; None where the colour proxy is optimised (other presets, RGB colours)."""
        if not self.instant:
            return None
        color = self._mapper_color(conditions, color_ref)
        if color is None:
            return None
        if self.mapped is None:  # no hairstyle asked: the mapper for the colour alone
            self.mapped = self._mapper_latent(latent, None, color)
        return with_color_rows(latent, self.mapped, self.rows.color)

    def _color_target(self, conditions: Conditions, color_ref: AlignedFace | None) -> ColorTarget:
        if conditions.color is not None:
            return ColorTarget(text=conditions.color)
        if conditions.rgb is not None:
            return ColorTarget(rgb=conditions.rgb)
        return ColorTarget(reference_image=image_tensor(color_ref.crop, self.size, self.c.device))

    def _edit_masks(self, final, bald_used: bool, local_mask) -> EditMasks:
        """Hair before and after, and the region paste-back may change: hair before or after,
        the ears where the bald proxy went, the sketch's region, grown by a margin."""
        size = self.size
        source_labels = self.source_labels_full[0, 0]
        hair_before = (source_labels == HAIR).float().cpu().numpy()
        hair_after = hair_mask(self.c.parser, final)
        if hair_after.shape[-1] != size:  # a preview's
            hair_after = F.interpolate(hair_after, size=(size, size), mode="nearest")
        hair_after = hair_after[0, 0].cpu().numpy()
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
        """What the user should know about the result: what loading the networks it used
        found, and old hair left past the crop (random networks say nothing about hair)."""
        warnings = [self.c.decoder_warnings[name] for name in sorted(self.networks_used)
                    if name in self.c.decoder_warnings]
        if self.c.pretrained and old_hair_left_past_crop(masks.hair_before, masks.hair_after, aligned.transform):
            warnings.append(OLD_HAIR_PAST_CROP)
        return warnings


def _render(generator, latent: torch.Tensor, start_features: torch.Tensor | None = None):
    """A proxy image rendered only when read (:meth:`ProxyImages.defer`)."""

    @torch.no_grad()
    def render():
        return to_uint8(generator.synthesis(latent, start_features=start_features).image)

    return render


def _grow(mask: np.ndarray, margin_px: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin_px + 1, 2 * margin_px + 1))
    return cv2.dilate((mask > 0.5).astype(np.uint8), kernel).astype(np.float32)


def _identity_aligned(aligned: AlignedFace) -> AlignedFace:
    """The crop pasted into itself: the same blending, in crop coordinates."""
    size = aligned.transform.size_px
    identity = CropTransform(np.array([[1.0, 0, 0], [0, 1.0, 0]]), size, (size, size))
    return AlignedFace(aligned.crop, identity, aligned.face)
