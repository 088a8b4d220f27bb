"""HairEditor: a photo in, the same photo with new hair out (HairCLIPv2).

``edit`` reads as the paper's figure: align the face, invert it, build the proxies, blend
the hairstyle in F, recolour, paste back into the whole photo.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import numpy as np
import torch

from .cache import InversionCache
from .cache import default_folder as default_cache_folder
from .components import Components
from .conditions import ALL_FACES, Conditions, check_conditions, parse_face
from .config import EditConfig, LatentRows
from .devices import resolve_device
from .edit_run import OLD_HAIR_PAST_CROP, EditRun
from .errors import InputError
from .every_face import edit_every_face
from .face.align import CROP_SIZE_PX, AlignedFace
from .face.detect import DetectedFace
from .imageio import PhotoLike, load_photo
from .photo_cache import PhotoCache
from .progress import ProgressBars, ProgressCallback, Reporter
from .result import EditMasks, EditResult, ProxyImages
from .stages.inversion import image_tensor
from .weights.registry import weights_dir as default_weights_dir

# What ``from hairedit.pipeline import ...`` has always offered, wherever it now lives.
__all__ = ["CROP_SIZE_PX", "OLD_HAIR_PAST_CROP", "EditMasks", "EditResult", "HairEditor", "ProxyImages"]

class HairEditor:
    """Owns the networks (loaded on first use), the configuration of every edit, the
    inversion cache (on disk) and the photo cache (in memory: a photo's per-photo work, so that
    another instant edit of it runs only what its conditions change)."""

    def __init__(self, components: Components, config: EditConfig | None = None, cache: InversionCache | None = None,
                 photo_cache: PhotoCache | None = None):
        self.components = components
        self.config = config or EditConfig()
        self.cache = cache
        self.photo_cache = photo_cache if photo_cache is not None else PhotoCache()
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
        """Small random networks of the official architectures: runs anywhere, needs no download,
        output meaningless. Without a ``config`` the smoke settings (``EditConfig.smoke()``, as
        ``--smoke``): every optimisation loop cut to a few steps. ``cache_dir``: where to keep
        inversions (default: none kept)."""
        components = Components.random(seed, size_px, resolve_device(device))
        return cls(components, config or EditConfig.smoke(),
                   InversionCache(cache_dir) if cache_dir is not None else None)

    def set_progress_bar_config(self, **options) -> None:
        """Options for the progress bars ``edit`` shows when given no callback (tqdm's
        keywords, e.g. ``disable=True`` to hide them, ``file=sys.stdout``)."""
        self._progress_bar_options = options

    # -- helpers the UI uses too -----------------------------------------------------------

    @property
    def rows(self) -> LatentRows:
        return self.config.layers.rows(self.components.generator.size)

    def detect_faces(self, photo: PhotoLike) -> list[DetectedFace]:
        """Every face in ``photo``, largest first; kept for the photo's edits
        (:class:`~hairedit.photo_cache.FoundFaces`)."""
        return self.photo_cache.found.faces(load_photo(photo))

    def align(self, photo: PhotoLike, face: int = 0, name: str = "the photo") -> AlignedFace:
        """Face ``face`` of ``photo`` aligned (its crop read-only); kept for the photo's edits."""
        return self.photo_cache.found.aligned(load_photo(photo, name), face, name)[1]

    @torch.no_grad()
    def parse(self, crop: np.ndarray) -> np.ndarray:
        """Labels (p, p) uint8 of an aligned crop at the parser's size, for painting masks."""
        image = image_tensor(crop, self.components.generator.size, self.components.device)
        return self.components.parser(image).logits.argmax(1)[0].to(torch.uint8).cpu().numpy()

    def check_inputs(self, hairstyle=None, hairstyle_ref=None, sketch=None, mask=None, color=None, color_ref=None,
                     rgb=None, config: EditConfig | None = None) -> Conditions:
        """Read and check the conditions (see :func:`~hairedit.conditions.check_conditions`)."""
        return check_conditions(hairstyle, hairstyle_ref, sketch, mask, color, color_ref, rgb,
                                (config or self.config).sketch.canvas_px)

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
        face: int | str = 0,
        preset: str | None = None,
        seed: int | None = None,
        config: EditConfig | None = None,
        callback: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        previews: bool = True,
        progress: bool | None = None,
        preview: bool = False,
    ) -> EditResult:
        """Edit the hair of face ``face`` (0 = largest; "all": every face in turn, see
        :mod:`hairedit.every_face`) in ``photo``; see the README for the modes.

        ``preset`` (default: this editor's) picks the preset, with this editor's overrides
        laid over it; ``seed`` (default: the configuration's) makes the edit reproducible: the
        same inputs, settings and seed give the same pixels. ``config`` replaces this editor's
        settings for this edit only (the networks stay loaded). Without a ``callback`` a progress
        bar per stage is shown on stderr (``progress=False`` or
        ``set_progress_bar_config(disable=True)`` hide them); ``callback`` gets a
        :class:`Progress` instead as each stage starts and ends and per optimisation step,
        about ten steps a stage with a preview image when ``previews``. ``cancel`` stops the
        edit with :class:`EditInterrupted` at the next step or stage. ``preview``: the edited
        crop is rendered at half the generator's size (its 512 px layer; a live preview), from the
        same features as the full result, and resized for pasting back.
        """
        # 0. Check every condition before any heavy work.
        config = self._config_for(preset, seed, config)
        conditions = self.check_inputs(hairstyle, hairstyle_ref, sketch, mask, color, color_ref, rgb, config)
        face = _face_choice(face)
        bars = None
        if callback is None and progress is not False and not self._progress_bar_options.get("disable"):
            bars = callback = ProgressBars(**self._progress_bar_options)

        def new_run() -> EditRun:
            return EditRun(self.components, config, self.cache, Reporter(callback, cancel, previews),
                           self.photo_cache, preview)

        try:
            with _precision(config, self.components):
                if face == ALL_FACES:
                    return edit_every_face(photo, new_run, conditions, self.photo_cache.found)
                return new_run().run(photo, conditions, face)
        finally:
            if bars is not None:
                bars.close()

    def prepare(self, photo: PhotoLike, face: int = 0, preset: str | None = None, seed: int | None = None,
                config: EditConfig | None = None) -> bool:
        """Do an edit's per-photo work now (finding and aligning face ``face``, the inversion, the
        parse, the bald proxy, the photo's hair past the crop) and keep it in the photo cache, so
        that the next edit of this photo with these settings only runs the per-condition stages
        (the UI does this as a photo is chosen). Returns whether it was kept: only the instant
        preset keeps per-photo work (the others' edits take far longer than it)."""
        config = self._config_for(preset, seed, config)
        face = _face_choice(face)
        if face == ALL_FACES:
            raise InputError("prepare takes one face's index (0 = the largest), not 'all'.")
        run = EditRun(self.components, config, self.cache, Reporter(None, None, False), self.photo_cache)
        with _precision(config, self.components):
            return run.prepare(photo, face)

    def load_networks(self, preset: str | None = None, config: EditConfig | None = None) -> None:
        """Load now every network an edit with ``preset`` (and ``config``; default: this editor's settings) may
        use; else each loads during the first edit that needs it. For timing edits (batch rows,
        eval's presets) and for failing on a missing file before long work."""
        self.components.load_for(self._config_for(preset, None, config))

    def _config_for(self, preset: str | None, seed: int | None, config: EditConfig | None = None) -> EditConfig:
        config = config or self.config
        if preset is not None:
            try:
                config = config.with_preset(preset)
            except ValueError as error:
                raise InputError(str(error)) from None
        return config if seed is None else config.with_seed(seed)


