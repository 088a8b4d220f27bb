"""The networks an edit uses, loaded on first use.

``Components.pretrained`` reads the official files (downloading what is missing);
``Components.random`` builds small random networks of the same architectures for tests and
``--smoke``. Either way a network is built only when an edit first needs it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import torch

from .cache import fingerprint
from .checkpoints import check_decoder
from .config import EditConfig, LayerResolutions
from .errors import CheckpointError, DownloadError, MissingWeightsError
from .latent_pca import LatentPCA, compute_latent_pca, load_latent_pca
from .networks import (
    bald_mapper, bisenet, clip, clip_tokenizer, e4e_encoder, fan, hairclip_mapper, inception, lama, sketch_encoder,
    stylegan2, vgg,
)

log = logging.getLogger(__name__)


class _LoadedOnce(cached_property):
    """A cached_property whose value is made once even when threads ask for it together: the UI's
    photo handlers and edits share one editor, and a network must not load twice. One lock per
    property, so different networks still load side by side."""

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with instance._load_locks.setdefault(self.attrname, threading.Lock()):  # setdefault is atomic
            if self.attrname in instance.__dict__:  # made while this thread waited
                return instance.__dict__[self.attrname]
            return super().__get__(instance, owner)


class Components:
    def __init__(
        self, loaders: dict[str, Callable[[], object]], device: torch.device, description: str, pretrained: bool = False
    ):
        self._loaders = loaders
        self.device = device
        self.description = description  # "pretrained" or "random (smoke)"
        self.pretrained = pretrained  # the official weights: results mean something
        # What loading a network found that the users of its results should know, by network name.
        self.decoder_warnings: dict[str, str] = {}
        self._load_locks: dict[str, threading.Lock] = {}

    # Fingerprints tell networks apart for the inversion cache's key; each costs a pass over
    # its weights, and loads them: take only those of the networks an inversion uses.

    @_LoadedOnce
    def generator_fingerprint(self) -> str:
        """The generator and its mean latent (every inversion)."""
        tensors = {f"generator.{k}": v for k, v in self.generator.state_dict().items()}
        return fingerprint({**tensors, "mean_latent": self.mean_latent})

    @_LoadedOnce
    def inversion_loss_fingerprint(self) -> str:
        """LPIPS (its VGG16 too) and the PCA prior: the inversion's losses, where a loop runs."""
        tensors = {f"lpips.{k}": v for k, v in self.lpips.state_dict().items()}
        return fingerprint({**tensors, "pca.mean": self.pca.mean, "pca.components": self.pca.components,
                            "pca.stdev": self.pca.stdev})

    @_LoadedOnce
    def e4e_fingerprint(self) -> str:
        """The e4e encoder (the instant preset's inversion)."""
        return fingerprint({**self.e4e.state_dict(), "latent_avg": self.e4e.latent_avg})

    @_LoadedOnce
    def parser_and_bald_fingerprint(self) -> str:
        """The face parser and the bald mapper (the per-photo work besides the inversion)."""
        tensors = {f"parser.{k}": v for k, v in self.parser.state_dict().items()}
        return fingerprint({**tensors, **{f"bald.{k}": v for k, v in self.bald_mapper.state_dict().items()}})

    def _load(self, name: str):
        value = self._loaders[name]()
        return value.to(self.device) if hasattr(value, "to") else value

    @_LoadedOnce
    def _generator_and_mean(self) -> tuple[stylegan2.Generator, torch.Tensor]:
        generator, mean = self._loaders["generator"]()
        return generator.to(self.device), mean.to(self.device)

    @property
    def generator(self) -> stylegan2.Generator:
        return self._generator_and_mean[0]

    @property
    def mean_latent(self) -> torch.Tensor:
        """(1, style_dim): the checkpoint's ``latent_avg``."""
        return self._generator_and_mean[1]

    @_LoadedOnce
    def parser(self) -> bisenet.FaceParser:
        return self._load("parser")

    @_LoadedOnce
    def vgg(self) -> vgg.VGG16Features:
        return self._load("vgg")

    @_LoadedOnce
    def lpips(self) -> vgg.LPIPS:
        return self._load("lpips")

    @_LoadedOnce
    def style_loss(self) -> vgg.MaskedStyleLoss:
        return vgg.MaskedStyleLoss(self.vgg)

    @_LoadedOnce
    def landmarks(self) -> fan.LandmarkHeatmaps:
        return self._load("landmarks")

    @_LoadedOnce
    def clip(self) -> clip.CLIPGuide:
        return self._load("clip")

    @_LoadedOnce
    def bald_mapper(self) -> bald_mapper.BaldMapper:
        return self._load("bald_mapper")

    @_LoadedOnce
    def sketch_encoder(self) -> sketch_encoder.SketchEncoder:
        return self._load("sketch_encoder")

    @_LoadedOnce
    def e4e(self) -> e4e_encoder.E4EEncoder:
        """The encoder4editing encoder (instant preset)."""
        return self._with_decoder_checked(self._load("e4e"), "e4e", "e4e_ffhq_encode.pt")

    @_LoadedOnce
    def hairclip(self) -> hairclip_mapper.HairCLIP:
        """HairCLIP's mapper with its own CLIP (instant preset)."""
        return self._with_decoder_checked(self._load("hairclip"), "hairclip", "hairclip.pt")

    def _with_decoder_checked(self, network, name: str, file_name: str):
        """A network trained on a StyleGAN2 (its file's ``decoder.*``) is only right for that
        generator: say so, to the edits that use network ``name``, when ffhq.pt is another."""
        if self.pretrained:
            check = check_decoder(network.decoder_digests, self.generator, file_name)
            if not check.equal:
                self.decoder_warnings[name] = check.message
        return network

    @_LoadedOnce
    def lama(self) -> lama.LamaGenerator | None:
        """big-lama for the whole-photo step; None where its file is absent (OpenCV fills instead)."""
        generator = self._loaders["lama"]()
        return None if generator is None else generator.to(self.device)

    @_LoadedOnce
    def inception(self) -> inception.FIDInception:
        """The FID network; no edit uses it, ``hairedit eval`` does."""
        return self._load("inception")

    @_LoadedOnce
    def pca(self) -> LatentPCA:
        return self._loaders["pca"](self.generator).to(self.device)

    def load_for(self, config: EditConfig) -> None:
        """Load now every network an edit with ``config`` may use (the registry says which), so
        that the first edit timed is not charged for loading them (batch rows, eval's presets)."""
        from .weight_needs import files_used
        from .weights.registry import WEIGHTS

        for name in files_used(config):
            for network in WEIGHTS[name].networks:
                getattr(self, network)

    @classmethod
    def pretrained(cls, weights_dir: Path, device: torch.device, download: bool = True) -> Components:
        from .weights.download import ensure

        def path(name: str) -> Path:
            return ensure(name, weights_dir, download=download)

        def optional_lama() -> lama.LamaGenerator | None:
            from .weights.registry import LAMA_FILE

            try:  # optional: never downloaded midway through an edit
                found = ensure(LAMA_FILE, weights_dir, download=False)
            except MissingWeightsError:
                return None
            return lama.load_lama(found)  # a broken or tampered file is an error naming it

        def pca(generator: stylegan2.Generator) -> LatentPCA:
            try:
                official = path("ffhq_PCA.npz")
            except (MissingWeightsError, DownloadError) as error:
                return computed_pca(generator, str(error).splitlines()[0])
            return load_latent_pca(official)  # a broken or tampered file is an error naming it

        def computed_pca(generator: stylegan2.Generator, reason: str) -> LatentPCA:
            # No PCA file to be had: compute it from the mapping network, once. Close to the
            # official one, not the same: the inversion prior changes a little, so say so.
            cached = weights_dir / "ffhq_PCA.computed.npz"
            log.warning("ffhq_PCA.npz cannot be had (%s): using the PCA of the generator's own mapping network, "
                        "computed once and kept at %s", reason, cached)
            if cached.is_file():
                try:
                    return load_latent_pca(cached, generator.style_dim)
                except CheckpointError as error:  # our own file, damaged: make it again
                    log.warning("computing the PCA again: %s", error)
            computed = compute_latent_pca(generator)
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                computed.save(cached)
            except OSError as error:  # kept only to save time next run
                log.warning("the computed PCA cannot be kept at %s (%s); it is computed again next time", cached, error)
            return computed

        loaders = {
            "generator": lambda: stylegan2.load_generator(path("ffhq.pt")),
            "parser": lambda: bisenet.load_parser(path("seg.pth")),
            "vgg": lambda: vgg.load_vgg16(path("vgg16-397923af.pth")),
            "lpips": lambda: vgg.lpips_with(components.vgg, path("lpips_vgg_v0.1.pth")),
            "landmarks": lambda: fan.load_fan(path("3DFAN4-7835d9f11d.pth.tar")),
            "clip": lambda: clip.load_clip(
                path("clip_vit_b32.safetensors"), path("clip_vocab.json"), path("clip_merges.txt")
            ),
            "bald_mapper": lambda: bald_mapper.load_bald_mapper(path("bald_proxy.pt")),
            "sketch_encoder": lambda: sketch_encoder.load_sketch_encoder(path("sketch_proxy.pt")),
            "e4e": lambda: e4e_encoder.load_e4e_encoder(path("e4e_ffhq_encode.pt")),
            "hairclip": lambda: hairclip_mapper.load_hairclip_mapper(
                path("hairclip.pt"), tokenizer=clip_tokenizer.load_tokenizer(path("clip_vocab.json"), path("clip_merges.txt"))
            ),
            "inception": lambda: inception.load_inception(path("pt_inception-2015-12-05-6726825d.pth")),
            "lama": optional_lama,
            "pca": pca,
        }
        components = cls(loaders, device, "pretrained", pretrained=True)
        return components

    @classmethod
    def random(cls, seed: int = 0, size_px: int = 64, device: torch.device | None = None) -> Components:
        device = device or torch.device("cpu")

        def generator() -> tuple[stylegan2.Generator, torch.Tensor]:
            g = stylegan2.small_generator(seed, size_px)
            return g, g.mean_latent(1024, seed)

        loaders = {
            "generator": generator,
            "parser": lambda: bisenet.small_parser(seed, input_size_px=min(size_px, 512)),
            "vgg": lambda: vgg.small_vgg16(seed),
            "lpips": lambda: vgg.lpips_with(components.vgg, None, seed),
            "landmarks": lambda: fan.small_fan(seed),
            "clip": lambda: clip.small_clip(seed),
            "bald_mapper": lambda: bald_mapper.small_bald_mapper(seed, components.generator.style_dim),
            "sketch_encoder": lambda: sketch_encoder.small_sketch_encoder(
                seed, components.generator.n_latent, components.generator.style_dim
            ),
            "e4e": lambda: e4e_encoder.small_e4e_encoder(
                seed, components.generator.n_latent, components.generator.style_dim, components.mean_latent.cpu()
            ),
            "hairclip": lambda: hairclip_mapper.small_hairclip_mapper(
                seed, components.generator.n_latent, components.generator.style_dim, components.clip,
                fine_start=LayerResolutions().rows(size_px).color.start,  # the colour mapper reaches the colour rows
            ),
            "inception": lambda: inception.small_inception(seed),
            "lama": lambda: lama.small_lama(seed),
            "pca": lambda g: compute_latent_pca(g, n_samples=4096, seed=seed),
        }
        components = cls(loaders, device, "random (smoke)")
        return components

