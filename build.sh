#!/usr/bin/env bash
# EdgeBridge's two commands:
#   ./build.sh start   build, then run the backend and the edge until Ctrl+C
#   ./build.sh test    install what the tests need, build, run every test, print "N passed, N failed"
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "EdgeBridge needs '$1' ($2) on PATH." >&2; exit 1; }
}

# The TypeScript client, the dashboard bundle (src/EdgeBridge.Host/wwwroot/app.js) and buf.
build_clients() {
  need node "Node.js 20 or newer"
  need npm "npm"
  (cd clients && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
}

# Debian's chromium for the browser tests (Playwright drives it; nothing is downloaded by Playwright itself).
install_browser() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  if [ "$(id -u)" -eq 0 ]; then
    echo "Installing chromium for the browser tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing and this is not root: the browser tests will fail (apt-get install chromium)." >&2
  fi
}

wait_ready() {
  local url=$1 name=$2
  for _ in $(seq 1 240); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  echo "$name did not become ready at $url" >&2
  return 1
}

start() {
  need dotnet ".NET 10 SDK"
  need curl "curl"
  build_clients
  dotnet build EdgeBridge.sln -c Release -nologo -v quiet
  mkdir -p data
  # One signing key shared by the backend (which issues tokens) and the edge (which checks them).
  if [ ! -s data/signing.key ]; then
    head -c 32 /dev/urandom | base64 > data/signing.key
  fi
  local backend edge
  dotnet src/Trading.Backend/bin/Release/net10.0/Trading.Backend.dll \
    --contentRoot "$root/src/Trading.Backend" --environment Demo \
    --Backend:Database:Path="$root/data/trading.db" &
  backend=$!
  dotnet src/EdgeBridge.Host/bin/Release/net10.0/EdgeBridge.Host.dll \
    --contentRoot "$root/src/EdgeBridge.Host" --environment Demo &
  edge=$!
  stop() {
    trap - INT TERM EXIT
    echo "Stopping EdgeBridge..."
    kill -TERM "$edge" "$backend" 2>/dev/null || true
    wait "$edge" "$backend" 2>/dev/null || true
  }
  trap stop INT TERM EXIT
  wait_ready http://127.0.0.1:8080/readyz "The stack"
  cat <<MSG

EdgeBridge is running (Ctrl+C stops it):
  Dashboard               http://127.0.0.1:8080/
  REST, WebSocket         http://127.0.0.1:8080   e.g. curl http://127.0.0.1:8080/v1/quotes/ACME
  gRPC (h2c)              http://127.0.0.1:8081
  Demo users              alice / wonderland, bob / builder

MSG
  # Returns when either process exits (or on Ctrl+C); the trap stops the other.
  wait -n "$backend" "$edge"
}

# Sums one counter (passed, failed) over the trx files of a test run.
count() {
  cat "$2"/*.trx 2>/dev/null | grep -o '<Counters [^>]*' | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" | awk '{s+=$1} END {print s+0}'
}

run_tests() {
  need dotnet ".NET 10 SDK"
  install_browser
  build_clients
  if ! dotnet build EdgeBridge.sln -c Debug -nologo -v quiet; then
    echo "0 passed, 1 failed"
    return 1
  fi
  bash eng/link-google-protos.sh
  local results="$root/.artifacts/test-results"
  rm -rf "$results"
  mkdir -p "$results"
  local status=0
  dotnet test EdgeBridge.sln --no-build -c Debug --logger "trx" --results-directory "$results" || status=$?
  local passed failed
  passed=$(count passed "$results")
  failed=$(count failed "$results")
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  echo "$passed passed, $failed failed"
  return "$status"
}

case "${1:-}" in
  start) start ;;
  test) run_tests ;;
  *) echo "usage: ./build.sh start | test" >&2; exit 2 ;;
esac
