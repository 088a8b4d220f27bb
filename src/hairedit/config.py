"""Typed configuration with the official HairCLIPv2 defaults.

Every number here is the one the official code uses for the 1024 px FFHQ generator.
The layers the method touches are named once, by resolution (:class:`LayerResolutions`),
and turned into W+ row ranges by :class:`StyleLayout`, so the same definitions also hold
for a small test generator (see :meth:`LayerResolutions.for_generator`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

OFFICIAL_SIZE_PX = 1024


@dataclass(frozen=True)
class StyleLayout:
    """Which W+ row drives which synthesis layer of a rosinality StyleGAN2 generator.

    conv1 (4 px) uses row 0 and to_rgb1 row 1; the block at resolution ``2**(k+2)``
    uses rows ``2k-1, 2k`` for its two convolutions and ``2k+1`` for its to_rgb.
    """

    size_px: int  # output resolution of the generator

    @property
    def n_latent(self) -> int:
        return 2 * (self.size_px.bit_length() - 1) - 2

    def conv_rows(self, resolution_px: int) -> range:
        """Rows used by the convolutions of the block at ``resolution_px``."""
        if resolution_px == 4:
            return range(0, 1)
        k = resolution_px.bit_length() - 3
        return range(2 * k - 1, 2 * k + 1)

    def block_rows(self, resolution_px: int) -> range:
        """Rows used by the block at ``resolution_px``, convolutions and to_rgb."""
        conv = self.conv_rows(resolution_px)
        return range(conv.start, conv.stop + 1)

    def conv_rows_between(self, low_px: int, high_px: int) -> range:
        """Rows of every convolution in the blocks ``low_px .. high_px`` (inclusive)."""
        return range(self.conv_rows(low_px).start, self.conv_rows(high_px).stop)

    def rows_from(self, resolution_px: int) -> range:
        """Every row used from the block at ``resolution_px`` to the output."""
        return range(self.conv_rows(resolution_px).start, self.n_latent)

    def rows_after_convs_of(self, resolution_px: int) -> range:
        """Every row after the convolutions of the block at ``resolution_px``."""
        return range(self.conv_rows(resolution_px).stop, self.n_latent)


@dataclass(frozen=True)
class LayerResolutions:
    """The generator layers HairCLIPv2 works in, by resolution (1024 px generator values)."""

    features_px: int = 32  # F space: features after this block carry the hairstyle
    color_features_px: int = 256  # colour stage 2 blends the features after this block
    color_low_px: int = 128  # colour stage 1 optimises the convs of blocks color_low_px..color_features_px

    def for_generator(self, size_px: int) -> LayerResolutions:
        """The same layers for a generator of ``size_px``, scaled by ``size_px / 1024``.

        Scaling keeps each layer at the same depth below the output. F never goes below
        8 px and the colour layers stay above F, so a 64 px test generator keeps every stage.
        """
        if size_px == OFFICIAL_SIZE_PX:
            return self
        scale = size_px / OFFICIAL_SIZE_PX
        features = max(8, int(self.features_px * scale))
        color = max(2 * features, int(self.color_features_px * scale))
        color = min(color, size_px // 2)
        color_low = max(2 * features, int(self.color_low_px * scale), color // 2)
        return LayerResolutions(features, color, color_low)

    def rows(self, size_px: int) -> LatentRows:
        return LatentRows.from_layout(StyleLayout(size_px), self.for_generator(size_px))


@dataclass(frozen=True)
class LatentRows:
    """W+ row ranges of each stage, derived from :class:`LayerResolutions`.

    For the 1024 px generator: coarse 0-6, bald 0-7, reference 0-5, FS 7-17,
    colour 9-12, colour stage 2 11-17.
    """

    coarse: range  # text proxy optimises these; FS keeps them frozen
    bald: range  # rows the bald mapper edits
    reference: range  # reference proxy optimises these
    fs_free: range  # FS inversion optimises these together with F
    color: range  # colour stage 1
    color_final: range  # colour stage 2, together with the colour features
    features_px: int
    color_features_px: int

    @classmethod
    def from_layout(cls, layout: StyleLayout, layers: LayerResolutions) -> LatentRows:
        coarse = layout.conv_rows_between(4, layers.features_px)
        return cls(
            coarse=coarse,
            bald=range(0, coarse.stop + 1),  # the coarse convs plus F's to_rgb
            reference=range(0, coarse.stop - 1),  # the coarse rows but F's last conv
            fs_free=layout.rows_after_convs_of(layers.features_px),
            color=layout.conv_rows_between(layers.color_low_px, layers.color_features_px),
            color_final=layout.rows_from(layers.color_features_px),
            features_px=layers.features_px,
            color_features_px=layers.color_features_px,
        )


@dataclass
class InversionConfig:
    """II2S W+ inversion followed by FS (Barbershop's Embedding)."""

    w_steps: int = 1100  # W+ optimisation steps
    fs_steps: int = 250  # F + W+ rows after F
    learning_rate: float = 0.01  # Adam
    l2_lambda: float = 1.0  # MSE at full resolution
    percept_lambda: float = 1.0  # LPIPS at 256 px
    p_norm_lambda: float = 0.001  # PCA-whitened latent prior
    lpips_size_px: int = 256  # for the 1024 px generator; scaled with it
    random_noise: bool = True  # the official inversion renders with fresh noise every step


@dataclass
class TextProxyConfig:
    steps: int = 200
    learning_rate: float = 0.01
    clip_lambda: float = 1.0
    landmark_lambda: float = 200.0  # jaw 0-16 and nose 27-35 heatmaps
    mask_lambda: float = 1.0  # painted mask cross-entropy
    augmentations: int = 8  # CLIP copies; the first unaugmented
    from_mean: bool = True  # start from the mean latent


@dataclass
class ReferenceProxyConfig:
    steps: int = 200
    learning_rate: float = 0.01
    style_lambda: float = 40000.0  # masked Gram loss at 256 px
    delta_lambda: float = 1000.0  # MSE of the optimised rows to their previous values
    landmark_lambda: float = 1000.0  # all 68 heatmaps
    mask_lambda: float = 1.0


@dataclass
class SketchProxyConfig:
    canvas_px: int = 512  # strokes are drawn on this canvas
    encoder_input_px: int = 256
    dilate_px: int = 30  # local blending mask: strokes dilated ...
    erode_px: int = 15  # ... then eroded


@dataclass
class BlendingConfig:
    bald_dilate_px: int = 30  # hair+ear mask grown for the bald features
    bald_erode_px: int = 15
    bald_alpha_scale: float = 1.2  # w_bald = w + 1.2 * alpha * mapper(w)


@dataclass
class ColorProxyConfig:
    stage1_steps: int = 100
    stage2_steps: int = 100
    learning_rate: float = 0.01
    clip_lambda: float = 1.0  # colour from text
    reference_lambda: float = 0.01  # mean Lab L1 against a reference photo's hair
    rgb_lambda: float = 0.003  # mean Lab L1 against a constant colour
    background_lambda: float = 10.0  # stage 1: MSE outside the hair of both images
    hair_mse_lambda: float = 500.0  # stage 2
    not_hair_mse_lambda: float = 10.0
    hair_lpips_lambda: float = 1.0
    mask_dilate_px: int = 30


@dataclass
class FastConfig:
    """What the fast preset changes; ``EditConfig().fast is None`` on the faithful path."""

    loss_px: int = 256  # image losses see the skip generator's image at this size (1024 px generator)
    plateau_patience: int = 20  # stop an optimisation when its loss has not improved ...
    plateau_tolerance: float = 1e-3  # ... by this fraction over that many steps

    def loss_px_for(self, size_px: int) -> int:
        return max(8, self.loss_px * size_px // OFFICIAL_SIZE_PX)


Preset = Literal["faithful", "fast"]


@dataclass
class EditConfig:
    """Every hyperparameter of an edit. ``EditConfig()`` is the official method."""

    preset: Preset = "faithful"
    seed: int = 0
    layers: LayerResolutions = field(default_factory=LayerResolutions)
    inversion: InversionConfig = field(default_factory=InversionConfig)
    text: TextProxyConfig = field(default_factory=TextProxyConfig)
    reference: ReferenceProxyConfig = field(default_factory=ReferenceProxyConfig)
    sketch: SketchProxyConfig = field(default_factory=SketchProxyConfig)
    blending: BlendingConfig = field(default_factory=BlendingConfig)
    color: ColorProxyConfig = field(default_factory=ColorProxyConfig)
    fast: FastConfig | None = None  # set by the fast preset
    autocast: str | None = None  # "bf16" or "fp16": mixed precision on GPU (faster, not bit-exact)
    compile: bool = False  # torch.compile the generator's blocks
    compile_backend: str = "inductor"

    def loss_px(self, size_px: int) -> int | None:
        """The synthesis size image losses are computed at; None = the full image (faithful)."""
        return None if self.fast is None else self.fast.loss_px_for(size_px)

    @classmethod
    def preset_config(cls, preset: str, base: EditConfig | None = None) -> EditConfig:
        """``base`` (default: the official settings) under ``preset``: "faithful" or "fast"."""
        base = base or cls()
        if preset == "faithful":
            return dataclasses.replace(base, preset="faithful")
        if preset == "fast":
            return _fast(base)
        raise ValueError(f"unknown preset '{preset}'; use 'faithful' or 'fast'")

    @classmethod
    def smoke(cls, steps: int = 3) -> EditConfig:
        """Every optimisation cut to ``steps`` steps: for trying the tool on random networks."""
        return cls.from_dict(
            {
                "inversion": {"w_steps": steps, "fs_steps": steps},
                "text": {"steps": steps},
                "reference": {"steps": steps},
                "color": {"stage1_steps": steps, "stage2_steps": steps},
            }
        )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EditConfig:
        """Build from a (nested) dict, e.g. parsed JSON; unknown keys are an error."""
        return _from_dict(cls, values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


JSON_VALUES = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}  # a field's type -> what it accepts


def _from_dict(kind: type, values: dict[str, Any], path: str = "") -> Any:
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"unknown {kind.__name__} settings: {sorted(unknown)}; known: {sorted(fields)}")
    hints = typing.get_type_hints(kind)
    return kind(**{name: _typed(hints[name], value, f"{path}{name}") for name, value in values.items()})


def _typed(hint: Any, value: Any, name: str) -> Any:
    """``value`` checked against the field's type ``hint`` (numbers other than the seed must
    not be negative)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    hint = next(option for option in options if option is not type(None))
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return _from_dict(hint, value, f"{name}.")
    if dataclasses.is_dataclass(hint) and isinstance(value, hint):
        return value
    if typing.get_origin(hint) is Literal:
        if value not in typing.get_args(hint):
            raise ValueError(f"unknown {name} {value!r}; choose from {', '.join(map(str, typing.get_args(hint)))}")
        return value
    expected = JSON_VALUES.get(hint)
    if expected is None or not isinstance(value, expected) or (hint is not bool and isinstance(value, bool)):
        wanted = "a settings object" if dataclasses.is_dataclass(hint) else getattr(hint, "__name__", str(hint))
        raise ValueError(f"{name} must be {wanted}" + (" or null" if len(options) > 1 else "") + f", not {value!r}")
    if hint in (int, float) and value < 0 and name != "seed":  # any integer seeds (modulo 2**32)
        raise ValueError(f"{name} must not be negative, not {value!r}")
    return float(value) if hint is float else value


def _fast(base: EditConfig) -> EditConfig:
    """The fast preset (README, "Presets"): the same stages and losses, with image losses on
    the generator's 256 px skip image instead of the 1024 px one, far fewer
    steps, and early stopping once a loss stops falling."""
    replace = dataclasses.replace
    return replace(
        base,
        preset="fast",
        fast=base.fast or FastConfig(),
        inversion=replace(base.inversion, w_steps=min(base.inversion.w_steps, 150),
                          fs_steps=min(base.inversion.fs_steps, 50)),
        text=replace(base.text, steps=min(base.text.steps, 50)),
        reference=replace(base.reference, steps=min(base.reference.steps, 50)),
        color=replace(base.color, stage1_steps=min(base.color.stage1_steps, 30),
                      stage2_steps=min(base.color.stage2_steps, 20)),
    )
