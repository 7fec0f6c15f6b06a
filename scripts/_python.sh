# Sourced by the scripts: finds Python >= 3.13 and prepares a virtual environment for it.
# shellcheck shell=bash
#
# Each interpreter gets its own venv, .venv/<python version>/ (one per test lane: the default
# interpreter gives the oldest supported Home Assistant, Python 3.14 the newest the harness
# loads). BOTSLAB_VENV names another directory. A venv is reinstalled only when
# requirements_test.txt (or this file's install steps) change.

botslab_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# bump when the install steps below change, so that existing venvs are completed
botslab_install_steps=8

botslab_python_ok() {
  [ -n "$1" ] && "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' >/dev/null 2>&1
}

# pyenv's installed Python 3.14 and 3.13 executables, newest first.
botslab_pyenv_pythons() {
  local pyenv_root="${PYENV_ROOT:-}" candidate exe
  if [ -z "$pyenv_root" ] && command -v pyenv >/dev/null 2>&1; then pyenv_root="$(pyenv root)"; fi
  [ -n "$pyenv_root" ] || pyenv_root="$HOME/.pyenv"
  [ -d "$pyenv_root/versions" ] || return 0
  for candidate in $(ls -1 "$pyenv_root/versions" | sort -t. -k1,1nr -k2,2nr -k3,3nr); do
    for exe in "$pyenv_root/versions/$candidate/bin/python3".{14,13}; do
      [ -x "$exe" ] && echo "$exe"
    done
  done
}

# Prints the path of a suitable interpreter: $PYTHON, then python3.14/python3.13 on PATH,
# then pyenv's installed versions (newest first).
botslab_find_python() {
  local candidate
  if [ -n "${PYTHON:-}" ]; then
    if botslab_python_ok "$PYTHON"; then echo "$PYTHON"; return 0; fi
    echo "PYTHON=$PYTHON is not a Python >= 3.13" >&2
    return 1
  fi
  for candidate in "$(command -v python3.14 2>/dev/null)" "$(command -v python3.13 2>/dev/null)" \
      $(botslab_pyenv_pythons); do
    if botslab_python_ok "$candidate"; then echo "$candidate"; return 0; fi
  done
  echo "No Python >= 3.13 found: set PYTHON=/path/to/python3.13" >&2
  return 1
}

# Prints the oldest suitable interpreter (a Python 3.13 before any 3.14): the first CI lane,
# which tests the oldest Home Assistant the harness pins for it.
botslab_find_oldest_python() {
  local candidate
  for candidate in "$(command -v python3.13 2>/dev/null)" $(botslab_pyenv_pythons | grep '3\.13$'); do
    if botslab_python_ok "$candidate"; then echo "$candidate"; return 0; fi
  done
  PYTHON="" botslab_find_python
}

botslab_python314_ok() {
  [ -n "$1" ] && "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 14, 2) else 1)' >/dev/null 2>&1
}

# Prints a Python >= 3.14.2 (what Home Assistant 2026.10 and newer need): $PYTHON, python3.14
# on PATH, or the one the workplace's tool makes (shared/tools/python3.14 beside the
# checkout, or BOTSLAB_PY314_TOOL). Exit status 1 where there is none.
botslab_find_python314() {
  local candidate tool
  for candidate in "${PYTHON:-}" "$(command -v python3.14 2>/dev/null)"; do
    if botslab_python314_ok "$candidate"; then echo "$candidate"; return 0; fi
  done
  # beside the checkout, or beside the checkout it was cloned from (a fresh clone for CI may
  # sit anywhere): never a path of one machine
  local origin
  origin="$(git -C "$botslab_root" config --get remote.origin.url 2>/dev/null || true)"
  [ -d "$origin" ] || origin=""
  for tool in "${BOTSLAB_PY314_TOOL:-}" "$botslab_root/../shared/tools/python3.14" \
      "$(dirname "$botslab_root")/../shared/tools/python3.14" \
      ${origin:+"$origin/../shared/tools/python3.14"}; do
    [ -n "$tool" ] && [ -x "$tool" ] || continue
    if candidate="$("$tool")" && botslab_python314_ok "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  echo "No Python >= 3.14.2 found (set PYTHON, or BOTSLAB_PY314_TOOL to shared/tools/python3.14)" >&2
  return 1
}

