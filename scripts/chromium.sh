#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser).
# Sourced by scripts/test.sh. Installs the package when it is missing and this user may.
if ! command -v chromium >/dev/null 2>&1 && [ -z "${PROPBRIDGE_CHROMIUM:-}" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium for the browser tests..." >&2
    apt-get install -y -q chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } \
      || echo "chromium could not be installed; the browser tests will say so and skip" >&2
  else
    echo "chromium is missing (install Debian's chromium package); the browser tests will skip" >&2
  fi
fi
