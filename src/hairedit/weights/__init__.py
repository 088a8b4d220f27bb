"""Pretrained files: where they come from (:mod:`.registry`), fetching them, checking them."""

from .registry import WEIGHTS, WeightFile, get_weight_file, list_weight_files, weights_dir

__all__ = ["WEIGHTS", "WeightFile", "get_weight_file", "list_weight_files", "weights_dir"]
