#!/usr/bin/env bash
# System packages the tests need that a fresh machine lacks: Debian's chromium
# (the HTML report is rendered in a real headless browser) and shellcheck
# (ansible-test sanity checks the shell scripts with it) and a Java 17 runtime
# (ansible-rulebook's rule engine, for the Event-Driven Ansible tests). Installed with
# apt-get when missing; anything else is left to the person running it.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v shellcheck >/dev/null || missing+=(shellcheck)
# ansible-rulebook needs Java 17 or later (drools_jpy); an older java on PATH does not count
java_major=$( (java -version 2>&1 || true) | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
[ "${java_major:-0}" -ge 17 ] 2>/dev/null || missing+=(openjdk-17-jre-headless)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps.sh: please install: ${missing[*]} (Debian packages)" >&2
  exit 1
fi
echo "system-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
