#!/usr/bin/env bash
# Installs Emacs and eglot for the Emacs test (tests/emacs/run.sh) when they are missing: Debian 12's
# emacs-nox (28.2) and elpa-eglot (1.9), with apt-get (needs root). Prints the emacs to use.
# Usage: bash tests/editors/install-emacs.sh
set -euo pipefail
have_eglot() {
    command -v emacs >/dev/null 2>&1 &&
        emacs --batch -Q -l "$(dirname "$0")/../emacs/packages.el" --eval '(require (quote eglot))' >/dev/null 2>&1
}
if ! have_eglot; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing emacs-nox and elpa-eglot (apt-get)" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends emacs-nox elpa-eglot >/dev/null
    else
        echo "error: the Emacs test needs emacs (28+) with eglot: on Debian 12, as root: apt-get install emacs-nox elpa-eglot" >&2
        exit 1
    fi
    have_eglot || { echo "error: emacs was installed but (require 'eglot) still fails" >&2; exit 1; }
fi
command -v emacs
