"""One edit, stage by stage: the numbered steps of :meth:`hairedit.pipeline.HairEditor.edit`.

1. align the face (and any reference photo), 2. invert it, 3-4. the hairstyle proxies (bald,
a global one from text or a reference, a local one from a sketch), 5. blend the hairstyle in
F, 6. recolour, 7. paste the new hair back into the whole photo, 8. make the photo right past
the crop (hair that ran on past it, hair that now should: :mod:`hairedit.stages.whole_photo`).

Steps 1-2 and the bald proxy depend on the photo alone (:class:`~hairedit.strategies.PhotoState`);
the rest on what the edit asks for. Where a preset computes a step its own way (the instant
preset's encoder and mapper), its :class:`~hairedit.strategies.ProxyStrategy` does it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import seeding
from .conditions import Conditions
from .config import EditConfig
from .face.align import CROP_SIZE_PX, AlignedFace, CropTransform, align_face
from .face.detect import choose_face, detect_faces
from .face.paste import grow_edit_region, old_hair_left_past_crop, paste_back, region_in_photo
from .imageio import PhotoLike, read_photo
from .inpaint import choose_inpainter
from .labels import EAR, HAIR
from .losses import hair_mask
from .progress import Reporter, StageTimer, to_uint8
from .result import EditMasks, EditResult, ProxyImages
from .stages.bald import bald_latent
from .stages.blending import blend_hairstyle
from .stages.color import ColorTarget, color_proxy
from .stages.inversion import image_tensor
from .stages.sketch import sketch_proxy
from .stages.whole_photo import run_whole_photo
from .strategies import PhotoState, References, strategy_for

OLD_HAIR_PAST_CROP = (
    "the hair in the photo runs on past the edge of the face crop, and the new hair stops short of it there: "
    "with --inpaint none the hair outside the crop is not edited, so the old ends may still show beyond the new "
    "hair. Leave out --inpaint none to have them removed (see docs/faces.md, 'Long hair past the crop')."
)


class EditRun:
    """One edit's state, stage by stage (the numbered steps of :meth:`HairEditor.edit`)."""

    def __init__(self, components, config: EditConfig, cache, reporter: Reporter):
        self.components, self.config, self.reporter = components, config, reporter
        self.size = components.generator.size
        self.rows = config.layers.rows(self.size)
        self.timer = StageTimer(reporter)
        self.strategy = strategy_for(config)(components, config, self.rows, cache, reporter, self.timer)

    def run(self, photo: PhotoLike, conditions: Conditions, face: int) -> EditResult:
        components, config, timer, strategy = self.components, self.config, self.timer, self.strategy
        # 1. Find and align the face; the references too. Bad input fails here, and fails before
        # any progress shows: only the stage's end is reported.
        with timer("align", start=False):
            photo_array, photo_info = read_photo(photo)
            faces = detect_faces(photo_array)
            aligned = align_face(photo_array, choose_face(faces, face), CROP_SIZE_PX)
            references = References(
                _align(conditions.hairstyle_ref, "the hairstyle reference"),
                _align(conditions.color_ref, "the colour reference"),
            )

        # 2. Invert the photo: W+ (II2S, or the preset's encoder), then F and the fine rows (FS); parse it.
        inverter = strategy.inverter()
        source = self._invert(aligned, inverter)
        proxies = ProxyImages(reconstruction=to_uint8(source.reconstruction))

        # 3-4. Hairstyle proxies: bald, then a global one (text or reference), a local one (sketch).
        bald = global_latent = local_latent = local_mask = None
        if conditions.global_hairstyle:
            with timer("bald proxy"), torch.no_grad():
                bald = bald_latent(components.bald_mapper, source.inversion.latent, self.rows,
                                   config.blending.bald_alpha_scale)
                proxies.bald = to_uint8(components.generator(bald))
            global_latent = strategy.global_latent(source, conditions, references, inverter)
        if conditions.sketch is not None:
            with timer("sketch proxy"):
                local_latent, local_mask = sketch_proxy(components, conditions.sketch, config.sketch)
                with torch.no_grad():
                    proxies.sketch = to_uint8(components.generator(local_latent))

        # 5. Blend the hairstyle in F.
        features, hairstyle_image = source.inversion.features, source.reconstruction
        if global_latent is not None or local_latent is not None:
            with timer("blending"):
                noise = seeding.stream(config.seed, seeding.BLENDING_NOISE, components.device)
                blend = blend_hairstyle(
                    components, source.inversion, source.labels, self.rows, config.blending, bald,
                    global_latent, local_latent, local_mask, noise, strategy.painted_hair(conditions),
                )
            features, hairstyle_image = blend.features, blend.image
            proxies.hairstyle_blend = to_uint8(hairstyle_image)
            if global_latent is not None:
                with torch.no_grad():
                    global_image = blend.global_image
                    if global_image is None:
                        global_image = components.generator(global_latent)
                proxies.hairstyle = to_uint8(global_image)

        # 6. Recolour.
        final = hairstyle_image
        if conditions.recolours:
            with timer("colour proxy"):
                result = color_proxy(
                    components, self._color_target(conditions, references), hairstyle_image, source.inversion.latent,
                    features, config.color, self.rows, self.reporter, config.fast,
                    strategy.color_latent(source, conditions, references),
                )
            final = result.image
            proxies.color_stage1 = to_uint8(result.stage1_image)

        # 7. Paste the new hair back into the whole photo.
        with timer("paste back"), torch.no_grad():
            masks = self._edit_masks(source, final, bald is not None, local_mask)
            crop_after = to_uint8(final)
            if self.size != CROP_SIZE_PX:
                crop_after = np.asarray(Image.fromarray(crop_after).resize((CROP_SIZE_PX,) * 2, Image.LANCZOS))
            whole = paste_back(photo_array, aligned, crop_after, masks.edit_region)
            crop_after = paste_back(aligned.crop, _identity_aligned(aligned), crop_after, masks.edit_region)

        # 8. The whole photo: old hair past the crop removed, longer hair continued (docs/faces.md).
        with timer("whole photo"), torch.no_grad():
            whole, masks, whole_photo_warning = self._whole_photo(photo_array, whole, aligned, masks, crop_after)
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
            warnings=self._warnings(masks, aligned) + whole_photo_warning,
            photo=photo_array,
            photo_info=photo_info,
        )

    # -- the stages' details ---------------------------------------------------------------

    def _invert(self, aligned: AlignedFace, inverter) -> PhotoState:
        """Step 2: the photo's inversion and parse. Not reported as a stage: the inverter reports
        what it computes, a cached inversion nothing."""
        components = self.components
        with self.timer("inversion", start=False, end=False):
            inversion = inverter.invert(aligned.crop, self.reporter)
        with torch.no_grad():
            source = image_tensor(aligned.crop, self.size, components.device)
            reconstruction = components.generator.synthesis(inversion.latent, start_features=inversion.features).image
            parse = components.parser(source)
            # Labels, not the parse's float logits (80 MB at 1024 px).
            labels = parse.logits.argmax(1, keepdim=True)
            labels_full = parse.logits_full.argmax(1, keepdim=True).to(torch.uint8)
        return PhotoState(aligned, source, inversion, reconstruction, labels, labels_full)

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
        hair_after = hair_mask(self.components.parser, final)[0, 0].cpu().numpy()
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

    def _whole_photo(self, photo, pasted, aligned: AlignedFace, masks: EditMasks, crop_after):
        """Step 8: the photo, the masks with the step's own added, and a warning when OpenCV had
        to fill in for a missing LaMa file (said only where it did fill something)."""
        settings = self.config.whole_photo
        generator = self.components.lama if settings.inpaint == "lama" else None
        inpainter, fallback = choose_inpainter(settings.inpaint, generator)
        outcome = run_whole_photo(photo, pasted, aligned, masks.hair_before, masks.hair_after, crop_after,
                                  self.components.parser, inpainter, settings.hair_length_px)
        masks = dataclasses.replace(
            masks, paste_region=region_in_photo(masks.edit_region, aligned.transform, CROP_SIZE_PX),
            hair_photo_before=outcome.masks.hair_before, hair_photo_after=outcome.masks.hair_after,
            inpaint_region=outcome.masks.inpaint_region,
        )
        filled = outcome.masks.inpaint_region.any()
        return outcome.image, masks, [fallback] if fallback is not None and filled else []


def _align(reference: np.ndarray | None, name: str) -> AlignedFace | None:
    if reference is None:
        return None
    return align_face(reference, choose_face(detect_faces(reference), 0, name), CROP_SIZE_PX)


def _identity_aligned(aligned: AlignedFace) -> AlignedFace:
    """The crop pasted into itself: the same blending, in crop coordinates."""
    size = aligned.transform.size_px
    identity = CropTransform(np.array([[1.0, 0, 0], [0, 1.0, 0]]), size, (size, size))
    return AlignedFace(aligned.crop, identity, aligned.face)
