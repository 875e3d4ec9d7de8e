# Sourced by crosscheck.sh and diffcheck.sh: sets `root`, `builds` and `venv`, moves to the
# repository's root, makes sure the venv holds backtesting 0.6.6 (installed once), and builds
# the command line first so that compiler output does not interleave with the report.
#
# Environment: PYTHON (default python3) makes the venv; CROSSCHECK_VENV overrides its place.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Where cargo writes its builds: CARGO_TARGET_DIR when set.
builds="${CARGO_TARGET_DIR:-target}"

python="${PYTHON:-python3}"
venv="${CROSSCHECK_VENV:-$root/target/crosscheck-venv}"

if ! "$venv/bin/python" -c 'import backtesting, sys; sys.exit(backtesting.__version__ != "0.6.6")' \
    >/dev/null 2>&1; then
    echo "installing backtesting==0.6.6 into $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check backtesting==0.6.6
fi

cargo build --quiet --release -p tracectx-cli
