#!/usr/bin/env bash
# Fill .whl/ (repository root, git-ignored) with the wheels that the GPU machine's image lacks:
# the pins of benchmarks/gpu/wheels.txt, for CPython 3.12 on manylinux x86_64 (that machine's
# Python), dependencies not resolved (the list is already the closure), one version each. A pin
# marked "sdist-only" has no wheel on the index: it is built here and must come out pure-python.
# Fails when the wheels pass 48 MiB: a device call carries at most 64 MiB, checkout included.
#
#   bash benchmarks/gpu/prepare.sh        # PYTHON=... picks the Python whose pip downloads (python3)
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
LIST=benchmarks/gpu/wheels.txt
DEST=.whl
LIMIT_MIB=48

# NAME==VERSION lines of the list, without comments; $1 selects (-v: the others) the sdist-only ones.
pins() { grep "$1" 'sdist-only' "$LIST" | sed 's/#.*//' | tr -d ' \t' | grep . || true; }

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT

pins -v >"$staging/binary.txt"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --abi cp312 --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    -d "$staging/wheels" -r "$staging/binary.txt"

for pin in $(pins -e); do
    "$PYTHON" -m pip wheel --quiet --no-deps -w "$staging/built" "$pin"
done
# A wheel built here is for this Python: only a pure-python one also serves 3.12.
if [ -d "$staging/built" ]; then
    impure=$(find "$staging/built" -type f -name '*.whl' ! -name '*-none-any.whl')
    if [ -n "$impure" ]; then
        echo "prepare.sh: built wheels that are not pure-python: $impure" >&2
        exit 1
    fi
    mv "$staging"/built/*.whl "$staging/wheels/"
fi

# Every pin has exactly one wheel (two versions of a package stop the install on the machine).
expected=$(( $(pins -v | wc -l) + $(pins -e | wc -l) ))
found=$(find "$staging/wheels" -type f -name '*.whl' | wc -l)
distinct=$(find "$staging/wheels" -type f -name '*.whl' -printf '%f\n' | cut -d- -f1 | tr 'A-Z.' 'a-z_' | sort -u | wc -l)
if [ "$found" -ne "$expected" ] || [ "$distinct" -ne "$expected" ]; then
    echo "prepare.sh: $found wheels ($distinct packages) for $expected pins in $LIST" >&2
    exit 1
fi

rm -rf "$DEST"
mv "$staging/wheels" "$DEST"
ls -1 "$DEST"
bytes=$(du -cb "$DEST"/*.whl | tail -1 | cut -f1)
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "prepare.sh: $found wheels, $mib MiB in $DEST/ (limit $LIMIT_MIB MiB)"
if ! git check-ignore -q "$DEST/"; then
    echo "prepare.sh: $DEST/ is not ignored by git: add it to .gitignore" >&2
    exit 1
fi
if [ "$bytes" -gt $(( LIMIT_MIB * 1048576 )) ]; then
    echo "prepare.sh: over the $LIMIT_MIB MiB limit" >&2
    exit 1
fi
