"""How a preset computes the edit's stages: one class per way, chosen once from the configuration.

The optimising presets (faithful, fast) invert the photo with II2S and optimise the text,
reference and colour proxies; the instant preset inverts with the e4e encoder and makes the
global and colour proxies with HairCLIP's mapper in one pass. Both offer the same interface
(:class:`ProxyStrategy`), so :class:`hairedit.edit_run.EditRun` reads as the paper's figure
whatever the preset. A new way (another encoder, another mapper) is one subclass and an entry
in :data:`STRATEGIES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import cv2
import torch

from . import seeding
from .conditions import Conditions
from .config import EditConfig, LatentRows
from .face.align import AlignedFace
from .labels import HAIR
from .photo_cache import PhotoState
from .progress import Reporter, StageTimer
from .stages.inversion import Inverter, image_tensor
from .stages.mapper import MapperCondition, mapper_latent, recoloured_hair, with_color_rows
from .stages.reference import reference_proxy
from .stages.text import text_proxy


@dataclass
class References:
    """The aligned reference photos an edit was given (None where not)."""

    hairstyle: AlignedFace | None = None
    color: AlignedFace | None = None


class ProxyStrategy(ABC):
    """The stages a preset computes its own way. One instance serves one edit (it may keep what
    one stage computed for a later one). ``networks``: the networks (names of
    :class:`hairedit.components.Components`' attributes) this way may use beyond every
    preset's; ``used``: those this edit did use (their loading warnings go with its result)."""

    networks: frozenset[str] = frozenset()
    uses_encoder = False  # the photo's W+ from an encoder instead of II2S
    replaces_loops: frozenset[str] = frozenset()  # optimisation loops (config.LOOPS' names) this way never runs

    def __init__(self, components, config: EditConfig, rows: LatentRows, cache, reporter: Reporter, timer: StageTimer):
        self.components, self.config, self.rows, self.cache = components, config, rows, cache
        self.reporter, self.timer = reporter, timer
        self.size = components.generator.size
        self.used: set[str] = set()

    @classmethod
    @abstractmethod
    def fits(cls, config: EditConfig) -> bool:
        """Whether ``config`` asks for this way."""

    def inverter(self) -> Inverter:
        """What inverts the photo (and a hairstyle reference): W+, then F and the fine rows."""
        config = self.config
        if self.uses_encoder:
            self.used.add("e4e")  # a cached inversion came from it too
        context = (config.autocast, config.compile and config.compile_backend, torch.__version__)  # the arithmetic
        return Inverter(self.components, config.inversion, self.rows, config.seed, self.cache, config.fast,
                        encoder=self.uses_encoder, cache_context=context)

    @abstractmethod
    def global_latent(self, photo: PhotoState, conditions: Conditions, references: References,
                      inverter: Inverter) -> torch.Tensor:
        """The global hairstyle proxy's W+ (from text or a reference), timed as its stages."""

    def painted_hair(self, conditions: Conditions) -> torch.Tensor | None:
        """Where blending takes the global proxy from a painted mask's hair (1, 1, p, p), or None."""
        return None

    @classmethod
    def mapper_conditions(cls, config: EditConfig) -> frozenset[str]:
        """The conditions (edit's option names) a mapper takes under ``config``: none here."""
        return frozenset()

    def color_latent(self, photo: PhotoState, conditions: Conditions, references: References) -> torch.Tensor | None:
        """A colour proxy's W+ made without optimisation (stage 1 skipped), or None to optimise it."""
        return None

    def painted_labels(self, conditions: Conditions) -> torch.Tensor | None:
        """The painted mask (1, p, p) long at the parser's size, for the proxies' mask loss."""
        if conditions.mask is None:
            return None
        p = self.components.parser.input_size_px
        labels = cv2.resize(conditions.mask, (p, p), interpolation=cv2.INTER_NEAREST)
        return torch.from_numpy(labels).long().unsqueeze(0).to(self.components.device)

    def image(self, aligned: AlignedFace | None) -> torch.Tensor | None:
        return None if aligned is None else image_tensor(aligned.crop, self.size, self.components.device)


class OptimisingProxies(ProxyStrategy):
    """The faithful and fast presets: II2S inversion; text and reference proxies optimised."""

    @classmethod
    def fits(cls, config: EditConfig) -> bool:
        return config.instant is None

    def global_latent(self, photo, conditions, references, inverter):
        config, timer = self.config, self.timer
        if conditions.hairstyle is not None:
            with timer("text proxy"):
                return text_proxy(
                    self.components, conditions.hairstyle, photo.source, config.text, self.rows, self.reporter,
                    self.painted_labels(conditions), seeding.stream(config.seed, seeding.TEXT_AUGMENTATIONS),
                    config.fast, seeding.stream(config.seed, seeding.TEXT_START),
                )
        reference = references.hairstyle
        with timer("reference inversion"):
            reference_latent = inverter.invert_w(reference.crop, self.reporter, "reference inversion")
        with timer("reference proxy"):
            return reference_proxy(
                self.components, reference_latent, self.image(reference), photo.source, config.reference, self.rows,
                self.reporter, self.painted_labels(conditions), config.fast,
            )


class MapperProxies(ProxyStrategy):
    """The instant preset: the e4e encoder inverts; HairCLIP's mapper makes the global proxy
    and a text or reference colour's proxy from the photo's W+, in one pass."""

    networks = frozenset({"e4e", "hairclip"})
    uses_encoder = True
    # The encoder inverts the photo, the mapper makes the text and reference proxies, whatever their step counts.
    replaces_loops = frozenset({"inversion (W+)", "text proxy", "reference proxy"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mapped: torch.Tensor | None = None  # the mapper's latent, hairstyle and colour together

    @classmethod
    def fits(cls, config: EditConfig) -> bool:
        return config.instant is not None

    def global_latent(self, photo, conditions, references, inverter):
        with self.timer("mapper proxy"):
            hairstyle = MapperCondition(conditions.hairstyle, self.image(references.hairstyle))
            self.mapped = self._mapper_latent(photo, hairstyle, self._mapper_color(photo, conditions, references))
        return self.mapped

    @classmethod
    def mapper_conditions(cls, config: EditConfig) -> frozenset[str]:
        # An RGB colour goes to the mapper (as the photo's hair recoloured) only where no
        # colour-proxy steps ask for the official loss instead.
        rgb = ("rgb",) if config.color.stage1_steps == 0 else ()
        return frozenset({"hairstyle", "hairstyle_ref", "color", "color_ref", *rgb})

    def painted_hair(self, conditions):
        # No optimisation steers the mapper's proxy to the painted hair: blending takes it there.
        if conditions.mask is None:
            return None
        return (self.painted_labels(conditions).unsqueeze(1) == HAIR).float()

    def color_latent(self, photo, conditions, references):
        color = self._mapper_color(photo, conditions, references)
        if color is None:
            return None
        if self.mapped is None:  # no hairstyle asked: the mapper for the colour alone
            self.mapped = self._mapper_latent(photo, None, color)
        return with_color_rows(photo.inversion.latent, self.mapped, self.rows.color)

    def _mapper_color(self, photo: PhotoState, conditions: Conditions, references: References):
        """The mapper's colour condition; None without a colour, or for an RGB colour when
        ``color.stage1_steps`` asks for the official loss instead."""
        if conditions.color is not None:
            return MapperCondition(text=conditions.color)
        if references.color is not None:
            return MapperCondition(image=self.image(references.color))
        if conditions.rgb is not None and "rgb" in self.mapper_conditions(self.config):
            return recoloured_hair(photo.source, (photo.labels_full == HAIR).float(), conditions.rgb)
        return None

    def _mapper_latent(self, photo: PhotoState, hairstyle, color) -> torch.Tensor:
        self.used.add("hairclip")
        return mapper_latent(self.components, photo.inversion.latent, hairstyle, color,
                             self.config.instant.mapper_strength)


# The ways, most specific first: the first that fits a configuration computes its edits.
STRATEGIES: tuple[type[ProxyStrategy], ...] = (MapperProxies, OptimisingProxies)


def strategy_for(config: EditConfig) -> type[ProxyStrategy]:
    return next(strategy for strategy in STRATEGIES if strategy.fits(config))
