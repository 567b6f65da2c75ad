# Sourced by scripts/test and scripts/up: create .venv and install directlink into
# it with the extras asked for ("" or "test"), only when they are not there yet.
#
# Stamps in .venv record what is installed for this pyproject.toml: the package
# (.installed-HASH) and each extra (.installed-HASH-EXTRA). An extra is installed
# with the package, so `up` after `test` installs nothing, `test` after `up`
# installs only the extra, and a changed pyproject.toml (another HASH) installs
# again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
EXTRAS="${1:-}"
stamp="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
new_venv=""
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    new_venv=1
fi
have_package=""
for file in "$stamp" "$stamp"-*; do
    if [ -e "$file" ]; then have_package=1; fi
done
extras=()
if [ -n "$EXTRAS" ]; then IFS=',' read -r -a extras <<< "$EXTRAS"; fi
missing=""
for extra in ${extras[@]+"${extras[@]}"}; do
    if [ ! -e "$stamp-$extra" ]; then missing=1; fi
done
if [ -z "$have_package" ] || [ -n "$missing" ]; then
    echo "setting up $VENV${EXTRAS:+ (with $EXTRAS)} ..." >&2
    if [ -n "$new_venv" ]; then
        "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    fi
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT${EXTRAS:+[$EXTRAS]}" >&2
    for file in "$VENV"/.installed-*; do  # an older pyproject.toml's stamps
        case "$file" in "$stamp" | "$stamp"-*) ;; *) rm -f "$file" ;; esac
    done
    touch "$stamp"
    for extra in ${extras[@]+"${extras[@]}"}; do touch "$stamp-$extra"; done
fi
