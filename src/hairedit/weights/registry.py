"""The one table of pretrained files: name -> file, size, checksum, sources in order.

Sources are tried first to last. ``PackageFile`` sources are files inside an installed
Python distribution and need no download at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "HAIREDIT_HOME"


@dataclass(frozen=True)
class HuggingFaceFile:
    repo: str
    path: str

    def describe(self) -> str:
        return f"Hugging Face {self.repo} / {self.path}"


@dataclass(frozen=True)
class GoogleDriveFile:
    file_id: str

    def describe(self) -> str:
        return f"Google Drive id {self.file_id}"


@dataclass(frozen=True)
class UrlFile:
    url: str

    def describe(self) -> str:
        return self.url


@dataclass(frozen=True)
class PackageFile:
    distribution: str  # PyPI distribution that ships the file
    path: str  # path inside the installed distribution

    def describe(self) -> str:
        return f"inside the Python package '{self.distribution}' ({self.path})"


Source = HuggingFaceFile | GoogleDriveFile | UrlFile | PackageFile


@dataclass(frozen=True)
class WeightFile:
    name: str  # registry key, also the file name in the cache
    description: str
    sources: tuple[Source, ...]
    size_bytes: int | None = None  # exact size where known
    sha256: str | None = None
    needed_for: str = ""  # which stage uses it, for `weights list`


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
            needed_for="every edit",
        ),
        WeightFile(
            "ffhq_PCA.npz",
            "PCA of the mapped W space (X_mean, X_comp, X_stdev) for the inversion prior",
            (
                HuggingFaceFile("AIRI-Institute/HairFastGAN", "pretrained_models/StyleGAN/ffhq_PCA.npz"),
                UrlFile(
                    "https://github.com/wty-ustc/HairCLIPv2/raw/8672dd909d6aa27c9f7ea1935153eacd2964c6d6/"
                    "pretrained_models/ffhq_PCA.npz"
                ),
            ),
            # The file in the official repository at that commit.
            size_bytes=2_108_402,
            sha256="77f77159767399a0b0a531d4e2c33b707f68ed7782adaa987bfde2bd0275e7e6",
            needed_for="inversion (computed from the generator when absent)",
        ),
        WeightFile(
            "seg.pth",
            "BiSeNet face parser, 16 classes (Barbershop)",
            (
                HuggingFaceFile("AIRI-Institute/HairFastGAN", "pretrained_models/BiSeNet/seg.pth"),
                GoogleDriveFile("1OG6t7q4PpHOoYNdP-ipoxuqYbfMSgPta"),
                GoogleDriveFile("1lIKvQaFKHT5zC7uS4p17O9ZpfwmwlS62"),
            ),
            needed_for="every edit",
        ),
        WeightFile(
            "bald_proxy.pt",
            "HairMapper bald mapper (state_dict, alpha)",
            (GoogleDriveFile("1sa732uBfX1739MFsvtRCKWCN54zYyltC"),),
            needed_for="hairstyle edits",
        ),
        WeightFile(
            "sketch_proxy.pt",
            "E2Style first-stage sketch encoder (state_dict, opts)",
            (GoogleDriveFile("1qk0ZIfA1VmrFUzDJ0g8mK8nx0WtF-5sY"),),
            needed_for="sketch edits",
        ),
        WeightFile(
            "e4e_ffhq_encode.pt",
            "encoder4editing FFHQ encoder, IR-SE-50 (state_dict: encoder, decoder; latent_avg, opts)",
            (
                HuggingFaceFile("public-data/e4e", "e4e_ffhq_encode.pt"),
                HuggingFaceFile("AIRI-Institute/HairFastGAN", "pretrained_models/encoder4editing/e4e_ffhq_encode.pt"),
                GoogleDriveFile("1cUv_reLE6k3604or78EranS7XzuVMWeO"),
            ),
            needed_for="the instant preset",
        ),
        WeightFile(
            "hairclip.pt",
            "HairCLIP v1 mapper with its CLIP ViT-B/32 (state_dict: mapper, decoder; opts)",
            (
                HuggingFaceFile("public-data/HairCLIP", "hairclip.pt"),
                GoogleDriveFile("1hqZT6ZMldhX3M_x378Sm4Z2HMYr-UwQ4"),
            ),
            needed_for="the instant preset",
        ),
        WeightFile(
            "shape_predictor_68_face_landmarks.dat",
            "dlib 68-point face landmarks",
            (
                PackageFile(
                    "face_recognition_models",
                    "face_recognition_models/models/shape_predictor_68_face_landmarks.dat",
                ),
                UrlFile("http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2"),
            ),
            size_bytes=99_693_937,
            sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
            needed_for="face alignment",
        ),
        WeightFile(
            "clip_vit_b32.safetensors",
            "CLIP ViT-B/32, OpenAI weights (transformers layout)",
            (HuggingFaceFile("openai/clip-vit-base-patch32", "model.safetensors"),),
            needed_for="text hairstyle and text colour",
        ),
        WeightFile(
            "clip_vocab.json",
            "CLIP BPE tokenizer vocabulary",
            (HuggingFaceFile("openai/clip-vit-base-patch32", "vocab.json"),),
            needed_for="text hairstyle and text colour",
        ),
        WeightFile(
            "clip_merges.txt",
            "CLIP BPE tokenizer merges",
            (HuggingFaceFile("openai/clip-vit-base-patch32", "merges.txt"),),
            needed_for="text hairstyle and text colour",
        ),
        WeightFile(
            "vgg16-397923af.pth",
            "VGG16 ImageNet (torchvision layout), LPIPS backbone and Gram style loss",
            (UrlFile("https://download.pytorch.org/models/vgg16-397923af.pth"),),
            size_bytes=553_433_881,
            needed_for="inversion, reference hairstyle, colour",
        ),
        WeightFile(
            "lpips_vgg_v0.1.pth",
            "LPIPS v0.1 linear layers for VGG",
            (
                PackageFile("lpips", "lpips/weights/v0.1/vgg.pth"),
                UrlFile(
                    "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth"
                ),
            ),
            size_bytes=7_289,
            sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
            needed_for="inversion, colour",
        ),
        WeightFile(
            "3DFAN4-7835d9f11d.pth.tar",
            "FAN 3D 68-landmark heatmap network (face-alignment 1.5.0; the 1.3 TorchScript file also loads)",
            (
                UrlFile("https://www.adrianbulat.com/downloads/python-fan/3DFAN4-7835d9f11d.pth.tar"),
                UrlFile("https://www.adrianbulat.com/downloads/python-fan/3DFAN4-4a694010b9.zip"),
            ),
            needed_for="text and reference hairstyle",
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
            needed_for="hairedit eval (identity)",
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
            needed_for="hairedit eval (FID of a set)",
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
