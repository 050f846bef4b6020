#!/usr/bin/env bash
# Checks (or with --fix, applies) the repository's .clang-format on the C
# sources: every tracked or untracked, non-ignored *.c / *.h under the source
# folders, or only the files given as arguments.
#
# Usage: scripts/check-format.sh [--fix] [FILE...]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DIRS=(lib srtp_bridge ice datachannel tests tools bench examples)

fix=0
if [[ "${1:-}" == "--fix" ]]; then
  fix=1
  shift
fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

# Debian 12 ships clang-format 14 as clang-format-14, with clang-format as a
# link to it; the versioned name first so a newer default cannot sneak in.
cf=""
for c in clang-format-14 clang-format; do
  if command -v "$c" >/dev/null 2>&1; then
    cf=$c
    break
  fi
done
if [[ -z "$cf" ]]; then
  echo "check-format: clang-format not found (apt-get install clang-format, or scripts/setup.sh)" >&2
  exit 2
fi
version=$("$cf" --version)
if [[ "$version" != *"version 14."* ]]; then
  echo "check-format: warning: expected clang-format 14, found: $version" >&2
fi

files=()
if (($# > 0)); then
  files=("$@")
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  while IFS= read -r f; do
    [[ -f "$f" ]] && files+=("$f") # tracked files deleted from the work tree
  done < <(git ls-files -co --exclude-standard -- "${DIRS[@]}" | grep -E '\.[ch]$' | sort -u)
else
  while IFS= read -r f; do
    files+=("$f")
  done < <(find "${DIRS[@]}" -type f -name '*.[ch]' 2>/dev/null | sort)
fi

if ((${#files[@]} == 0)); then
  echo "check-format: no C sources found"
  exit 0
fi

if ((fix)); then
  "$cf" -i --style=file "${files[@]}"
  echo "check-format: formatted ${#files[@]} file(s)"
  exit 0
fi

bad=()
for f in "${files[@]}"; do
  if ! "$cf" --dry-run --Werror --style=file "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done

if ((${#bad[@]} == 0)); then
  echo "check-format: ${#files[@]} file(s) OK"
  exit 0
fi

echo "check-format: ${#bad[@]} of ${#files[@]} file(s) not formatted:"
for f in "${bad[@]}"; do
  echo "  $f"
done
# The first lines of each diff, so a CI log shows what is wrong.
for f in "${bad[@]}"; do
  "$cf" --style=file "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" - | head -n 30 || true
done
echo "fix with: scripts/check-format.sh --fix ${bad[*]}"
exit 1
