# Shared by ./blockferry and scripts/test: make sure Debian packages are installed.
# Usage: ensure_packages PKG...   (installs them as root, otherwise prints the apt-get line and fails)

ensure_packages() {
  local missing=()
  local installed
  # One dpkg-query for all packages (this runs at every launch).
  installed="$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null | awk '/ install ok installed$/ {print $1}')"
  local pkg
  for pkg in "$@"; do
    grep -qx "$pkg" <<< "$installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "blockferry: missing Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "blockferry: installing ${missing[*]} ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q "${missing[@]}" >&2
  fi
}

# The packages every BlockFerry run needs: the JDK and Maven to build, libnbd and the NBD servers to run.
BLOCKFERRY_RUNTIME_PACKAGES=(openjdk-17-jdk-headless maven unzip nbdkit libnbd0 libnbd-bin qemu-utils)
