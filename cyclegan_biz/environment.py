"""Settings from environment variables: one prefix, ``CYCLEGAN_BIZ_``.

    CYCLEGAN_BIZ_MODEL, CYCLEGAN_BIZ_ENGINE, CYCLEGAN_BIZ_CONCURRENCY   the Space (see space/README.md)
    CYCLEGAN_BIZ_CACHE                                                  where exported ONNX files are cached
    CYCLEGAN_BIZ_DEBUG                                                  the CLI shows tracebacks

The old Space names ``CYCLEBIZ_*`` still work, deprecated: reading one logs a warning (once per name).
"""

from __future__ import annotations

import logging
import os
from functools import cache

PREFIX = "CYCLEGAN_BIZ_"
DEPRECATED_PREFIX = "CYCLEBIZ_"

log = logging.getLogger("cyclegan_biz")


def setting(name: str, default: str | None = None) -> str | None:
    """``CYCLEGAN_BIZ_<name>`` if set and not empty, else the deprecated ``CYCLEBIZ_<name>``, else ``default``."""
    value = os.environ.get(PREFIX + name)
    if value:
        return value
    value = os.environ.get(DEPRECATED_PREFIX + name)
    if value:
        _warn_deprecated(name)
        return value
    return default


@cache
def _warn_deprecated(name: str) -> None:
    log.warning("%s%s is deprecated; set %s%s instead", DEPRECATED_PREFIX, name, PREFIX, name)
