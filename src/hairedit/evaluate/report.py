"""Writing measured edits as tables (Markdown, CSV), JSON and an HTML report.

A report folder holds ``report.html`` (the summary, an image grid: each photo before, then
each preset's edit, the metrics' distributions and quality against seconds per edit),
``report.md`` (the tables), ``edits.csv`` (every metric of every edit), ``summary.csv``
(per group and metric: mean, 95% half-width, count) and ``images/``. Edits are grouped by
preset; edits without one form the group "edits". A report may carry tables of its own
(``Report.tables``: HairFastGAN's protocol's, with the published numbers), shown after the summary.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from ..atomic import write_atomically
from ..errors import InputError
from ..imageio import save_image
from ..output_paths import check_writable_folder
from .measure import HIGHER_IS_BETTER, Measured
from .needs import SET_METRICS
from .plots import scatter_plot, strip_plot
from .sets import Interval, SetInterval

# The columns of the tables, in this order where present (the CSV holds every metric).
MAIN_METRICS = (
    "identity", "psnr", "ssim", "psnr_outside", "ssim_outside", "lpips_outside", "psnr_outside_crop", "ssim_outside_crop",
    "lpips_outside_crop", "psnr_crop", "lpips_crop", "clip_score", "color_clip_score", "color_delta_e", "mask_iou",
    "sketch_coverage", "seconds",
)
# Drawn against seconds per edit: identity, preservation and whatever the conditions measure.
QUALITY_METRICS = tuple(name for name in MAIN_METRICS if name not in ("seconds",) and not name.endswith("_crop"))
REPORT_FILES = ("report.html", "report.md", "edits.csv", "summary.csv")
PSNR_NOTE = "PSNR of a set: that of the edits' mean squared error, edits with nothing changed (inf) included."
DEFAULT_GROUP = "edits"


@dataclass
class Failure:
    """An edit that could not be made or measured, and why (one line)."""

    name: str
    preset: str
    message: str


@dataclass
class Report:
    """What a report shows: the measured edits, each group's summary, the failures."""

    title: str
    measured: list[Measured]
    summaries: dict[str, dict[str, Interval | float]]  # group -> metric -> value
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # metric -> why not measured (files missing)
    tables: dict[str, tuple[list[str], list[list[str]]]] = field(default_factory=dict)  # title -> (header, rows)

    @property
    def groups(self) -> list[str]:
        return list(self.summaries)

    def metric_names(self) -> list[str]:
        names = list(dict.fromkeys(name for item in self.measured for name in item.metrics))
        return [name for name in MAIN_METRICS if name in names] + [name for name in names if name not in MAIN_METRICS]

    def main_metrics(self) -> list[str]:
        names = self.metric_names()
        return [name for name in MAIN_METRICS if name in names]

    def set_metrics(self) -> list[str]:
        return [name for name in SET_METRICS if any(name in summary for summary in self.summaries.values())]


def group_of(item: Measured | Failure) -> str:
    return item.preset or DEFAULT_GROUP


