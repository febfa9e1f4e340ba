# Shared by start.sh and test.sh: install what Spillway needs, or say clearly what is missing.

die() { echo "spillway: $*" >&2; exit 1; }

check_node() {
  command -v node >/dev/null || die "Node.js 20.19+ is required (https://nodejs.org or Debian's nodejs package)."
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || die "Node.js 20.19+ is required; this is $(node --version)."
}

# npm ci when node_modules is missing or older than the lock file.
ensure_npm_deps() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "spillway: installing npm packages (npm ci)…"
    npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed"
  fi
}

APT_UPDATED=0
# ensure_debian_package COMMAND PACKAGE: installs PACKAGE from Debian when COMMAND is missing.
ensure_debian_package() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "spillway: installing $pkg from Debian's packages…"
    if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq || die "apt-get update failed"; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null || die "apt-get install $pkg failed"
    command -v "$cmd" >/dev/null || die "installed $pkg but $cmd is still not on PATH"
  else
    die "$cmd is missing: install Debian's $pkg package (sudo apt-get install $pkg) and run this again."
  fi
}

# tcp_open HOST PORT: true when something accepts connections there.
tcp_open() { node -e 'const s=require("net").connect(+process.argv[2],process.argv[1]);s.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(1));setTimeout(()=>process.exit(1),2000)' "$1" "$2"; }
