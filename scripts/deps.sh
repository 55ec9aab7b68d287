# Sourced by scripts/run and scripts/test: install the Debian packages the
# project needs, quietly, and only those that are missing.
mqs_install_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

MQS_BUILD_PACKAGES=(build-essential cmake ninja-build pkg-config libuv1-dev libssl-dev libyaml-dev libraft-dev libsystemd-dev)
# python3-paho-mqtt: the Paho interoperability scenarios (tests/interop).
MQS_TEST_PACKAGES=(libcmocka-dev libmosquitto-dev mosquitto-clients mosquitto clang libclang-rt-14-dev faketime python3 python3-paho-mqtt prometheus curl
    man-db groff-base systemd dpkg-dev file chromium)
# Node.js and npm for the browser test's MQTT.js (mqs_install_node): from
# Debian unless the machine already has them (a Node.js that bundles npm,
# as NodeSource's does, conflicts with Debian's npm package).
mqs_install_node() {
    command -v node >/dev/null && command -v npm >/dev/null && return 0
    command -v node >/dev/null || mqs_install_packages nodejs
    command -v npm >/dev/null || mqs_install_packages npm
}
# scripts/package: dpkg-shlibdeps (dpkg-dev) and file, which CPack's DEB
# generator uses to find the package's library dependencies.
MQS_PACKAGE_PACKAGES=(dpkg-dev file)

# Install an npm package at a pinned version into DIR/node_modules, only if
# it is not there already (tests/e2e/test_browser.sh: MQTT.js for Chromium).
mqs_install_npm() {
    local dir=$1 name=$2 version=$3 have=""
    have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$dir/node_modules/$name/package.json" 2>/dev/null | head -n 1)
    [[ "$have" == "$version" ]] && return 0
    echo "installing: npm $name@$version into $dir"
    mkdir -p "$dir" && npm install --prefix "$dir" --no-audit --no-fund --no-save --silent "$name@$version" >/dev/null
}