def _face_choice(face: int | str) -> int | str:
    """A face's index, or "all"; anything else is an InputError."""
    try:
        return parse_face(face)
    except ValueError as error:
        raise InputError(f"{error}.") from None


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
    """``generator.synthesis`` compiled for the time of compiled edits. The compiled function
    is kept per backend, so later compiled edits reuse its graphs instead of compiling again;
    edits running side by side (the UI) share it until the last of them ends."""
    with _COMPILING:
        compiled = generator.__dict__.setdefault("_compiled_synthesis", {})
        if backend not in compiled:
            # Each block range, grad mode and noise kind is its own graph: a few dozen in all, more
            # than dynamo's default limit of 8.
            from torch import _dynamo

            _dynamo.config.recompile_limit = max(_dynamo.config.recompile_limit, 64)
            compiled[backend] = torch.compile(type(generator).synthesis.__get__(generator), backend=backend)
        users = generator.__dict__.get("_compiled_users", 0)
        if users == 0:
            generator.synthesis = compiled[backend]
        generator._compiled_users = users + 1
    try:
        yield
    finally:
        with _COMPILING:
            generator._compiled_users -= 1
            if generator._compiled_users == 0:
                generator.__dict__.pop("synthesis", None)  # the class's own method again


_COMPILING = threading.Lock()
