#!/usr/bin/env bash
# Builds the Python and JavaScript example adapters into target/guests/python-example.wasm and
# target/guests/js-example.wasm. Installs their pinned build tools (componentize-py from PyPI,
# componentize-js from npm) under target/tools, nowhere else. Rebuilds only when a source, the
# WIT or a tool pin changed; safe to run from several processes at once.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/target/tools"
out="$root/target/guests"
mkdir -p "$tools" "$out"
exec 9>"$tools/.lock"
flock 9

fingerprint() {
    (cd "$root" && find "$@" -type f ! -path '*/node_modules/*' ! -name '*.pyc' -print0 | sort -z |
        xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

# Runs "$@" only when the fingerprint of the inputs differs from the one stored in $stamp.
when_changed() {
    local stamp="$1" inputs="$2"
    shift 2
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$inputs" ]]; then
        return 0
    fi
    "$@"
    echo "$inputs" >"$stamp"
}

install_python_tools() {
    rm -rf "$tools/venv"
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check \
        -r "$root/guests/python-example/requirements.txt"
}

install_js_tools() {
    rm -rf "$tools/js"
    mkdir -p "$tools/js"
    cp "$root/guests/js-example/package.json" "$root/guests/js-example/package-lock.json" "$tools/js/"
    # `npm install` with the committed lock file: the same versions, and it tolerates optional
    # platform packages that a lock file written on another platform does not list.
    (cd "$tools/js" && npm install --no-audit --no-fund --loglevel=error)
}

when_changed "$tools/python.stamp" "$(fingerprint guests/python-example/requirements.txt)" install_python_tools
when_changed "$tools/js.stamp" "$(fingerprint guests/js-example/package.json guests/js-example/package-lock.json)" install_js_tools

when_changed "$out/python-example.stamp" "$(fingerprint wit guests/python-sdk guests/python-example)" \
    "$root/guests/python-example/build.sh" "$out/python-example.wasm" "$tools/venv/bin/componentize-py"
when_changed "$out/js-example.stamp" "$(fingerprint wit guests/js-sdk guests/js-example)" \
    "$root/guests/js-example/build.sh" "$out/js-example.wasm" "$tools/js/node_modules/.bin/componentize-js"
