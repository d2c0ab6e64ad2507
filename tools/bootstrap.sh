#!/usr/bin/env bash
# Installs, with apt-get, whatever convtape's build, tests and examples need and this machine
# lacks (Debian 12 / Ubuntu package names). Does nothing when all is present.
# The LeNet example reads Fashion-MNIST (dataset-fashion-mnist: a 31 MB download, 30 MB
# installed, the four gzipped IDX files in /usr/share/datasets/fashion-mnist/) and gunzips it
# with zlib (zlib1g-dev); both are in the default set because ctest runs that example.
# Usage: tools/bootstrap.sh [extra-package ...]
# Extra packages can also come from the environment, CONVTAPE_BOOTSTRAP_EXTRA="clang doxygen"
# (CI uses it so that the README's command, run verbatim, installs everything CI needs).
set -euo pipefail

# shellcheck disable=SC2206  # word splitting of the package list is intended
packages=(cmake make g++ pkg-config libeigen3-dev catch2 libstb-dev zlib1g-dev dataset-fashion-mnist
  "$@" ${CONVTAPE_BOOTSTRAP_EXTRA:-})

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bootstrap: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "bootstrap: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