# Installs a Debian package where a check fails, when we may (root, apt-get); says so otherwise.
botslab_apt() {
  local check="$1" package="$2" why="$3"
  if eval "$check" >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's $package ($why)" >&2
    if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package") >/dev/null 2>&1; then
      return 0
    fi
  fi
  echo "$package could not be installed: $why" >&2
  return 1
}

# Python's C headers, for the few requirements that have no wheel for the interpreter (Home
# Assistant's assist_pipeline on Python 3.14: pymicro-vad, pyspeex-noise). The interpreter
# that shared/tools/python3.14 unpacks comes without them: they are unpacked beside it, from
# the same Debian suite. Prints nothing; exports CPATH where the headers need it.
botslab_python_headers() {
  local python="$1" include root minor work keyring mirror
  include="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" || return 1
  root="${include%/usr/include/*}"
  if [ ! -f "$include/Python.h" ] && [ "$root" != "$include" ] && [ -d "$root/usr/bin" ] \
      && [ "$root" != "" ] && command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
    minor="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
      | grep -oE '(https?://[^ ]+/debian)/?( |$)' | grep -v security | head -1 | tr -d ' ') || true
    if [ -r "$keyring" ] && [ -n "$mirror" ]; then
      echo "Unpacking Debian's libpython$minor-dev beside $python (C headers)" >&2
      work="$(mktemp -d)"
      mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
      echo "deb [signed-by=$keyring] ${mirror%/} sid main" >"$work/sources.list"
      local apt=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=/nonexistent
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
      if apt-get "${apt[@]}" update -qq >/dev/null 2>&1 \
          && (cd "$work/debs" && apt-get "${apt[@]}" download "libpython$minor-dev" >/dev/null 2>&1); then
        for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$root"; done
      fi
      rm -rf "$work"
    fi
  fi
  if [ -f "$include/Python.h" ] && [ "$root" != "$include" ] && [ -d "$root/usr/include" ]; then
    export CPATH="$root/usr/include${CPATH:+:$CPATH}"  # pyconfig.h includes <arch/python3.x/…>
  fi
  return 0
}

# What the installed Home Assistant's camera and stream components import (PyTurboJPEG,
# numpy, av), its frontend, what the frontend needs (tts: mutagen, which 2026.11 imports
# when it validates a selector), to list actions (assist_pipeline, imported by the base
# components: pymicro-vad, pyspeex-noise) and the media libraries the emulator shares with it
# (Pillow), at the versions that Home Assistant pins in its package_constraints.txt.
botslab_component_requirements() {
  local python="$1" pins
  botslab_python_headers "$python" || true
  pins="$("$python" - <<'PY'
import json, pathlib, homeassistant
root = pathlib.Path(homeassistant.__file__).parent
wanted = set()
for component in ("camera", "stream", "assist_pipeline", "tts"):
    manifest = json.loads((root / "components" / component / "manifest.json").read_text())
    wanted.update(r.split("==")[0].lower() for r in manifest.get("requirements", []))
wanted.add("pillow")
# the frontend: Home Assistant sets it up by default, and a start without it falls into
# recovery mode (the soak and the benchmarks start Home Assistant as a process)
wanted.add("home-assistant-frontend")
pins = []
for line in (root / "package_constraints.txt").read_text().splitlines():
    name = line.split("==")[0].strip().lower()
    if "==" in line and name in wanted:
        pins.append(line.strip())
print(" ".join(sorted(pins)))
PY
)" || return 1
  [ -n "$pins" ] || return 0
  echo "Installing what Home Assistant's camera and stream components need: $pins" >&2
  # shellcheck disable=SC2086
  "$python" -m pip install --quiet --disable-pip-version-check $pins >&2
}

