"""Errors a user can run into. Each message says what to do about it."""


class CycleBizError(Exception):
    """Base class for every error a user of cyclegan-biz can hit."""


class UnreadableImageError(CycleBizError):
    """The file is missing, not an image, or corrupt."""


class ImageTooLargeError(CycleBizError):
    """The image has more pixels than we agree to decode (decompression-bomb guard)."""


class NoFaceError(CycleBizError):
    """No face was found in the photo."""


class FaceTooSmallError(CycleBizError):
    """A face was found but it is too small to give a usable headshot."""


class MissingWeightsError(CycleBizError):
    """A model's weights are not on disk and cannot be downloaded."""


class OutputNotWritableError(CycleBizError):
    """The output file or folder cannot be written (read-only, a file in the way, no permission)."""


class InvalidOptionError(CycleBizError, ValueError):
    """An option value (colour, size, aspect, attire, engine) is not valid."""


class NoOutfitError(CycleBizError):
    """No outfit can be cut from the photo given as an outfit."""
