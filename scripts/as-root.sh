# Sourced by the scripts in scripts/: run the calling script as root.
# As root (a fresh Debian machine has no sudo), this does nothing. As another user it
# re-runs the script through sudo, keeping the user's Rust toolchain (PATH, CARGO_HOME,
# RUSTUP_HOME) and the variables the tests read; without sudo it says what to do.
if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "$0: needs root (network namespaces, Open vSwitch daemons, apt-get); run it as root" >&2
        exit 1
    fi
    export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
    exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME,CARGO_TARGET_DIR,OVS_TESTS_STRICT,RUST_LOG,CI "$0" "$@"
fi
