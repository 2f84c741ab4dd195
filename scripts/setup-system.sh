#!/usr/bin/env bash
# Installs the Debian packages the tests need and makes sure PostgreSQL accepts the test role on loopback.
# Idempotent: installs only what is missing, starts only what is stopped. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
AS_POSTGRES="runuser -u postgres --"
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; AS_POSTGRES="sudo -u postgres"; fi

want=$(grep -v '^\s*#' scripts/apt-packages.txt | awk 'NF{print $1}' | sort -u)
missing=()
for pkg in $want; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PostgreSQL: start the cluster if it is down (no systemd in containers), then make sure the test role exists.
if command -v pg_lsclusters >/dev/null; then
  pg_lsclusters --no-header | while read -r ver name port status _; do
    if [ "$status" != "online" ]; then
      echo "setup: starting PostgreSQL $ver/$name"
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start
    fi
  done
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  # A password role works whatever pg_hba says for loopback (trust here, scram on a fresh Debian install).
  $AS_POSTGRES psql -q -h /var/run/postgresql -tc "SELECT 1 FROM pg_roles WHERE rolname='vms_test'" \
    | grep -q 1 || $AS_POSTGRES psql -q -h /var/run/postgresql \
      -c "CREATE ROLE vms_test LOGIN SUPERUSER PASSWORD 'vms_test'"
fi

# Redis on the default port for developers; the tests start their own throw-away instances anyway.
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "setup: starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi

# Mosquitto on 127.0.0.1:1883 for the MQTT notification tests (no systemd in containers: start it by hand).
if command -v mosquitto >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  echo "setup: starting mosquitto on 127.0.0.1:1883"
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\n' > /tmp/vms-test-mosquitto.conf
  mosquitto -d -c /tmp/vms-test-mosquitto.conf
fi
