#!/usr/bin/env bash
# Debian's Chromium and its WebDriver for the studio's end-to-end browser test
# (tests/studio/test_browser.py): installs chromium + chromium-driver when missing (as root,
# apt-get), does nothing when both are there. Like scripts/slurm_local.sh, CI runs it and then
# requires the test (RVQVAE_REQUIRE_CHROMIUM=1); `make test` runs it and the test skips, saying
# why, where it could not install them. Log: /tmp/chromium_local_apt.log.
set -euo pipefail

have() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }
if have; then
    echo "chromium_local: $(chromium --version 2>/dev/null | head -n1) and chromedriver present"
    exit 0
fi
[[ $(id -u) == 0 ]] || { echo "chromium_local: needs root to apt-get install chromium" >&2; exit 1; }
command -v apt-get >/dev/null || { echo "chromium_local: no apt-get" >&2; exit 1; }
pkgs=(chromium chromium-driver)
export DEBIAN_FRONTEND=noninteractive
{ apt-get install -y -qq --no-install-recommends "${pkgs[@]}" \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; }; \
    } >/tmp/chromium_local_apt.log 2>&1 \
    || { echo "chromium_local: apt-get install failed, see /tmp/chromium_local_apt.log" >&2; exit 1; }
have || { echo "chromium_local: installed, but chromium or chromedriver is not on PATH" >&2; exit 1; }
echo "chromium_local: installed $(chromium --version 2>/dev/null | head -n1)"