def format_value(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def format_summary(value: Interval | SetInterval | float | None) -> str:
    if isinstance(value, SetInterval):
        text = format_value(value.value)
        return text if math.isnan(value.low) else f"{text} [{format_value(value.low)}, {format_value(value.high)}]"
    if isinstance(value, Interval):
        text = format_value(value.mean)
        return text if math.isnan(value.half_width) else f"{text} ± {format_value(value.half_width)}"
    return format_value(value)


def json_value(value: float | None) -> float | str | None:
    """A metric as strict JSON: nan (not measured) as null, an infinite PSNR (identical pixels) as "inf"."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def report_json(report: Report) -> dict:
    """The report as strict JSON: every edit's metrics, each group's summary, the failures."""

    def summary_json(value: Interval | SetInterval | float) -> dict | float | str | None:
        if isinstance(value, SetInterval):
            return {"value": json_value(value.value), "ci95": [json_value(value.low), json_value(value.high)],
                    "count": value.count}
        if isinstance(value, Interval):
            return {"mean": json_value(value.mean), "ci95": json_value(value.half_width), "count": value.count}
        return json_value(value)

    return {
        "edits": [
            {"name": item.name, "preset": item.preset, **{k: json_value(v) for k, v in item.metrics.items()}}
            for item in report.measured
        ],
        "summary": {g: {k: summary_json(v) for k, v in s.items()} for g, s in report.summaries.items()},
        "failures": [vars(failure) for failure in report.failures],
        "notes": report.notes,
        "skipped": report.skipped,
        "tables": {title: [dict(zip(header, row)) for row in rows] for title, (header, rows) in report.tables.items()},
    }


# -- Markdown and CSV ----------------------------------------------------------------------------


def markdown(report: Report) -> str:
    lines = [f"# {report.title}", ""]
    lines += [f"> {note}" for note in report.notes] + ([""] if report.notes else [])
    lines += ["## Summary (mean ± 95% interval)", "", _markdown_table(*_summary_table(report)), ""]
    lines += [PSNR_NOTE, ""] if _has_psnr(report) else []
    for title, (header, rows) in report.tables.items():
        lines += [f"## {title}", "", _markdown_table(header, rows), ""]
    names = report.main_metrics()
    rows = [[item.name, group_of(item)] + [format_value(item.metrics.get(n)) for n in names] for item in report.measured]
    lines += ["## Every edit", "", _markdown_table(["edit", "preset"] + names, rows), ""]
    if report.failures:
        lines += ["## Failures", ""] + [f"- {f.name} ({group_of(f)}): {f.message}" for f in report.failures] + [""]
    return "\n".join(lines)


def _summary_table(report: Report) -> tuple[list[str], list[list[str]]]:
    """Metrics down, groups across."""
    header = ["metric"] + [f"{group} ({_count(report, group)} edits)" for group in report.groups]
    rows = []
    for name in report.main_metrics() + report.set_metrics():
        arrow = " ↑" if name in HIGHER_IS_BETTER else " ↓"
        cells = [_summary_cell(report.summaries[group].get(name), _count(report, group)) for group in report.groups]
        rows.append([name + arrow] + cells)
    return header, rows


def _has_psnr(report: Report) -> bool:
    return any(name.startswith("psnr") for name in report.main_metrics())


def _summary_cell(value: Interval | float | None, edits: int) -> str:
    """The value, saying over how many edits where some were left out (infinite or not measured)."""
    text = format_summary(value)
    if isinstance(value, Interval) and 0 < value.count < edits:
        text += f" (n={value.count})"
    return text


def _count(report: Report, group: str) -> int:
    return sum(group_of(item) == group for item in report.measured)


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header))] + [line(row) for row in rows])


def edits_csv(report: Report) -> str:
    names = report.metric_names()
    rows = [[item.name, item.preset] + [format_value(item.metrics.get(n)) for n in names] for item in report.measured]
    return _csv(["edit", "preset"] + names, rows)


def summary_csv(report: Report) -> str:
    rows = []
    for group, summary in report.summaries.items():
        for name, value in summary.items():
            if isinstance(value, SetInterval):
                rows.append([group, name, format_value(value.value), format_summary(value).partition(" ")[2], value.count])
            elif isinstance(value, Interval):
                rows.append([group, name, format_value(value.mean), format_value(value.half_width), value.count])
            else:
                rows.append([group, name, format_value(value), "", ""])
    return _csv(["preset", "metric", "mean", "ci95", "count"], rows)


def _csv(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


# -- HTML ---------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 24px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.grid td { text-align: center; vertical-align: top; font-size: 12px; }
.grid img { width: 200px; height: 200px; display: block; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.note { background: #fff4d6; padding: 8px 12px; border-left: 4px solid #e6a800; }
"""
GRID_METRICS = ("identity", "lpips_outside", "seconds")  # printed under each image of the grid


def html(report: Report, images: dict[tuple[str, str], str]) -> str:
    """The page; ``images`` maps (edit name, group or "before") to an image path relative to it."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(report.title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{escape(report.title)}</h1>"]
    parts += [f"<p class='note'>{escape(note)}</p>" for note in report.notes]
    parts += ["<h2>Summary (mean ± 95% interval)</h2>", _html_table(*_summary_table(report))]
    parts += [f"<p>{escape(PSNR_NOTE)}</p>"] if _has_psnr(report) else []
    for title, (header, rows) in report.tables.items():
        parts += [f"<h2>{escape(title)}</h2>", _html_table(header, rows)]
    parts += ["<h2>Before and after</h2>", _image_grid(report, images)]
    parts += ["<h2>Distributions</h2><div class='charts'>", *_distributions(report), "</div>"]
    parts += ["<h2>Quality against seconds per edit</h2><div class='charts'>", *_quality_vs_time(report), "</div>"]
    names = report.main_metrics()
    rows = [[item.name, group_of(item)] + [format_value(item.metrics.get(n)) for n in names] for item in report.measured]
    parts += ["<h2>Every edit</h2>", _html_table(["edit", "preset"] + names, rows)]
    if report.failures:
        parts.append("<h2>Failures</h2><ul>")
        parts += [f"<li>{escape(f.name)} ({escape(group_of(f))}): {escape(f.message)}</li>" for f in report.failures]
        parts.append("</ul>")
    return "".join(parts) + "</body></html>"


def _html_table(header: list[str], rows: list[list[str]], css_class: str = "", cells_are_html: bool = False) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if cells_are_html else escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table class='{css_class}'><tr>{head}</tr>{body}</table>"


def _image_grid(report: Report, images: dict[tuple[str, str], str]) -> str:
    """One row per edited photo: before, then each group's edit with a few of its metrics."""
    by_name: dict[str, dict[str, Measured]] = {}
    for item in report.measured:
        by_name.setdefault(item.name, {})[group_of(item)] = item
    failed = {(failure.name, group_of(failure)) for failure in report.failures}
    rows = []
    for name, items in by_name.items():
        cells = [f"<b>{escape(name)}</b><img src='{escape(images[(name, 'before')])}' alt='{escape(name)} before'>"]
        for group in report.groups:
            item = items.get(group)
            if item is None:  # failed, or not an edit of this group (--protocol: another case)
                cells.append("failed" if (name, group) in failed else "")
                continue
            figures = "<br>".join(f"{metric} {format_value(item.metrics.get(metric))}" for metric in GRID_METRICS)
            cells.append(f"<img src='{escape(images[(name, group)])}' alt='{escape(name)} {escape(group)}'>{figures}")
        rows.append(cells)
    return _html_table(["before"] + report.groups, rows, css_class="grid", cells_are_html=True)


def _distributions(report: Report) -> list[str]:
    charts = []
    for name in report.main_metrics():
        series = {g: [item.metrics.get(name, math.nan) for item in report.measured if group_of(item) == g]
                  for g in report.groups}
        means = {g: report.summaries[g].get(name) for g in report.groups}
        charts.append(strip_plot(name, series, means, "higher" if name in HIGHER_IS_BETTER else "lower"))
    return charts


def _quality_vs_time(report: Report) -> list[str]:
    if "seconds" not in report.metric_names():
        return ["<p>No timings: the edits' seconds per stage are not known.</p>"]
    charts = []
    for name in (n for n in QUALITY_METRICS if n in report.metric_names()):
        series = {g: [(item.metrics.get("seconds", math.nan), item.metrics.get(name, math.nan))
                      for item in report.measured if group_of(item) == g] for g in report.groups}
        better = "higher" if name in HIGHER_IS_BETTER else "lower"
        charts.append(scatter_plot(f"{name} against time", "seconds per edit", f"{name} ({better} is better)", series))
    return charts


# -- the folder ---------------------------------------------------------------------------------


def check_report_folder(folder: Path, overwrite: bool) -> None:
    """Refuse, before any work, a folder that is a file or already holds a report."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file; give a folder for the report.")
    check_writable_folder(folder)
    taken = [name for name in REPORT_FILES if (folder / name).exists()]
    if taken and not overwrite:
        raise InputError(f"{folder} already holds {taken[0]}; pass --overwrite or choose another folder.")


def write_report(folder: Path, report: Report, overwrite: bool = False) -> Path:
    """Write the report folder (see the module notes); returns the HTML page's path."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    images: dict[tuple[str, str], str] = {}
    numbers = {name: index for index, name in enumerate(dict.fromkeys(item.name for item in report.measured))}
    for item in report.measured:
        for key, picture in (("before", item.thumbnail_before), (group_of(item), item.thumbnail_after)):
            if (item.name, key) not in images:
                relative = f"images/{numbers[item.name]:03d}_{_file_name(item.name)}_{_file_name(key)}.jpg"
                save_image(picture, folder / relative, overwrite=overwrite)
                images[(item.name, key)] = relative
    texts = {"report.md": markdown(report), "edits.csv": edits_csv(report), "summary.csv": summary_csv(report),
             "report.html": html(report, images)}
    for name, text in texts.items():
        write_atomically(folder / name, lambda handle, text=text: handle.write(text.encode("utf-8")), overwrite)
    return folder / "report.html"


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "edit"
