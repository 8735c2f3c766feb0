#!/usr/bin/env bash
# Installs the servers the integration tests start themselves (Debian's postgresql and
# redis-server), the load generator of `make bench-http` (wrk), and the browser the console's
# tests drive (Debian's chromium and chromium-driver, for selenium), and the C compiler the
# decision core is built with (gcc, libc6-dev: scripts/build_core.py), when they are missing.
# The test harness starts and stops them; nothing runs here.
set -euo pipefail
need=()
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${need[*]} for the integration and console tests, the benchmarks and the compiled core"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
