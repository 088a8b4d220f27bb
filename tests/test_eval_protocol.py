"""`hairedit eval --protocol hairfast`: HairFastGAN's realism protocol on a folder of real photos
(the astronaut and a face cut from insightface's group photo), with the smoke editor."""

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from hairedit.cli import main
from hairedit.errors import InputError
from hairedit.evaluate.protocol import PUBLISHED, TABLE_HEADER, TABLE_TITLE, pair_photos, protocol_rows
from tests.real_photos import group_photo

# (left, top, right, bottom) of a face dlib finds in the group photo; cut with a box's margin around it.
GROUP_FACE_BOX = (1118, 283, 1226, 390)


def _names(pairings) -> list[tuple[str, str, str]]:
    return [(p.photo.name, p.hairstyle.name, p.color.name) for p in pairings]


def test_the_pairing_is_seeded_reproducible_and_takes_from_other_photos():
    photos = [Path(f"{index}.png") for index in range(7)]
    first = _names(pair_photos(photos, seed=3))
    assert first == _names(pair_photos(photos, seed=3))
    assert first != _names(pair_photos(photos, seed=4))
    for photo, hairstyle, color in first:
        assert len({photo, hairstyle, color}) == 3  # hairstyle and colour from two other photos
    assert [photo for photo, _, _ in first] == [photo.name for photo in photos]


def test_two_photos_take_from_each_other_and_one_is_refused():
    assert _names(pair_photos([Path("a.png"), Path("b.png")], 0)) == [("a.png", "b.png", "b.png"),
                                                                      ("b.png", "a.png", "a.png")]
    with pytest.raises(InputError, match="at least two photos"):
        pair_photos([Path("a.png")], 0)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("protocol_photos")
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    left, top, right, bottom = GROUP_FACE_BOX
    width, height = right - left, bottom - top
    face = group_photo()[top - height : bottom + height, left - width : right + width]
    Image.fromarray(face).save(folder / "group_face.png")
    return folder


def test_the_rows_hold_a_transfer_and_a_reconstruction_of_each_photo(photos):
    rows, cases = protocol_rows(photos, seed=0)
    assert list(cases.values()) == ["transfer", "reconstruction"] * 2
    transfer, reconstruction = rows[0], rows[1]
    assert Path(transfer.conditions["hairstyle_ref"]).name == "group_face.png"
    assert reconstruction.conditions == {"hairstyle_ref": reconstruction.photo, "color_ref": reconstruction.photo}


@pytest.fixture(scope="module")
def protocol_report(photos, tmp_path_factory):
    """The protocol with the instant preset on the two photos: four edits; the report folder and its JSON."""
    report = tmp_path_factory.mktemp("protocol") / "report"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["eval", str(photos), "--protocol", "hairfast", "--compare-presets", "instant", "--seed", "1",
                     "-o", str(report), "--smoke", "--json"])
    return code, report, json.loads(printed.getvalue())


def test_the_report_sets_each_case_beside_the_published_numbers(protocol_report):
    code, report, _ = protocol_report
    assert code == 0
    with open(report / "summary.csv", newline="") as handle:
        summary = {(row["preset"], row["metric"]): row for row in csv.DictReader(handle)}
    for metric in ("fid", "fid_clip", "lpips_crop", "psnr_crop"):
        assert summary[("instant / reconstruction", metric)]["count"] == "2", metric
    assert summary[("instant / transfer", "fid")]["count"] == "2"
    markdown = (report / "report.md").read_text()
    assert f"## {TABLE_TITLE}" in markdown
    assert "| " + " | ".join(TABLE_HEADER) + " |" in markdown
    for entry in PUBLISHED:
        assert f"| {entry.method} | transfer | CelebA-HQ (paper) | {entry.fid:.2f} | {entry.fid_clip:.2f} |" in markdown
    assert "| hairedit instant | transfer | 2 photos |" in markdown
    assert "| hairedit instant | reconstruction | 2 photos |" in markdown


def test_every_edit_is_listed_under_its_case_and_the_json_holds_the_table(protocol_report):
    _, report, printed = protocol_report
    with open(report / "edits.csv", newline="") as handle:
        edits = [(row["edit"], row["preset"]) for row in csv.DictReader(handle)]
    assert edits == [("1_astronaut_transfer", "instant / transfer"),
                     ("2_astronaut_reconstruction", "instant / reconstruction"),
                     ("3_group_face_transfer", "instant / transfer"),
                     ("4_group_face_reconstruction", "instant / reconstruction")]
    html = (report / "report.html").read_text()
    assert TABLE_TITLE.replace("'", "&#x27;") in html and "HairCLIPv2 (paper)" in html
    assert "<td>failed</td>" not in html  # a transfer has no reconstruction cell, and did not fail
    table = printed["tables"][TABLE_TITLE]
    assert [(row["method"], row["case"]) for row in table][2:] == [("hairedit instant", "transfer"),
                                                                   ("hairedit instant", "reconstruction")]
    assert table[-1]["PSNR ↑"] == f"{printed['summary']['instant / reconstruction']['psnr_crop']['mean']:.2f}"
    assert table[-2]["PSNR ↑"] == "–"  # LPIPS and PSNR are the reconstruction's measures


@pytest.mark.parametrize("argv, message", [
    (["{f}/astronaut.png", "--protocol", "hairfast", "-o", "{f}/r"], "folder of photos"),
    (["{f}", "--protocol", "hairfast"], "-o REPORT_DIR"),
    (["{f}", "--protocol", "hairfast", "--compare-presets", "turbo", "-o", "{f}/r"], "turbo"),
])
def test_bad_protocol_input_is_one_clear_line(photos, capsys, argv, message):
    assert main(["eval", *[arg.format(f=photos) for arg in argv], "--smoke"]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
