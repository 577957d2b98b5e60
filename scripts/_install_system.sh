# Sourced by scripts/test and scripts/demo: installs the system packages AGB Local needs.
# bubblewrap is the sandbox; without it AGB Local falls back to unsafe plain processes.
if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing bubblewrap (apt-get)..."
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
    else
        echo "warning: bubblewrap is not installed and cannot be installed here;" \
             "AGB Local will use its unsafe plain-process fallback" >&2
    fi
fi
