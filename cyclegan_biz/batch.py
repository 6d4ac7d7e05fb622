"""Converting many photos with one pipeline: the loop shared by ``cyclegan-biz convert`` and the evaluation.

Each failed photo is reported (one line) and recorded, never raised, so one bad photo does not stop a folder.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import CycleBizError, OutputNotWritableError

OUTPUT_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}
ENCODE_OPTIONS = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"quality": 95}, "PNG": {}}


def error_line(path: Any, err: BaseException) -> str:
    """``error: PATH: message`` on one line (the message without a repeated path)."""
    message = " ".join(str(err).split()) or type(err).__name__
    message = message.removeprefix(f"{path}: ")
    if not isinstance(err, CycleBizError):
        message = f"unexpected {type(err).__name__}: {message}"
    return f"error: {path}: {message}"


def not_writable(path: Path, err: OSError) -> OutputNotWritableError:
    """The user-facing error for an output that cannot be written."""
    reason = err.strerror or type(err).__name__
    if isinstance(err, (FileExistsError, NotADirectoryError)):
        reason = "a file is in the way (a folder is needed there)"
    return OutputNotWritableError(f"cannot write to {path}: {reason}. Choose another --output.")


def save_image(image, target: Path) -> None:
    """Write atomically (no half-written file when interrupted), in the format of the file's suffix; raises
    ``OutputNotWritableError``."""
    fmt = OUTPUT_FORMATS.get(target.suffix.lower(), "JPEG")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(tmp, format=fmt, **ENCODE_OPTIONS[fmt])
        os.replace(tmp, target)
    except OSError as err:
        raise not_writable(target, err) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _real(path: Path) -> str:
    try:
        return os.path.normcase(str(path.resolve()))
    except OSError:
        return str(path)


def _refusal(source: Path, target: Path, inputs: set[str], overwrite: bool) -> tuple[str, str] | None:
    """(line to report, recorded error) when ``target`` must not be written, else None."""
    if _real(target) in inputs:  # even overwrite never replaces a photo being converted
        return (f"error: {source}: the output {target} is one of the input photos; choose another --output",
                f"{target} is an input photo")
    if target.exists() and not overwrite:
        return f"error: {source}: {target} already exists; pass --overwrite to replace it", f"{target} already exists"
    return None


def convert_files(pipe_factory: Callable[[], Any], pairs: Sequence[tuple[Path, Path]], options: Mapping[str, Any],
                  overwrite: bool = False, report: Callable[[str], None] = print, reraise: bool = False,
                  results: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Convert each (input, target) with ``pipe(input, **options)``; one result dict per pair.

    ``pipe_factory`` is called once, at the first photo that needs it (a model that cannot load raises). Failures
    are reported and recorded (``ok``, ``error``, ``error_type``); ``reraise`` raises them instead (debugging).
    Entries are appended to ``results`` as they are made, so a caller still has them when the model fails to load
    or on Ctrl-C (both raised).
    """
    from tqdm.auto import tqdm

    results = [] if results is None else results
    pipe = None
    inputs = {_real(source) for source, _ in pairs}
    with tqdm(total=len(pairs), unit="photo", file=sys.stderr, disable=len(pairs) < 2 or None, leave=False) as bar:
        for source, target in pairs:
            bar.set_postfix_str(source.name, refresh=False)
            entry: dict[str, Any] = {"input": str(source), "output": str(target)}
            results.append(entry)
            refusal = _refusal(source, target, inputs, overwrite)
            if refusal is not None:
                report(refusal[0])
                entry.update(ok=False, error=refusal[1], error_type="FileExistsError")
                bar.update()
                continue
            pipe = pipe or pipe_factory()
            try:
                result = pipe(source, **options)
                start = time.perf_counter()
                save_image(result.image, target)
                result.timings["encode"] = time.perf_counter() - start
            except Exception as err:  # noqa: BLE001 - one line per failed photo; the others go on
                if reraise:
                    raise
                report(error_line(source, err))
                entry.update(ok=False, error=" ".join(str(err).split()), error_type=type(err).__name__)
            else:
                _report_warnings(source, result, report)
                entry.update(ok=True, attire=result.attire, attire_confidence=result.attire_confidence,
                             outfit=result.outfit, warnings=result.warnings,
                             face_box=[round(v, 1) for v in result.face_box], faces_found=result.faces_found,
                             size=list(result.image.size),
                             framing=None if result.framing is None else result.framing.matrix.round(6).tolist(),
                             timings={k: round(v, 4) for k, v in result.timings.items()})
            bar.update()
    return results


def _report_warnings(source: Path, result: Any, report: Callable[[str], None]) -> None:
    if result.faces_found > 1:
        report(f"warning: {source}: {result.faces_found} faces in the photo; the largest was used "
               "(crop the photo to choose another)")
    for warning in result.warnings:
        report(f"warning: {source}: {warning}")