# cffi as Home Assistant's package constraints pin it, module and compiled backend alike. A
# newer cffi from the requirements (2.1.1 beside 2026.10's pin of 2.0.0) is put back by Home
# Assistant itself when it installs an onboarded integration's requirements at run time,
# under a process that has loaded the newer backend: nothing using cffi imports after that
# (the end-to-end test's config flow: "Version mismatch"). An install may also leave the
# backend of another version behind (2026.11.0: cffi 2.0.0 with a 2.1.1 backend).
botslab_pin_cffi() {
  local python="$1" cffi
  cffi="$(grep -i '^cffi==' "$("$python" -c 'import homeassistant, pathlib; print(pathlib.Path(homeassistant.__file__).parent / "package_constraints.txt")')" || true)"
  [ -n "$cffi" ] || return 0
  "$python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$cffi" >&2
}

# Creates or reuses the venv of the interpreter found; reinstalls only when something changed.
botslab_venv() {
  local python version venv req="$botslab_root/requirements_test.txt" stamp want
  python="$(botslab_find_python)" || return 1
  version="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
  venv="${BOTSLAB_VENV:-$botslab_root/.venv/$version}"
  if [ -z "${BOTSLAB_VENV:-}" ] && [ -f "$botslab_root/.venv/pyvenv.cfg" ]; then
    echo "Removing the single venv in .venv/ (each Python has its own, .venv/<version>/, now)" >&2
    rm -rf "$botslab_root/.venv"
  fi
  stamp="$venv/.requirements.sha256"
  want="$( (cat "$req"; echo "$version steps=$botslab_install_steps") | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/python" ]; then
    echo "Creating $venv with $python (Python $version)" >&2
    "$python" -m venv "$venv" || return 1
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing requirements_test.txt into $venv (several minutes the first time)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 || return 1
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2 || return 1
    botslab_component_requirements "$venv/bin/python" || return 1
    botslab_pin_cffi "$venv/bin/python" || return 1
    echo "$want" >"$stamp"
  fi
  # PyTurboJPEG (Home Assistant's camera component) loads Debian's libturbojpeg
  botslab_apt "'$venv/bin/python' -c 'from turbojpeg import TurboJPEG; TurboJPEG()'" libturbojpeg0 \
    "Home Assistant's camera component loads it" || true
  export PATH="$venv/bin:$PATH"
  export VIRTUAL_ENV="$venv"
  export BOTSLAB_VENV_DIR="$venv"
}

# Creates or reuses .venv/ha-<version>/ holding that Home Assistant release (a release the test
# harness cannot load, such as 2026.11.0, runs through scripts/develop and the end-to-end
# test): Home Assistant itself, its frontend, what its camera and stream components import,
# and this integration's requirements. Prints the venv's python. The interpreter: $PYTHON, or
# a Python >= 3.14.2 (what 2026.x needs), or the default one.
botslab_ha_venv() {
  local version="$1" python venv stamp want frontend requirements
  python="$(botslab_find_python314 2>/dev/null || botslab_find_python)" || return 1
  venv="$botslab_root/.venv/ha-$version"
  stamp="$venv/.requirements.sha256"
  want="$( (echo "$version steps=$botslab_install_steps"; "$python" --version; \
    cat "$botslab_root/custom_components/botslab/manifest.json") | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
    echo "$venv/bin/python"
    return 0
  fi
  echo "Installing Home Assistant $version into $venv with $python" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2 || return 1
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 || return 1
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "homeassistant==$version" >&2 \
    || return 1
  frontend="$("$venv/bin/python" - <<'PY'
import pathlib, homeassistant
constraints = pathlib.Path(homeassistant.__file__).parent / "package_constraints.txt"
print(next(l.strip() for l in constraints.read_text().splitlines() if l.startswith("home-assistant-frontend==")))
PY
)" || return 1
  requirements="$("$venv/bin/python" -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))["requirements"]))' \
    "$botslab_root/custom_components/botslab/manifest.json")" || return 1
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$frontend" $requirements >&2 \
    || return 1
  botslab_component_requirements "$venv/bin/python" || return 1
  botslab_pin_cffi "$venv/bin/python" || return 1
  echo "$want" >"$stamp"
  echo "$venv/bin/python"
}
