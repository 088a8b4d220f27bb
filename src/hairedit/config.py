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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class TextProxyConfig:
    steps: int = 200
    learning_rate: float = 0.01
    clip_lambda: float = 1.0
    landmark_lambda: float = 200.0  # jaw 0-16 and nose 27-35 heatmaps
    mask_lambda: float = 1.0  # painted mask cross-entropy
    augmentations: int = 8  # CLIP copies; the first unaugmented
    from_mean: bool = True  # start from the mean latent; False: a random one (seeded), truncated towards it
    start_truncation: float = 0.3  # how far towards the mean a random start is pulled (official 0.3)


@dataclass(frozen=True)
class ReferenceProxyConfig:
    steps: int = 200
    learning_rate: float = 0.01
    style_lambda: float = 40000.0  # masked Gram loss at 256 px
    delta_lambda: float = 1000.0  # MSE of the optimised rows to their previous values
    landmark_lambda: float = 1000.0  # all 68 heatmaps
    mask_lambda: float = 1.0


@dataclass(frozen=True)
class SketchProxyConfig:
    canvas_px: int = 512  # strokes are drawn on this canvas
    encoder_input_px: int = 256
    dilate_px: int = 30  # local blending mask: strokes dilated ...
    erode_px: int = 15  # ... then eroded


@dataclass(frozen=True)
class BlendingConfig:
    bald_dilate_px: int = 30  # hair+ear mask grown for the bald features
    bald_erode_px: int = 15
    bald_alpha_scale: float = 1.2  # w_bald = w + 1.2 * alpha * mapper(w)
    random_noise: bool = True  # the official blending computes the proxies' F with fresh noise


@dataclass(frozen=True)
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
    # Official: stage 1 parses every step's image for its masks (argmax: no gradient flows through
    # them). False: the hairstyle image's masks, parsed once.
    reparse_each_step: bool = True


