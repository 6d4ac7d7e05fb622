#!/usr/bin/env bash
# Installs Debian's Chromium for the Space's browser test (tests/test_space.py, marker "browser").
# Playwright drives this system browser (executable_path=/usr/bin/chromium); no browser is ever downloaded by
# Playwright itself. Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

BROWSER=/usr/bin/chromium
if [ -x "$BROWSER" ]; then
    echo "chromium already installed: $("$BROWSER" --version 2>/dev/null || echo "$BROWSER")"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_browser.sh: need root (or sudo) to apt-get install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
"$BROWSER" --version
