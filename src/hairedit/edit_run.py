"""One edit, stage by stage: the numbered steps of :meth:`hairedit.pipeline.HairEditor.edit`.

1. align the face (and any reference photo), 2. invert it, 3-4. the hairstyle proxies (bald,
a global one from text or a reference, a local one from a sketch), 5. blend the hairstyle in
F, 6. recolour, 7. paste the new hair back into the whole photo, 8. make the photo right past
the crop (hair that ran on past it, hair that now should: :mod:`hairedit.stages.whole_photo`).

Steps 1-2 and the bald proxy depend on the photo alone (:class:`~hairedit.photo_cache.PhotoState`,
kept for the instant preset's follow-up edits); the rest on what the edit asks for. Where a
preset computes a step its own way (the instant preset's encoder and mapper), its
:class:`~hairedit.strategies.ProxyStrategy` does it.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import seeding
from .conditions import Conditions
from .config import EditConfig
from .face.align import CROP_SIZE_PX, AlignedFace, CropTransform
from .face.paste import grow_edit_region, old_hair_left_past_crop, paste_back, region_in_photo
from .imageio import PhotoLike, read_photo
from .inpaint import choose_inpainter
from .labels import EAR, HAIR
from .losses import hair_mask
from .progress import Reporter, StageTimer, to_uint8
from .photo_cache import BaldState, PhotoCache, PhotoState, photo_key
from .result import EditMasks, EditResult, ProxyImages
from .stages.bald import bald_latent
from .stages.blending import blend_hairstyle, proxy_features, render_features
from .stages.color import ColorTarget, color_proxy
from .stages.inversion import image_tensor
from .stages.sketch import sketch_proxy
from .stages.whole_photo import parse_photo_hair, run_whole_photo
from .strategies import References, strategy_for

OLD_HAIR_PAST_CROP = (
    "the hair in the photo runs on past the edge of the face crop, and the new hair stops short of it there: "
    "with --inpaint none the hair outside the crop is not edited, so the old ends may still show beyond the new "
    "hair. Leave out --inpaint none to have them removed (see docs/faces.md, 'Long hair past the crop')."
)


class EditRun:
    """One edit's state, stage by stage (the numbered steps of :meth:`HairEditor.edit`)."""

    def __init__(self, components, config: EditConfig, cache, reporter: Reporter,
                 photo_cache: PhotoCache | None = None, preview: bool = False):
        self.components, self.config, self.reporter = components, config, reporter
        self.photo_cache = photo_cache if photo_cache is not None else PhotoCache(max_bytes=0)
        self.size = components.generator.size
        # A preview stops the result's synthesis at half the size (the 512 px layer), from the
        # same features as the full result.
        self.result_px = self.size // 2 if preview else None
        self.rows = config.layers.rows(self.size)
        self.timer = StageTimer(reporter)
        self.strategy = strategy_for(config)(components, config, self.rows, cache, reporter, self.timer)

    def run(self, photo: PhotoLike, conditions: Conditions, face: int) -> EditResult:
        components, config, timer, strategy = self.components, self.config, self.timer, self.strategy
        # 1. Find and align the face; the references too. Bad input fails here, and fails before
        # any progress shows: only the stage's end is reported.
        # The per-photo work of steps 1-2 (and the bald proxy) comes from the photo cache for a
        # photo edited before with the same face and settings (the instant preset's follow-ups).
        inverter = strategy.inverter()
        with timer("align", start=False):
            photo_array, photo_info = read_photo(photo)
            source, key = self._cached_photo(photo_array, face)
            photo_reused = source is not None
            if source is None:
                faces, aligned = self.photo_cache.found.aligned(photo_array, face)
            references = References(
                self._reference(conditions.hairstyle_ref, "the hairstyle reference"),
                self._reference(conditions.color_ref, "the colour reference"),
            )

        # 2. Invert the photo: W+ (II2S, or the preset's encoder), then F and the fine rows (FS); parse it.
        if source is None:
            source = self._invert(faces, aligned, inverter, key)
        aligned = source.aligned
        # The photo's own render: only colour-only edits need it (their hairstyle image); else shown when asked.
        reconstruction = functools.cache(lambda: render_features(
            components.generator, source.inversion.latent, source.inversion.features, self.rows.color_features_px))
        proxies = ProxyImages()
        proxies.defer("reconstruction", lambda: to_uint8(reconstruction()[0]))

        # 3-4. Hairstyle proxies: bald, then a global one (text or reference), a local one (sketch).
        bald = global_latent = local_latent = local_mask = None
        if conditions.global_hairstyle:
            with timer("bald proxy"):
                bald = self._bald(source)
                proxies.defer("bald", _render(components.generator, bald.latent))
            global_latent = strategy.global_latent(source, conditions, references, inverter)
        if conditions.sketch is not None:
            with timer("sketch proxy"):
                local_latent, local_mask = sketch_proxy(components, conditions.sketch, config.sketch)
                proxies.defer("sketch", _render(components.generator, local_latent))

        # 5. Blend the hairstyle in F.
        features = source.inversion.features
        if global_latent is None and local_latent is None:
            hairstyle_image, colour_block = reconstruction()
        else:
            with timer("blending"):
                noise = self._blending_noise()
                if global_latent is not None and noise is not None:
                    noise.set_state(bald.noise_state)  # the bald proxy's F drew first
                blend = blend_hairstyle(
                    components, source.inversion, source.labels, self.rows, config.blending,
                    None if bald is None else bald.latent, global_latent, local_latent, local_mask, noise,
                    strategy.painted_hair(conditions), None if global_latent is None else bald.features,
                    None if conditions.recolours else self.result_px,
                )
            features, hairstyle_image, colour_block = blend.features, blend.image, blend.colour_block
            proxies.hairstyle_blend = to_uint8(hairstyle_image)
            if blend.global_image is not None:
                proxies.hairstyle = to_uint8(blend.global_image)
            elif global_latent is not None:
                proxies.defer("hairstyle", _render(components.generator, global_latent))

        # 6. Recolour.
        final = hairstyle_image
        if conditions.recolours:
            with timer("colour proxy"):
                result = color_proxy(
                    components, self._color_target(conditions, references), hairstyle_image, source.inversion.latent,
                    features, config.color, self.rows, self.reporter, config.fast,
                    strategy.color_latent(source, conditions, references), colour_block, self.result_px,
                )
            final = result.image
            if result.stage1_image is not None:
                proxies.color_stage1 = to_uint8(result.stage1_image)
            else:
                proxies.defer("color_stage1", _render(components.generator, result.color_latent, features))

        # 7. Paste the new hair back into the whole photo.
        with timer("paste back"), torch.no_grad():
            masks = self._edit_masks(source, final, bald is not None, local_mask)
            crop_after = to_uint8(final)
            if final.shape[-1] != CROP_SIZE_PX:
                crop_after = np.asarray(Image.fromarray(crop_after).resize((CROP_SIZE_PX,) * 2, Image.LANCZOS))
            whole = paste_back(photo_array, aligned, crop_after, masks.edit_region)
            crop_after = paste_back(aligned.crop, _identity_aligned(aligned), crop_after, masks.edit_region)

        # 8. The whole photo: old hair past the crop removed, longer hair continued (docs/faces.md).
        with timer("whole photo"), torch.no_grad():
            whole, masks, whole_photo_warning = self._whole_photo(photo_array, whole, source, masks, crop_after)
        return EditResult(
            image=Image.fromarray(whole),
            crop_before=Image.fromarray(aligned.crop),
            crop_after=Image.fromarray(crop_after),
            proxies=proxies,
            masks=masks,
            timings=timer.timings,
            face_index=face,
            faces=source.faces,
            aligned=aligned,
            warnings=self._warnings(masks, aligned) + whole_photo_warning,
            photo=photo_array,
            photo_info=photo_info,
            photo_reused=photo_reused,
        )

    # -- the stages' details ---------------------------------------------------------------

    def prepare(self, photo: PhotoLike, face: int) -> bool:
        """The per-photo work alone, into the photo cache, so that the next edit of this photo
        and face is a follow-up: steps 1-2, the bald proxy and the photo's hair past the crop.
        False (nothing done) where this edit's settings keep no photo state (see :meth:`_photo_key`)."""
        photo_array, _ = read_photo(photo)
        source, key = self._cached_photo(photo_array, face)
        if key is None:
            return False
        if source is None:
            source = self._invert(*self.photo_cache.found.aligned(photo_array, face), self.strategy.inverter(), key)
        with torch.no_grad():
            self._bald(source)
            self._photo_hair(photo_array, source)
        return True

    def _reference(self, reference: np.ndarray | None, name: str) -> AlignedFace | None:
        """A reference photo's largest face, aligned (step 1)."""
        return None if reference is None else self.photo_cache.found.aligned(reference, 0, name)[1]

    def _cached_photo(self, photo: np.ndarray, face: int) -> tuple[PhotoState | None, str | None]:
        """The photo's state from the photo cache (None where not there) and its key (None where
        the cache is not used)."""
        key = self._photo_key(photo, face)
        return (self.photo_cache.get(key) if key is not None else None), key

    def _photo_key(self, photo: np.ndarray, face: int) -> str | None:
        """The photo cache's key for this photo and face under this edit's settings; None where
        the photo cache is not used (presets that optimise: their edits take far longer than the
        per-photo work, and the inversion cache keeps the part of it that is long)."""
        if self.config.instant is None or self.photo_cache.max_bytes <= 0:
            return None
        components, config = self.components, self.config
        networks = (components.generator_fingerprint, components.e4e_fingerprint,
                    components.parser_and_bald_fingerprint)
        settings = (config.inversion, config.fast, config.instant, config.layers, config.blending, config.seed,
                    config.autocast, config.compile and config.compile_backend, self.size)
        return photo_key(photo, face, settings, networks, torch.__version__, components.device.type)

    def _invert(self, faces, aligned: AlignedFace, inverter, key: str | None) -> PhotoState:
        """Step 2: the photo's inversion and parse, kept in the photo cache under ``key`` (None:
        not kept). Not reported as a stage: the inverter reports what it computes, a cached
        inversion nothing."""
        components = self.components
        with self.timer("inversion", start=False, end=False):
            inversion = inverter.invert(aligned.crop, self.reporter)
        with torch.no_grad():
            source = image_tensor(aligned.crop, self.size, components.device)
            parse = components.parser(source)
            # Labels, not the parse's float logits (80 MB at 1024 px).
            labels = parse.logits.argmax(1, keepdim=True)
            labels_full = parse.labels_full().to(torch.uint8)
        state = PhotoState(faces, aligned, source, inversion, labels, labels_full)
        if key is not None:
            self.photo_cache.put(key, state)
        return state

    def _blending_noise(self) -> torch.Generator | None:
        """The stream the proxies' F draw their noise from, drawn bald, global, local in that
        order (the official fresh noise); None for the fixed noise."""
        if not self.config.blending.random_noise:
            return None
        return seeding.stream(self.config.seed, seeding.BLENDING_NOISE, self.components.device)

    def _bald(self, photo: PhotoState) -> BaldState:
        """The bald proxy and its F (the first F the blending noise draws), once per photo."""

        def compute() -> BaldState:
            components, config = self.components, self.config
            bald = bald_latent(components.bald_mapper, photo.inversion.latent, self.rows,
                               config.blending.bald_alpha_scale)
            noise = self._blending_noise()
            features = proxy_features(components.generator, bald, self.rows, noise)
            return BaldState(bald, features, None if noise is None else noise.get_state())

        computed = photo.bald is None
        bald = photo.bald_state(compute)
        if computed:
            self.photo_cache.grew()
        return bald

    def _photo_hair(self, photo: np.ndarray, source: PhotoState) -> np.ndarray:
        """The photo's hair around and below the crop (step 8's window parse), once per photo."""
        computed = source.hair_in_photo is None
        hair = source.photo_hair(lambda: parse_photo_hair(photo, source.aligned.transform, self.components.parser))
        if computed:
            self.photo_cache.grew()
        return hair

    def _color_target(self, conditions: Conditions, references: References) -> ColorTarget:
        if conditions.color is not None:
            return ColorTarget(text=conditions.color)
        if conditions.rgb is not None:
            return ColorTarget(rgb=conditions.rgb)
        return ColorTarget(reference_image=image_tensor(references.color.crop, self.size, self.components.device))

    def _edit_masks(self, source: PhotoState, final, bald_used: bool, local_mask) -> EditMasks:
        """Hair before and after, and the region paste-back may change: hair before or after,
        the ears where the bald proxy went, the sketch's region, grown by a margin."""
        size = self.size
        source_labels = source.labels_full[0, 0]
        hair_before = (source_labels == HAIR).float().cpu().numpy()
        hair_after = hair_mask(self.components.parser, final)
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
        region = grow_edit_region(changed > 0.5).astype(np.float32)
        return EditMasks(hair_before, hair_after, region, sketch_region)

    def _warnings(self, masks: EditMasks, aligned: AlignedFace) -> list[str]:
        """What the user should know about the result: what loading the networks it used
        found, and old hair left past the crop (random networks say nothing about hair)."""
        components = self.components
        warnings = [components.decoder_warnings[name] for name in sorted(self.strategy.used)
                    if name in components.decoder_warnings]
        # Only where nothing past the crop is edited; else the whole-photo step removed the old ends.
        inpaint_none = self.config.whole_photo.inpaint == "none"
        if inpaint_none and components.pretrained and old_hair_left_past_crop(
            masks.hair_before, masks.hair_after, aligned.transform
        ):
            warnings.append(OLD_HAIR_PAST_CROP)
        return warnings

    def _whole_photo(self, photo, pasted, source: PhotoState, masks: EditMasks, crop_after):
        """Step 8: the photo, the masks with the step's own added, and a warning when OpenCV had
        to fill in for a missing LaMa file (said only where it did fill something)."""
        settings, aligned = self.config.whole_photo, source.aligned
        inpainter = choose_inpainter(settings.inpaint, lambda: self.components.lama)
        outcome = run_whole_photo(pasted, aligned, masks.hair_before, masks.hair_after, crop_after,
                                  self._photo_hair(photo, source), inpainter, settings.hair_length_px)
        masks = dataclasses.replace(
            masks, paste_region=region_in_photo(masks.edit_region, aligned.transform, CROP_SIZE_PX),
            hair_photo_before=outcome.masks.hair_before, hair_photo_after=outcome.masks.hair_after,
            inpaint_region=outcome.masks.inpaint_region,
        )
        fallback = getattr(inpainter, "warning", None)  # set only where a hole was filled
        return outcome.image, masks, [fallback] if fallback is not None else []


def _render(generator, latent: torch.Tensor, start_features: torch.Tensor | None = None):
    """A proxy image rendered only when read (:meth:`ProxyImages.defer`)."""

    @torch.no_grad()
    def render():
        return to_uint8(generator.synthesis(latent, start_features=start_features).image)

    return render


def _identity_aligned(aligned: AlignedFace) -> AlignedFace:
    """The crop pasted into itself: the same blending, in crop coordinates."""
    size = aligned.transform.size_px
    identity = CropTransform(np.array([[1.0, 0, 0], [0, 1.0, 0]]), size, (size, size))
    return AlignedFace(aligned.crop, identity, aligned.face)
