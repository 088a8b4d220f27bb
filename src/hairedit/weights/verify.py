"""Check every present pretrained file: its sha256 against its pin or lock-file record, then
strict loading into its network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import HaireditError
from .download import locate
from .lock import check_file, record_file
from .registry import WEIGHTS, get_weight_file

HASH_CHECKS = {
    "pinned": "sha256 matches its pin",
    "recorded": "sha256 matches the lock file",
    "recorded now": "sha256 recorded in the lock file now (trusted on first use)",
}


@dataclass
class VerifyResult:
    name: str
    status: str  # "ok", "failed" or "missing"
    detail: str = ""


def _generator(path: Path) -> str:
    from ..networks.stylegan2 import load_generator

    generator, _ = load_generator(path)
    return f"{generator.size} px generator"


def _parser(path: Path) -> str:
    from ..networks.bisenet import load_parser

    load_parser(path)
    return "BiSeNet, 16 classes"


def _bald(path: Path) -> str:
    from ..networks.bald_mapper import load_bald_mapper

    return f"alpha {load_bald_mapper(path).alpha:.3f}"


def _sketch(path: Path) -> str:
    from ..networks.sketch_encoder import load_sketch_encoder

    load_sketch_encoder(path)
    return "IR-SE-50 first-stage encoder"


def _e4e(path: Path) -> str:
    from ..networks.e4e_encoder import load_e4e_encoder

    return f"Encoder4Editing, {load_e4e_encoder(path).n_styles} W+ rows"


def _hairclip(path: Path) -> str:
    from ..networks.hairclip_mapper import load_hairclip_mapper

    load_hairclip_mapper(path)
    return "HairCLIP mapper and its CLIP ViT-B/32"


def _pca(path: Path) -> str:
    from ..losses import load_latent_pca

    load_latent_pca(path)
    return "512-d PCA"


def _predictor(path: Path) -> str:
    from ..face.detect import load_predictor

    load_predictor(str(path))
    return "dlib 68 landmarks"


def _clip(path: Path) -> str:
    from ..networks.clip import load_clip_model

    load_clip_model(path)
    return "CLIP ViT-B/32"


def _vgg(path: Path) -> str:
    from ..networks.vgg import load_vgg16

    load_vgg16(path)
    return "VGG16 features"


def _lpips(path: Path) -> str:
    from ..checkpoints import load_strict, read_checkpoint
    from ..networks.vgg import LPIPS, VGG16Features

    load_strict(LPIPS(VGG16Features()).linear, read_checkpoint(path), path)
    return "LPIPS v0.1 linear layers"


def _fan(path: Path) -> str:
    from ..networks.fan import load_fan

    load_fan(path)
    return "FAN, 4 stacks"


def _recognition(path: Path) -> str:
    from ..evaluate.identity import load_recognition_model

    load_recognition_model(str(path))
    return "dlib face recognition, 128-d"


def _inception(path: Path) -> str:
    from ..networks.inception import load_inception

    load_inception(path)
    return "FID Inception v3"


def _lama(path: Path) -> str:
    from ..networks.lama import load_lama

    load_lama(path)
    return "LaMa big-lama generator"


def _tokenizer(path: Path) -> str:
    if path.stat().st_size == 0:
        raise HaireditError("empty file")
    return "tokenizer file"


# One checker per registry entry: it loads the file into its network, or raises. A file trusted
# on first use is recorded only once its checker has accepted it.
CHECKERS: dict[str, Callable[[Path], str]] = {
    "ffhq.pt": _generator,
    "ffhq_PCA.npz": _pca,
    "seg.pth": _parser,
    "bald_proxy.pt": _bald,
    "sketch_proxy.pt": _sketch,
    "e4e_ffhq_encode.pt": _e4e,
    "hairclip.pt": _hairclip,
    "shape_predictor_68_face_landmarks.dat": _predictor,
    "clip_vit_b32.safetensors": _clip,
    "clip_vocab.json": _tokenizer,
    "clip_merges.txt": _tokenizer,
    "vgg16-397923af.pth": _vgg,
    "lpips_vgg_v0.1.pth": _lpips,
    "3DFAN4-7835d9f11d.pth.tar": _fan,
    "dlib_face_recognition_resnet_model_v1.dat": _recognition,
    "pt_inception-2015-12-05-6726825d.pth": _inception,
    "big-lama.ckpt": _lama,
}


def verify(folder: str | Path | None = None) -> list[VerifyResult]:
    results = []
    for name in WEIGHTS:
        path = locate(name, folder)
        if path is None:
            results.append(VerifyResult(name, "missing"))
            continue
        entry = get_weight_file(name)
        try:
            hashed = check_file(path, entry, folder, record=False)  # a mismatch is refused before loading
            loaded = CHECKERS[name](path)
            if hashed == "unrecorded":
                record_file(path, entry, folder)
                hashed = "recorded now"
            results.append(VerifyResult(name, "ok", f"{loaded}; {HASH_CHECKS[hashed]} ({path})"))
        except HaireditError as error:
            results.append(VerifyResult(name, "failed", str(error)))
    return results
