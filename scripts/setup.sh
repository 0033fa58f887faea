#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test stepgate:
# PostgreSQL 15 server + client, libclang (pg_query's build needs its headers),
# ssh-keygen (approval interop tests), libssl-dev + pkg-config (TLS connections link
# Debian's OpenSSL, the library libpq uses), openssl (the TLS tests make certificates). Idempotent; installs nothing when all is there.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql-15 postgresql-client-15)
fi
if ! command -v pg_dump >/dev/null 2>&1; then need+=(postgresql-client-15); fi
if ! ls /usr/lib/llvm-*/lib/clang/*/include/stddef.h >/dev/null 2>&1; then need+=(libclang-dev); fi
if ! command -v ssh-keygen >/dev/null 2>&1; then need+=(openssh-client); fi
if ! command -v cc >/dev/null 2>&1; then need+=(build-essential); fi
if ! command -v pkg-config >/dev/null 2>&1; then need+=(pkg-config); fi
if [ ! -f /usr/include/openssl/ssl.h ]; then need+=(libssl-dev); fi
if ! command -v openssl >/dev/null 2>&1; then need+=(openssl); fi
# The review package's HTML is checked in a real headless browser by the tests.
if [ ! -x /usr/bin/chromium ]; then need+=(chromium); fi


if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's postgresql package starts a system cluster; stepgate never uses it.
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
