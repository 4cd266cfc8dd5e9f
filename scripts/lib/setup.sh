# Sourced by scripts/run and scripts/test: make ./.venv with the project and its dependencies.
# Usage: . scripts/lib/setup.sh [extra]   (extra: "test" adds the test dependencies)

find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)." >&2
  return 1
}

setup_venv() {
  local extra="${1:-}" spec="." stamp want
  [ -n "$extra" ] && spec=".[$extra]"
  if [ ! -x .venv/bin/python ]; then
    local python; python=$(find_python) || return 1
    echo "Creating the virtual environment in .venv" >&2
    "$python" -m venv .venv
  fi
  # Reinstall only when the project's dependencies or the extras asked for have changed.
  want="$(cat pyproject.toml | sha256sum | cut -c1-16)-${extra:-base}"
  stamp=.venv/.installed
  if [ ! -f "$stamp" ] || ! grep -qx -- "$want" "$stamp"; then
    echo "Installing the platform and its dependencies into .venv" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip >&2
    .venv/bin/python -m pip install --quiet -e "$spec" >&2
    echo "$want" >> "$stamp"
  fi
}
