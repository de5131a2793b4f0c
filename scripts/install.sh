#!/usr/bin/env bash
# Set up voicebank on a Debian/Ubuntu machine: system libraries, a virtual environment
# in .venv, the package with its offline voice, and the tools the tests use.
# Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  libportaudio2 libsndfile1          # microphone and speakers (sounddevice), audio files
  espeak-ng wamerican                # phonemes for the prompt-script builder
  ffmpeg sox                         # audio conversion (audiobooks, tools)
  pulseaudio pulseaudio-utils libasound2-plugins tmux   # tests: a virtual sound card and a terminal
  chromium                           # tests: the speak board in a real browser (driven by Playwright)
  pocketsphinx-testdata              # tests: real recordings of a second speaker (speaker verification)
  speech-dispatcher                  # the Linux desktop's speech service (voice export --format speech-dispatcher)
)

if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "install.sh: not root and no sudo; install these Debian packages yourself: ${APT_PACKAGES[*]}" >&2
      SUDO="skip"
    fi
  fi
  if [ "$SUDO" != "skip" ]; then
    missing=()
    for p in "${APT_PACKAGES[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      echo "Installing system packages: ${missing[*]}"
      $SUDO apt-get update -q
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
  fi
else
  echo "install.sh: no apt-get here; install PortAudio, libsndfile, espeak-ng and ffmpeg with your package manager." >&2
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv || {
    echo "install.sh: '$PYTHON -m venv' failed; on Debian install python3-venv first." >&2
    exit 1
  }
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned: these builds run on CPU-only machines and match the GPU machines;
# left to the resolver, torch would come as a much larger build.
.venv/bin/python -m pip install -q torch==2.11.0 torchaudio==2.11.0 torchcodec==0.13.0
.venv/bin/python -m pip install -q -e ".[all,train,dev]"
# The instant voice's style vectors ship in the npm package kokoro-js; only its voices/ folder is
# kept, inside the venv, where voicebank looks for it (voicebank/engines/kokoro.py checks each file's sha256).
KOKORO_JS=.venv/share/voicebank/kokoro-js
if [ ! -d "$KOKORO_JS/voices" ] && ! command -v npm >/dev/null 2>&1 && [ "${SUDO-skip}" != "skip" ]; then
  # Debian's npm conflicts with a Node.js that bundles its own npm: only when there is none
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm \
    || echo "install.sh: could not install npm; the instant voice needs kokoro-js's voices (see docs/instant-voice.md)" >&2
fi
if [ ! -d "$KOKORO_JS/voices" ] && command -v npm >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent kokoro-js@1.2.1 >/dev/null && tar xzf kokoro-js-1.2.1.tgz)
  mkdir -p "$(dirname "$KOKORO_JS")" && rm -rf "$KOKORO_JS" && mv "$tmp/package" "$KOKORO_JS"
  rm -rf "$tmp"
fi
echo "voicebank is installed in .venv (run: .venv/bin/voicebank --help)"
