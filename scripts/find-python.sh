#!/usr/bin/env bash
# Print the path of a Python >= 3.12 for the virtualenv, or explain what is missing.
# pyenv shims (python3.12, ...) exist on PATH even when that version is not selected and then
# fail, so every candidate is *run*, not just looked up. `.python-version` selects 3.13 under pyenv.
set -u
candidates=(python3.13 python3.12 python3.14 python3)
if command -v pyenv >/dev/null 2>&1; then
  for v in 3.13 3.12 3.14; do
    prefix=$(pyenv prefix "$v" 2>/dev/null | head -n1) && [ -x "$prefix/bin/python3" ] && candidates+=("$prefix/bin/python3")
  done
fi
for c in "${candidates[@]}"; do
  if "$c" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
    command -v "$c" 2>/dev/null || echo "$c"
    exit 0
  fi
done
echo "No Python >= 3.12 found (tried: ${candidates[*]}). Install Python 3.12+ (e.g. 'pyenv install 3.13') and run make again." >&2
exit 1
