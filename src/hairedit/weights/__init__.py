"""Pretrained files: where they come from (:mod:`.registry`), fetching them (:mod:`.download`),
checking them (:mod:`.lock`, :mod:`.verify`).

>>> from hairedit.weights import missing_files, missing_files_message
>>> from hairedit.weights.download import download
>>> missing = missing_files()                                  # doctest: +SKIP
>>> print(missing_files_message(missing))                      # doctest: +SKIP
>>> download([entry.name for entry in missing], progress=print)  # doctest: +SKIP
"""

# `download` (the function) stays in .download: exported here it would hide that module.
from .download import ensure, locate, missing_files, missing_files_message, missing_files_summary
from .progress import DownloadProgress, ProgressCallback
from .registry import WEIGHTS, WeightFile, get_weight_file, list_weight_files, weights_dir

__all__ = [
    "WEIGHTS",
    "DownloadProgress",
    "ProgressCallback",
    "WeightFile",
    "ensure",
    "get_weight_file",
    "list_weight_files",
    "locate",
    "missing_files",
    "missing_files_message",
    "missing_files_summary",
    "weights_dir",
]
