# Sourced by scripts/test and scripts/demo: installs the system packages AGB Local needs.
#
# - bubblewrap is the sandbox; without it AGB Local falls back to unsafe plain processes.
# - The code-space image's runtimes, from Debian's packages so that the sandboxes' system
#   python (/usr/bin/python3, the one a sandbox can see) has them: IPython and the data
#   stack for python cells, a JDK for java, R for r (docs/sandbox.md lists them).
# - Chromium for browser sessions (agb-browser-use-*): it runs headless inside each browser
#   session's sandbox, and playwright drives it over CDP (no browser download of its own).
#
# Idempotent and fast when everything is there: one `dpkg-query` decides, and apt runs (once,
# with a single `update`) only for what is missing.
_agb_system_packages=(
    bubblewrap
    python3-ipython python3-numpy python3-pandas python3-matplotlib python3-scipy
    python3-pil python3-requests
    default-jdk-headless
    r-base-core
    chromium
)

_agb_missing_packages() {
    local pkg
    for pkg in "$@"; do
        # `install ok installed` only: a removed package leaves `deinstall ... config-files`.
        if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
            echo "$pkg"
        fi
    done
}

if command -v dpkg-query >/dev/null 2>&1; then
    mapfile -t _agb_missing < <(_agb_missing_packages "${_agb_system_packages[@]}")
else
    _agb_missing=()
    command -v bwrap >/dev/null 2>&1 || _agb_missing=(bubblewrap)
fi

if [ "${#_agb_missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${_agb_missing[*]} (apt-get)..."
        apt-get update -qq >/dev/null
        # --no-install-recommends: the JDK and R pull in desktop and doc packages otherwise.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${_agb_missing[@]}" >/dev/null
    else
        echo "warning: ${_agb_missing[*]} not installed and cannot be installed here;" \
             "AGB Local will offer less (no bubblewrap: an unsafe plain-process fallback;" \
             "no IPython: the stdlib kernel; no JDK or R: no java or r; no chromium: no browser)" >&2
    fi
fi
unset _agb_system_packages _agb_missing
unset -f _agb_missing_packages