@dataclass(frozen=True)
class FastConfig:
    """What the fast preset changes; ``EditConfig().fast is None`` on the faithful path."""

    loss_px: int = 256  # image losses see the skip generator's image at this size (1024 px generator)
    plateau_patience: int = 20  # stop an optimisation when its loss has not improved ...
    plateau_tolerance: float = 1e-3  # ... by this fraction over that many steps

    def loss_px_for(self, size_px: int) -> int:
        return max(8, self.loss_px * size_px // OFFICIAL_SIZE_PX)


@dataclass(frozen=True)
class InstantConfig:
    """What the instant preset changes: trained networks instead of optimisation.

    The photo is inverted by the e4e encoder (``inversion.fs_steps`` FS refinement steps
    after it, 0 by default); text and reference hairstyles and colours come from one forward
    pass of HairCLIP's mapper; an RGB colour, which no trained network takes, is given to the
    mapper as a colour reference: the photo's own hair recoloured to it (or, with
    ``color.stage1_steps`` above 0, that many steps of the official colour loss, the hairstyle
    image's masks parsed once); a painted mask is the global proxy's blending mask as painted;
    colour blending is the official feature blend, rendered on without the stage-2
    optimisation.
    """

    mapper_strength: float = 0.1  # HairCLIP's w_hat = w + 0.1 * mapper(w, ...)


SMOKE_STEPS = 3  # --smoke's cap on every optimisation loop (random networks: a few steps show it all runs)

Preset = Literal["faithful", "fast", "instant"]
PRESETS: tuple[str, ...] = typing.get_args(Preset)  # the one list of preset names


Inpaint = Literal["lama", "opencv", "none"]


@dataclass(frozen=True)
class WholePhotoConfig:
    """The whole-photo step after paste-back (docs/faces.md, "Long hair past the crop")."""

    inpaint: Inpaint = "lama"  # removed / continued hair filled by LaMa (OpenCV without its file),
    # by OpenCV, or "none": nothing past the crop changes (the paste-back's fade, as before the step)
    hair_length_px: float | None = None  # longer hair goes on this far past the crop (1024 px crop
    # pixels); None: to the old hair's extent past the crop, else a quarter of the side


@dataclass(frozen=True)
class EditConfig:
    """Every hyperparameter of an edit, frozen. ``EditConfig()`` is the official method.

    Build one with :meth:`for_preset`: a preset is a complete configuration, and overrides
    apply on top of it. ``preset`` names the preset the configuration was built from.
    """

    preset: Preset = "faithful"
    seed: int = 0
    layers: LayerResolutions = field(default_factory=LayerResolutions)
    inversion: InversionConfig = field(default_factory=InversionConfig)
    text: TextProxyConfig = field(default_factory=TextProxyConfig)
    reference: ReferenceProxyConfig = field(default_factory=ReferenceProxyConfig)
    sketch: SketchProxyConfig = field(default_factory=SketchProxyConfig)
    blending: BlendingConfig = field(default_factory=BlendingConfig)
    color: ColorProxyConfig = field(default_factory=ColorProxyConfig)
    whole_photo: WholePhotoConfig = field(default_factory=WholePhotoConfig)
    fast: FastConfig | None = None  # set by the fast and instant presets
    instant: InstantConfig | None = None  # set by the instant preset
    autocast: str | None = None  # "bf16" or "fp16": mixed precision on GPU (faster, not bit-exact)
    compile: bool = False  # torch.compile the generator's blocks
    compile_backend: str = "inductor"
    step_cap: int | None = None  # every optimisation loop runs at most this many steps (--smoke)

    def loss_px(self, size_px: int) -> int | None:
        """The synthesis size image losses are computed at; None = the full image (faithful)."""
        return None if self.fast is None else self.fast.loss_px_for(size_px)

    @classmethod
    def for_preset(cls, preset: str = "faithful", overrides: dict[str, Any] | None = None) -> EditConfig:
        """The complete configuration of ``preset``, with ``overrides`` (nested dict, e.g.
        ``{"text": {"steps": 100}}``) laid over it. Settings of a preset's own section
        (``fast``, ``instant``) are refused under a preset without it."""
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        base = _PRESET_FACTORIES[preset]()
        overrides = dict(overrides or {})
        named = overrides.pop("preset", preset)
        if named != preset:
            raise ValueError(f"the settings name preset {named!r} but preset {preset!r} was asked for")
        for section in PRESET_SECTIONS:
            if section not in overrides:
                continue
            if overrides[section] is not None and getattr(base, section) is None:
                owners = [name for name in PRESETS if getattr(_PRESET_FACTORIES[name](), section) is not None]
                which = f"the {' and '.join(owners)} preset{'s' if len(owners) > 1 else ''}"
                raise ValueError(f"'{section}' settings apply to {which} only, not to {preset!r}")
            if overrides[section] is None and getattr(base, section) is not None:
                raise ValueError(f"the {preset} preset needs its '{section}' settings; they cannot be null")
        return _capped(_apply(base, overrides))

    @classmethod
    def smoke(cls, steps: int = SMOKE_STEPS, preset: str = "faithful") -> EditConfig:
        """``preset`` with every optimisation cut to at most ``steps`` steps: for random networks."""
        return cls.for_preset(preset, {"step_cap": steps})

    def overrides(self) -> dict[str, Any]:
        """What differs from this configuration's preset (under the same step cap), as a nested
        dict; settings equal to the preset's own value are not listed: they follow the preset."""
        preset = _PRESET_FACTORIES[self.preset]()
        # The loops as the cap leaves them are the preset's own; the cap itself is a setting.
        reference = dataclasses.replace(_capped(dataclasses.replace(preset, step_cap=self.step_cap)), step_cap=None)
        return _difference(self.to_dict(), reference.to_dict())

    def with_preset(self, preset: str) -> EditConfig:
        """This configuration's overrides laid over another preset (a preset's own sections,
        ``fast`` and ``instant``, stay behind when the other preset has none)."""
        if preset == self.preset:
            return self
        overrides, target = self.overrides(), _PRESET_FACTORIES[preset]()
        for section in PRESET_SECTIONS:
            if getattr(target, section) is None:
                overrides.pop(section, None)
        return EditConfig.for_preset(preset, overrides)

    def with_step_cap(self, steps: int) -> EditConfig:
        """Every loop cut to at most ``steps`` steps (--smoke)."""
        return _capped(dataclasses.replace(self, step_cap=_typed(int, steps, "step_cap")))

    def with_seed(self, seed: int) -> EditConfig:
        return dataclasses.replace(self, seed=_typed(int, seed, "seed"))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EditConfig:
        """``values["preset"]`` (default faithful) with the rest of ``values`` laid over it;
        unknown keys and wrongly typed values are an error naming them."""
        preset = values.get("preset", "faithful")
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        return cls.for_preset(preset, values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


LOOPS = {  # every optimisation loop: its progress stage name -> the setting holding its step count
    "inversion (W+)": ("inversion", "w_steps"),
    "inversion (FS)": ("inversion", "fs_steps"),
    "text proxy": ("text", "steps"),
    "reference proxy": ("reference", "steps"),
    "colour proxy": ("color", "stage1_steps"),
    "colour blending": ("color", "stage2_steps"),
}


def _capped(config: EditConfig) -> EditConfig:
    """``config`` with every loop cut to its ``step_cap`` (a loop the preset does not run stays at 0)."""
    if config.step_cap is None:
        return config
    sections: dict[str, dict[str, int]] = {}
    for section, name in LOOPS.values():
        sections.setdefault(section, {})[name] = min(config.step_cap, getattr(getattr(config, section), name))
    return dataclasses.replace(
        config, **{section: dataclasses.replace(getattr(config, section), **steps) for section, steps in sections.items()}
    )


def _difference(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    changed = {}
    for key, value in values.items():
        default = defaults.get(key)
        if isinstance(value, dict) and isinstance(default, dict):
            nested = _difference(value, default)
            if nested:
                changed[key] = nested
        elif value != default:
            changed[key] = value
    return changed


def _apply(base: Any, overrides: dict[str, Any], path: str = "") -> Any:
    """``base`` (a frozen settings dataclass) with ``overrides`` checked and laid over it."""
    fields = {f.name for f in dataclasses.fields(base)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown {type(base).__name__} settings: {sorted(unknown)}; known: {sorted(fields)}")
    hints = typing.get_type_hints(type(base))
    changes = {}
    for name, value in overrides.items():
        current = getattr(base, name)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            changes[name] = _apply(current, value, f"{path}{name}.")
        else:
            changes[name] = _typed(hints[name], value, f"{path}{name}")
    return dataclasses.replace(base, **changes)


JSON_VALUES = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}  # a field's type -> what it accepts


def _typed(hint: Any, value: Any, name: str) -> Any:
    """``value`` checked against the field's type ``hint`` (numbers other than the seed must
    not be negative)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    hint = next(option for option in options if option is not type(None))
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return _apply(hint(), value, f"{name}.")
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
    if hint in (int, float) and value < 0 and name != "seed":  # any integer seeds
        raise ValueError(f"{name} must not be negative, not {value!r}")
    return float(value) if hint is float else value


def _fast_preset() -> EditConfig:
    """The fast preset (README, "Presets"): the same stages and losses, with image losses on
    the generator's 256 px skip image instead of the 1024 px one, far fewer steps, and early
    stopping once a loss stops falling."""
    return EditConfig(
        preset="fast",
        fast=FastConfig(),
        inversion=InversionConfig(w_steps=150, fs_steps=50),
        text=TextProxyConfig(steps=50),
        reference=ReferenceProxyConfig(steps=50),
        color=ColorProxyConfig(stage1_steps=30, stage2_steps=20),
    )


def _instant_preset() -> EditConfig:
    """The instant preset (README, "Presets"): every proxy by a forward pass of a trained
    network where one exists (see :class:`InstantConfig`), the fast preset's losses where not."""
    return EditConfig(
        preset="instant",
        fast=FastConfig(),
        instant=InstantConfig(),
        inversion=InversionConfig(w_steps=0, fs_steps=0),
        color=ColorProxyConfig(stage1_steps=0, stage2_steps=0, reparse_each_step=False),
    )


_PRESET_FACTORIES = {"faithful": EditConfig, "fast": _fast_preset, "instant": _instant_preset}
PRESET_SECTIONS = ("fast", "instant")  # settings that belong to the presets that have them
