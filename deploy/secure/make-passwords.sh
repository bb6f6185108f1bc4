#!/bin/sh
# Write the Mosquitto password file of the locked-down broker (docs/security.md).
#   deploy/secure/make-passwords.sh [OUT]     (default OUT: deploy/secure/passwd)
# Each user's password comes from TWIN_MQTT_PASSWORD_<USER> (e.g. TWIN_MQTT_PASSWORD_TWIN);
# a user without one gets a random password, printed once to stderr. The file holds salted
# hashes only (mosquitto_passwd) and is never committed (.gitignore).
set -eu
out="${1:-$(dirname "$0")/passwd}"
command -v mosquitto_passwd >/dev/null || { echo "error: mosquitto_passwd not found (apt-get install mosquitto)" >&2; exit 2; }
umask 077
tmp="$out.tmp.$$"
: > "$tmp"
for user in twin gateway operator viewer; do
    var="TWIN_MQTT_PASSWORD_$(echo "$user" | tr '[:lower:]' '[:upper:]')"
    eval "password=\${$var:-}"
    if [ -z "$password" ]; then
        password="$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"
        echo "$user: generated password $password (set $var to choose one)" >&2
    fi
    mosquitto_passwd -b "$tmp" "$user" "$password"
done
mv "$tmp" "$out"
echo "wrote $out (users: twin gateway operator viewer)" >&2
