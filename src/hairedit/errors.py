"""Errors a user can act on. The CLI prints them as one line; anything else is a bug."""


class HaireditError(Exception):
    """Base class: the message says what was wrong and what to do."""


class InputError(HaireditError, ValueError):
    """A photo, sketch, mask, colour or option the user gave cannot be used."""


class FaceNotFoundError(InputError):
    """No usable face in the photo."""


class MissingWeightsError(HaireditError, FileNotFoundError):
    """A pretrained file is not on disk (and could not be downloaded)."""


class CheckpointError(HaireditError):
    """A checkpoint file is unreadable, unsafe, or does not fit its network."""


class ChecksumError(CheckpointError):
    """A pretrained file's size or sha256 differs from its pin or from the lock-file record."""


class DownloadError(HaireditError):
    """Every source of a pretrained file failed."""


class RequirementError(HaireditError, ImportError):
    """An installed library is older than hairedit needs."""


class EditInterrupted(HaireditError):
    """The user stopped a running edit."""
