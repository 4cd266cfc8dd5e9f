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

# Browser tests (tests/browser): Debian's Chromium, and axe-core from the npm registry under var/browser/.
# Playwright's own browser download is not used. Without Chromium only the browser tests are skipped, loudly.
setup_browser_tests() {
  local chromium="${CHROMIUM:-/usr/bin/chromium}" axe_dir=var/browser
  if [ ! -x "$chromium" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing Chromium for the browser tests (apt-get install chromium)" >&2
      { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } >&2 || true
    fi
  fi
  if [ ! -x "$chromium" ]; then
    echo "" >&2
    echo "!!! Chromium is not at $chromium and could not be installed here (apt-get failed, or this is not root)." >&2
    echo "!!! THE BROWSER TESTS ARE SKIPPED. Install it: sudo apt-get install chromium" >&2
    echo "" >&2
    export BROWSER_TESTS_SKIP="Chromium is missing at $chromium"
    return 0
  fi
  export CHROMIUM="$chromium"
  if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
    if command -v npm >/dev/null 2>&1; then
      echo "Installing axe-core for the accessibility check (npm, into $axe_dir)" >&2
      mkdir -p "$axe_dir"
      npm install --silent --no-audit --no-fund --no-save --prefix "$axe_dir" axe-core@4.14.1 >&2 || true
    fi
  fi
  if [ -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
    export AXE_JS="$PWD/$axe_dir/node_modules/axe-core/axe.min.js"
  else
    echo "!!! axe-core could not be installed (no npm?): the accessibility check is skipped." >&2
  fi
}

# The test hosts of scripts/cluster (tests/e2e/test_cluster.py): Debian's HAProxy and PgBouncer, installed when this
# runs as root; without them (or without root, iproute2, Redis or PostgreSQL 15's server) only that test is skipped.
setup_cluster_tests() {
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 \
     && { [ ! -x /usr/sbin/haproxy ] || [ ! -x /usr/sbin/pgbouncer ]; }; then
    echo "Installing HAProxy and PgBouncer for the cluster test (apt-get install haproxy pgbouncer)" >&2
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy pgbouncer; } >&2 || true
  fi
}
