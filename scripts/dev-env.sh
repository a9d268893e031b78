#!/usr/bin/env bash
# Write the development .env that `make run` uses, when there is none: DEBUG on and a random SECRET_KEY, so
# every command in the README works as written in any terminal (settings read .env; the real environment wins).
# An existing .env is left as it is. Usage: scripts/dev-env.sh PYTHON [FILE]
set -euo pipefail
python=${1:?usage: scripts/dev-env.sh PYTHON [FILE]}
file=${2:-.env}
if [ -e "$file" ]; then
  echo "Using the existing $file (DEBUG and SECRET_KEY as it sets them)."
  exit 0
fi
key=$("$python" -c 'import secrets; print(secrets.token_urlsafe(50))')
umask 077
cat > "$file" <<ENV
# Written by \`make run\` for local development (gitignored). Production sets its variables in the real
# environment with DEBUG off; see .env.example for every variable.
DEBUG=true
SECRET_KEY=$key
ENV
echo "Wrote $file for local development (DEBUG=true, a random SECRET_KEY)."
