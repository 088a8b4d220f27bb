"""The one table of pretrained files: name -> file, size, checksum, sources in order.

Sources are tried first to last. ``PackageFile`` sources are files inside an installed
Python distribution and need no download at all.

A file is *pinned* when the table gives its sha256 (and size): every copy, downloaded or
found, must match it. Each pin says where it was found (``pin_source``). A file without a
published checksum is *trusted on first use*: its size and sha256 are written to
``weights.lock.json`` beside the weights the first time it is downloaded or used, and every
later use must match that record (see :mod:`.lock`). Hugging Face sources name a fixed
commit where one could be sourced; ``main`` otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


HOME_ENV = "HAIREDIT_HOME"


@dataclass(frozen=True)
class HuggingFaceFile:
    repo: str
    path: str
    revision: str = "main"  # a commit hash pins the file to that commit

    def describe(self) -> str:
        at = "" if self.revision == "main" else f" at commit {self.revision[:10]}"
        return f"Hugging Face {self.repo} / {self.path}{at}"


@dataclass(frozen=True)
class GoogleDriveFile:
    file_id: str

    def describe(self) -> str:
        return f"Google Drive id {self.file_id}"


@dataclass(frozen=True)
class UrlFile:
    url: str
    compression: str | None = None  # "bz2": the server sends the file bz2-compressed

    def describe(self) -> str:
        return self.url


@dataclass(frozen=True)
class PackageFile:
    distribution: str  # PyPI distribution that ships the file
    path: str  # path inside the installed distribution

    def describe(self) -> str:
        return f"inside the Python package '{self.distribution}' ({self.path})"


@dataclass(frozen=True)
class ZipMember:
    """One file inside a zip archive that is downloaded whole, then unpacked (and deleted)."""

    archive: HuggingFaceFile | GoogleDriveFile | UrlFile
    member: str  # its path inside the archive

    def describe(self) -> str:
        return f"{self.member} inside {self.archive.describe()}"


Source = HuggingFaceFile | GoogleDriveFile | UrlFile | PackageFile | ZipMember


@dataclass(frozen=True)
class WeightFile:
    name: str  # registry key, also the file name in the cache
    description: str
    sources: tuple[Source, ...]
    size_bytes: int | None = None  # exact size, checked; only with a pin
    sha256: str | None = None  # the pin, checked
    pin_source: str = ""  # where size_bytes and sha256 come from
    approx_bytes: int | None = None  # for messages only, where the exact size is not known
    needed_for: str = ""  # which stage uses it, for `weights list`
    required: bool = True  # False: what uses it works without it (needed_for says how)
    group: str = "edit"  # "edit": every preset's edits; "instant": that preset's only; "eval": hairedit eval
    networks: tuple[str, ...] = ()  # what it loads into: the names of hairedit.components.Components' networks
    loops: tuple[str, ...] = ()  # where only optimisation loops use it: those loops (config.LOOPS' names)
    # Where only some conditions make the edit run it: those conditions (edit's option names).
    conditions: tuple[str, ...] = ()
    used_with: tuple[str, ...] = ()  # files it goes with (a tokenizer): used wherever one of them is
    # (hairedit.weight_needs reads these against a configuration and an edit's conditions)
    # Required of every entry: the licence its publisher states ("not stated" where none is: never
    # a guess), and where it is stated (or where the file is published, when it is not).
    licence: str = field(kw_only=True)
    licence_source: str = field(kw_only=True)

    @property
    def pinned(self) -> bool:
        return self.sha256 is not None

    @property
    def shown_bytes(self) -> int | None:
        """The size to tell a user: exact where pinned, else approximate, else None (unknown)."""
        return self.size_bytes if self.size_bytes is not None else self.approx_bytes


# Revisions and checksums below were found in public material; none could be fetched from
# here to check it, except where a pin_source says "computed". A wrong pin fails loudly (the
# download is refused and the next source tried), never silently.
_CLIP_REVISION = "d15b5f29721ca72dac15f8526b284be910de18be"  # openai/clip-vit-base-patch32, as public
# download scripts fetch model.safetensors at this commit
_PCA_COMMIT = "8672dd909d6aa27c9f7ea1935153eacd2964c6d6"  # wty-ustc/HairCLIPv2 main, Dec 2023
_LPIPS_COMMIT = "082bb24f84c091ea94de2867d34c4544f68e0963"  # richzhang/PerceptualSimilarity master
_DLIB_MODELS_COMMIT = "fd81b6308a6a73d4ce08859eb2f4b628a21e27a2"  # davisking/dlib-models master
LAMA_FILE = "big-lama.ckpt"
LAMA_MEMBER = "big-lama/models/best.ckpt"  # inside big-lama.zip, beside big-lama/config.yaml

COLOURS = ("color", "color_ref", "rgb")  # the conditions (edit's option names) that recolour

WEIGHTS: dict[str, WeightFile] = {
    entry.name: entry
    for entry in (
        WeightFile(
            "ffhq.pt",
            "StyleGAN2 FFHQ 1024 generator (rosinality layout: g_ema, latent_avg)",
            (
                HuggingFaceFile("AIRI-Institute/HairFastGAN", "pretrained_models/StyleGAN/ffhq.pt"),
                GoogleDriveFile("1g8S81ZybmrF86OjvjLYJzx-wx83ZOiIw"),
                GoogleDriveFile("1AT6bNR2ppK8f2ETL_evT27f3R_oyWNHS"),
            ),
            approx_bytes=133_000_000,
            needed_for="every edit",
            networks=("generator",),
            licence="Nvidia Source Code License-NC (non-commercial)",
            licence_source="https://github.com/NVlabs/stylegan2#license (ffhq.pt converts those networks)",
        ),
        WeightFile(
            "ffhq_PCA.npz",
            "PCA of the mapped W space (X_mean, X_comp, X_stdev) for the inversion prior",
            (
                UrlFile(f"https://github.com/wty-ustc/HairCLIPv2/raw/{_PCA_COMMIT}/pretrained_models/ffhq_PCA.npz"),
                HuggingFaceFile("AIRI-Institute/HairFastGAN", "pretrained_models/StyleGAN/ffhq_PCA.npz"),
            ),
            size_bytes=2_108_402,
            sha256="77f77159767399a0b0a531d4e2c33b707f68ed7782adaa987bfde2bd0275e7e6",
            pin_source="computed from the file in the HairCLIPv2 repository, added in its commit 6cf3155",
            needed_for="inversion (computed from the generator when it cannot be had)",
            required=False,
            loops=("inversion (W+)", "inversion (FS)"),
            networks=("pca",),
            licence="not stated",
            licence_source="https://github.com/wty-ustc/HairCLIPv2 (the repository has no licence file)",
        ),
        WeightFile(
            "seg.pth",
            "BiSeNet face parser, 16 classes (Barbershop)",
            (
                HuggingFaceFile("AIRI-Institute/HairFastGAN", "pretrained_models/BiSeNet/seg.pth"),
                GoogleDriveFile("1OG6t7q4PpHOoYNdP-ipoxuqYbfMSgPta"),
                GoogleDriveFile("1lIKvQaFKHT5zC7uS4p17O9ZpfwmwlS62"),
            ),
            approx_bytes=53_000_000,
            needed_for="every edit",
            networks=("parser",),
            licence="MIT",
            licence_source="https://github.com/ZPdesu/Barbershop/blob/main/LICENSE (Barbershop publishes the file)",
        ),
        WeightFile(
            "bald_proxy.pt",
            "HairMapper bald mapper (state_dict, alpha)",
            (GoogleDriveFile("1sa732uBfX1739MFsvtRCKWCN54zYyltC"),),
            approx_bytes=8_000_000,
            needed_for="hairstyle edits",
            networks=("bald_mapper",),
            conditions=("hairstyle", "hairstyle_ref"),
            licence="not stated",
            licence_source="https://github.com/wty-ustc/HairCLIPv2 (published through its README; no licence file)",
        ),
        WeightFile(
            "sketch_proxy.pt",
            "E2Style first-stage sketch encoder (state_dict, opts)",
            (GoogleDriveFile("1qk0ZIfA1VmrFUzDJ0g8mK8nx0WtF-5sY"),),
            needed_for="sketch edits",
            networks=("sketch_encoder",),
            conditions=("sketch",),
            licence="not stated",
            licence_source="https://github.com/wty-ustc/HairCLIPv2 (published through its README; no licence file)",
        ),
        WeightFile(
            "e4e_ffhq_encode.pt",
            "encoder4editing FFHQ encoder, IR-SE-50 (state_dict: encoder, decoder; latent_avg, opts)",
            (
                HuggingFaceFile("public-data/e4e", "e4e_ffhq_encode.pt"),
                HuggingFaceFile("AIRI-Institute/HairFastGAN", "pretrained_models/encoder4editing/e4e_ffhq_encode.pt"),
                GoogleDriveFile("1cUv_reLE6k3604or78EranS7XzuVMWeO"),
            ),
            approx_bytes=1_200_000_000,
            needed_for="the instant preset",
            group="instant",
            networks=('e4e',),
            licence="MIT",
            licence_source="https://github.com/omertov/encoder4editing/blob/main/LICENSE",
        ),
        WeightFile(
            "hairclip.pt",
            "HairCLIP v1 mapper with its CLIP ViT-B/32 (state_dict: mapper, decoder; opts)",
            (
                HuggingFaceFile("public-data/HairCLIP", "hairclip.pt"),
                GoogleDriveFile("1hqZT6ZMldhX3M_x378Sm4Z2HMYr-UwQ4"),
            ),
            approx_bytes=565_000_000,
            needed_for="the instant preset",
            group="instant",
            networks=("hairclip",),  # used for the conditions the mapper takes (hairedit.weight_needs)
            licence="LGPL-2.1",
            licence_source="https://github.com/wty-ustc/HairCLIP/blob/main/LICENSE (the publisher's repository)",
        ),
        WeightFile(
            "shape_predictor_68_face_landmarks.dat",
            "dlib 68-point face landmarks",
            (
                PackageFile(
                    "face_recognition_models",
                    "face_recognition_models/models/shape_predictor_68_face_landmarks.dat",
                ),
                UrlFile("http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2", compression="bz2"),
                UrlFile(
                    f"https://github.com/davisking/dlib-models/raw/{_DLIB_MODELS_COMMIT}/"
                    "shape_predictor_68_face_landmarks.dat.bz2",
                    compression="bz2",
                ),
            ),
            size_bytes=99_693_937,
            sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
            pin_source="computed from the copy in the face_recognition_models wheel",
            needed_for="face alignment",
            licence="not for commercial use (trained on iBUG 300-W, whose licence excludes it)",
            licence_source="https://github.com/davisking/dlib-models#shape_predictor_68_face_landmarksdatbz2",
        ),
        WeightFile(
            "clip_vit_b32.safetensors",
            "CLIP ViT-B/32, OpenAI weights (transformers layout)",
            (HuggingFaceFile("openai/clip-vit-base-patch32", "model.safetensors", _CLIP_REVISION),),
            approx_bytes=605_000_000,
            needed_for="text hairstyle and text colour",
            loops=("text proxy", "colour proxy"),  # the instant preset's HairCLIP has a CLIP of its own
            networks=("clip",),
            conditions=("hairstyle", "color"),  # text: a colour proxy towards a photo or RGB colour needs no CLIP
            licence="MIT",
            licence_source="https://github.com/openai/CLIP/blob/main/LICENSE",
        ),
        WeightFile(
            "clip_vocab.json",
            "CLIP BPE tokenizer vocabulary",
            (HuggingFaceFile("openai/clip-vit-base-patch32", "vocab.json", _CLIP_REVISION),),
            size_bytes=862_328,
            sha256="5047b556ce86ccaf6aa22b3ffccfc52d391ea4accdab9c2f2407da5b742d4363",
            pin_source="published in several independent manifests of openai/clip-vit-base-patch32",
            needed_for="text hairstyle and text colour",
            used_with=("clip_vit_b32.safetensors", "hairclip.pt"),  # their tokenizer
            licence="MIT",
            licence_source="https://github.com/openai/CLIP/blob/main/LICENSE",
        ),
        WeightFile(
            "clip_merges.txt",
            "CLIP BPE tokenizer merges",
            (HuggingFaceFile("openai/clip-vit-base-patch32", "merges.txt", _CLIP_REVISION),),
            size_bytes=524_657,
            sha256="f526393189112391ce6f9795d4695f704121ce452c3aad1f5335cc41337eba85",
            pin_source="published in several independent manifests of openai/clip-vit-base-patch32",
            needed_for="text hairstyle and text colour",
            used_with=("clip_vit_b32.safetensors", "hairclip.pt"),  # their tokenizer
            licence="MIT",
            licence_source="https://github.com/openai/CLIP/blob/main/LICENSE",
        ),
        WeightFile(
            "vgg16-397923af.pth",
            "VGG16 ImageNet (torchvision layout), LPIPS backbone and Gram style loss",
            (UrlFile("https://download.pytorch.org/models/vgg16-397923af.pth"),),
            size_bytes=553_433_881,
            sha256="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
            pin_source="published in several independent manifests; starts with the 397923af of torchvision's file name",
            needed_for="inversion, reference hairstyle, colour",
            loops=("inversion (W+)", "inversion (FS)", "reference proxy", "colour blending"),
            networks=("vgg", "style_loss"),
            licence="not stated (torchvision: weights may carry their training data's terms, ImageNet's)",
            licence_source="https://github.com/pytorch/vision#pre-trained-model-license",
        ),
        WeightFile(
            "lpips_vgg_v0.1.pth",
            "LPIPS v0.1 linear layers for VGG",
            (
                PackageFile("lpips", "lpips/weights/v0.1/vgg.pth"),
                UrlFile(
                    f"https://github.com/richzhang/PerceptualSimilarity/raw/{_LPIPS_COMMIT}/lpips/weights/v0.1/vgg.pth"
                ),
            ),
            size_bytes=7_289,
            sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
            pin_source="computed from the file in the PerceptualSimilarity repository at that commit",
            needed_for="inversion, colour",
            loops=("inversion (W+)", "inversion (FS)", "colour blending"),
            networks=("lpips",),
            licence="BSD-2-Clause",
            licence_source="https://github.com/richzhang/PerceptualSimilarity/blob/master/LICENSE",
        ),
        WeightFile(
            "3DFAN4-7835d9f11d.pth.tar",
            "FAN 3D 68-landmark heatmap network (face-alignment 1.5.0; the 1.3 TorchScript file also loads)",
            (
                UrlFile("https://www.adrianbulat.com/downloads/python-fan/3DFAN4-7835d9f11d.pth.tar"),
                UrlFile("https://www.adrianbulat.com/downloads/python-fan/3DFAN4-4a694010b9.zip"),
            ),
            needed_for="text and reference hairstyle",
            loops=("text proxy", "reference proxy"),
            networks=("landmarks",),
            licence="BSD-3-Clause",
            licence_source="https://github.com/1adrianb/face-alignment/blob/master/LICENSE",
        ),
        WeightFile(
            "dlib_face_recognition_resnet_model_v1.dat",
            "dlib face recognition ResNet (128-d identity embeddings)",
            (
                PackageFile(
                    "face_recognition_models",
                    "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
                ),
            ),
            size_bytes=22_466_066,
            sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            pin_source="computed from the copy in the face_recognition_models wheel",
            needed_for="hairedit eval (identity)",
            group="eval",
            licence="public domain",
            licence_source="https://github.com/davisking/dlib-models#dlib-models (released into the public domain)",
        ),
        WeightFile(
            "pt_inception-2015-12-05-6726825d.pth",
            "Inception v3, TensorFlow's FID network as ported by pytorch-fid",
            (
                UrlFile(
                    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                    "pt_inception-2015-12-05-6726825d.pth"
                ),
            ),
            approx_bytes=91_000_000,
            needed_for="hairedit eval (FID of a set)",
            group="eval",
            networks=("inception",),
            licence="Apache-2.0",
            licence_source="https://github.com/mseitzer/pytorch-fid#license (TensorFlow's weights, ported)",
        ),
        WeightFile(
            LAMA_FILE,
            "LaMa big-lama inpainting generator (Lightning checkpoint big-lama/models/best.ckpt; "
            "official release: the Google Drive folder 1B2x7eQDgecTL0oh3LSIBDGj0fTxs6Ips linked "
            "from advimman/lama's README, its Yandex links gone)",
            (
                ZipMember(HuggingFaceFile("smartywu/big-lama", "big-lama.zip"), LAMA_MEMBER),
                # The big-lama.zip the LaMa demo linked from the official README downloads.
                ZipMember(GoogleDriveFile("1-95IOJ-2y9BtmABiffIwndPqNZD_gLnV"), LAMA_MEMBER),
            ),
            needed_for="removing or continuing hair past the crop (OpenCV inpainting without it)",
            required=False,
            networks=("lama",),
            licence="Apache-2.0",
            licence_source="https://github.com/advimman/lama/blob/main/LICENSE",
        ),
    )
}


def weights_dir(override: str | Path | None = None) -> Path:
    """Where pretrained files are kept: ``override``, else ``$HAIREDIT_HOME``, else ``~/.cache/hairedit``."""
    if override is not None:
        return Path(override).expanduser()
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    return Path.home() / ".cache" / "hairedit"


def get_weight_file(name: str) -> WeightFile:
    try:
        return WEIGHTS[name]
    except KeyError:
        raise KeyError(f"unknown weight file '{name}'; known: {', '.join(WEIGHTS)}") from None


def list_weight_files() -> list[WeightFile]:
    return list(WEIGHTS.values())
