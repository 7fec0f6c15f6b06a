# Sourced by the scripts: finds Python >= 3.13 and prepares .venv/ from requirements_test.txt.
# shellcheck shell=bash

botslab_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

botslab_python_ok() {
  [ -n "$1" ] && "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' >/dev/null 2>&1
}

# Prints the path of a suitable interpreter: $PYTHON, then python3.14/python3.13 on PATH,
# then pyenv's installed versions (newest first).
botslab_find_python() {
  local candidate
  for candidate in "${PYTHON:-}" "$(command -v python3.14 2>/dev/null)" "$(command -v python3.13 2>/dev/null)"; do
    if botslab_python_ok "$candidate"; then echo "$candidate"; return 0; fi
  done
  local pyenv_root="${PYENV_ROOT:-}"
  if [ -z "$pyenv_root" ] && command -v pyenv >/dev/null 2>&1; then pyenv_root="$(pyenv root)"; fi
  [ -n "$pyenv_root" ] || pyenv_root="$HOME/.pyenv"
  if [ -d "$pyenv_root/versions" ]; then
    for candidate in $(ls -1 "$pyenv_root/versions" | sort -t. -k1,1nr -k2,2nr -k3,3nr); do
      for exe in "$pyenv_root/versions/$candidate/bin/python3".{14,13}; do
        if botslab_python_ok "$exe"; then echo "$exe"; return 0; fi
      done
    done
  fi
  echo "No Python >= 3.13 found: set PYTHON=/path/to/python3.13" >&2
  return 1
}

# Creates or reuses .venv/; reinstalls only when requirements_test.txt changed.
botslab_venv() {
  local venv="$botslab_root/.venv" req="$botslab_root/requirements_test.txt"
  local stamp="$venv/.requirements.sha256" want python
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && ! botslab_python_ok "$venv/bin/python"; then
    echo "Removing $venv: its Python is older than 3.13" >&2
    rm -rf "$venv"
  fi
  if [ ! -x "$venv/bin/python" ]; then
    python="$(botslab_find_python)" || return 1
    echo "Creating $venv with $python ($("$python" --version 2>&1))" >&2
    "$python" -m venv "$venv" || return 1
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing requirements_test.txt into $venv (several minutes the first time)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 || return 1
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2 || return 1
    echo "$want" >"$stamp"
  fi
  export PATH="$venv/bin:$PATH"
  export VIRTUAL_ENV="$venv"
}
