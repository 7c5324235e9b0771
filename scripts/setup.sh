#!/usr/bin/env bash
# Installs what building, running and testing need on a Debian machine (as root), and
# only what is missing. Sourced by scripts/start and scripts/test.
set -euo pipefail

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
command -v swift >/dev/null 2>&1 || { echo "setup: no Swift toolchain on PATH (expected Swift 6.1 or newer)" >&2; exit 1; }

# Chromium and its driver run the widget's browser tests (headless).
apt_packages=(librdkafka-dev libsqlite3-dev pkg-config python3-pip chromium chromium-driver fonts-dejavu-core libpango1.0-dev libcairo2-dev fonts-symbola poppler-utils)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python tools the tests use: the OpenAPI validator, a real Prometheus text parser, YAML,
# and Selenium, pytest and a WebSocket client for the browser tests.
python_modules=(openapi_spec_validator:openapi-spec-validator prometheus_client:prometheus-client yaml:pyyaml
  selenium:selenium pytest:pytest websockets:websockets)
missing_python=()
for entry in "${python_modules[@]}"; do
  python3 -c "import ${entry%%:*}" >/dev/null 2>&1 || missing_python+=("${entry#*:}")
done
if [ ${#missing_python[@]} -gt 0 ]; then
  echo "setup: installing ${missing_python[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${missing_python[@]}" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${missing_python[@]}"
fi
