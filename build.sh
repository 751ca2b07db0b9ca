#!/usr/bin/env bash
# EdgeBridge's commands:
#   ./build.sh start     build, then run the backend and the edge until Ctrl+C
#   ./build.sh test      install what the tests need, build, run every test, print "N passed, N failed"
#   ./build.sh cluster   build, then run PostgreSQL, two backend replicas, two edges and HAProxy until Ctrl+C
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

# Installs a Debian package the tests need when run as root; otherwise says what will fail.
apt_install() {
  local package=$1 purpose=$2
  if [ "$(id -u)" -eq 0 ]; then
    echo "Installing $package for $purpose..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
  else
    echo "$package is missing and this is not root: $purpose will fail (apt-get install $package)." >&2
  fi
}

# Debian's chromium for the browser tests (Playwright drives it; nothing is downloaded by Playwright itself).
install_browser() {
  [ -x /usr/bin/chromium ] || apt_install chromium "the browser tests"
}

# Debian's PostgreSQL for the replica tests and ./build.sh cluster (its servers are started by them, not by the package).
pg_bin() {
  local bin
  for bin in "${PG_BIN:-}" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -n "$bin" ] && [ -x "$bin/initdb" ]; then echo "$bin"; return 0; fi
  done
  return 1
}

install_postgres() {
  pg_bin >/dev/null || apt_install postgresql "the replica tests"
}

# What deploy/images/build.sh needs to make a base image from Debian packages and hand it to the SDK.
install_image_tools() {
  local tool
  for tool in debootstrap umoci skopeo docker-registry; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || apt_install "$tool" "the image tests"
  done
}

# Debian's HAProxy in front of several edges (the cluster tests and ./build.sh cluster).
install_haproxy() {
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || apt_install haproxy "the cluster tests"
}

# PostgreSQL refuses to run as root: as root, its tools run as the postgres user the Debian package creates.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
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
    # The EXIT trap may run after this function returned, when its locals are gone (set -u).
    kill -TERM "${edge:-}" "${backend:-}" 2>/dev/null || true
    wait "${edge:-}" "${backend:-}" 2>/dev/null || true
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

# PostgreSQL in data/postgres, two backend replicas on it, two edges in front of both and HAProxy in front of the
# edges (deploy/haproxy/haproxy.cfg); data/cluster.json says what runs where. Ports: PostgreSQL $EDGEBRIDGE_PG_PORT
# (5433), replicas 5080/5081 and 5082/5083, edges 8180/8181 and 8280/8281, the balancer 8080 (HTTP) and 8081 (gRPC).
cluster() {
  need dotnet ".NET 10 SDK"
  need curl "curl"
  install_postgres
  install_haproxy
  local bin pg_port=${EDGEBRIDGE_PG_PORT:-5433} pgdata="$root/data/postgres" haproxy
  bin=$(pg_bin) || { echo "EdgeBridge needs PostgreSQL (apt-get install postgresql) or PG_BIN." >&2; exit 1; }
  haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
  [ -x "$haproxy" ] || { echo "EdgeBridge needs HAProxy (apt-get install haproxy)." >&2; exit 1; }
  build_clients
  dotnet build EdgeBridge.sln -c Release -nologo -v quiet
  mkdir -p data
  if [ ! -s data/signing.key ]; then
    head -c 32 /dev/urandom | base64 > data/signing.key
  fi
  if [ ! -s "$pgdata/PG_VERSION" ]; then
    mkdir -p "$pgdata"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$pgdata"; fi
    as_postgres "$bin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --locale=C >/dev/null
  fi
  as_postgres "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 \
    -o "-p $pg_port -k $pgdata -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  local engine_pid
  engine_pid=$(head -n 1 "$pgdata/postmaster.pid")
  if ! as_postgres "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'edgebridge'" | grep -q 1; then
    as_postgres "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE edgebridge" >/dev/null
  fi
  local connection="Host=127.0.0.1;Port=$pg_port;Database=edgebridge;Username=postgres;Maximum Pool Size=50"
  local pids=() replica_pids=() edge_pids=()
  local i
  for i in 1 2; do
    local rest=$((5078 + 2 * i)) grpc=$((5079 + 2 * i))
    dotnet src/Trading.Backend/bin/Release/net10.0/Trading.Backend.dll \
      --contentRoot "$root/src/Trading.Backend" --environment Demo \
      --Backend:Database:Provider=PostgreSql \
      "--Backend:Database:ConnectionString=$connection;Application Name=replica-$i" \
      --Kestrel:Endpoints:Rest:Url="http://127.0.0.1:$rest" --Kestrel:Endpoints:Grpc:Url="http://127.0.0.1:$grpc" &
    replica_pids+=($!)
  done
  pids+=("${replica_pids[@]}")
  # Behind the balancer: both listeners take its PROXY protocol header, so the edges see clients' addresses.
  for i in 1 2; do
    dotnet src/EdgeBridge.Host/bin/Release/net10.0/EdgeBridge.Host.dll \
      --contentRoot "$root/src/EdgeBridge.Host" --environment Demo \
      --Kestrel:Endpoints:Http:Url="http://127.0.0.1:8${i}80" --Kestrel:Endpoints:Grpc:Url="http://127.0.0.1:8${i}81" \
      --EdgeBridge:Listeners:Http:ProxyProtocol=true --EdgeBridge:Listeners:Grpc:ProxyProtocol=true \
      --EdgeBridge:Listeners:Http:TrustedProxies:0=127.0.0.1 --EdgeBridge:Listeners:Grpc:TrustedProxies:0=127.0.0.1 \
      --ReverseProxy:Clusters:backend-rest:Destinations:backend:Address=http://127.0.0.1:5080 \
      --ReverseProxy:Clusters:backend-grpc:Destinations:backend:Address=http://127.0.0.1:5081 \
      --ReverseProxy:Clusters:backend-rest:Destinations:replica-2:Address=http://127.0.0.1:5082 \
      --ReverseProxy:Clusters:backend-grpc:Destinations:replica-2:Address=http://127.0.0.1:5083 &
    edge_pids+=($!)
  done
  pids+=("${edge_pids[@]}")
  EDGEBRIDGE_HTTP_BIND=127.0.0.1:8080 EDGEBRIDGE_GRPC_BIND=127.0.0.1:8081 EDGEBRIDGE_HAPROXY_SOCKET="$root/data/haproxy.sock" \
    EDGE1_HOST=127.0.0.1 EDGE1_HTTP_PORT=8180 EDGE1_GRPC_PORT=8181 EDGE2_HOST=127.0.0.1 EDGE2_HTTP_PORT=8280 EDGE2_GRPC_PORT=8281 \
    "$haproxy" -db -f "$root/deploy/haproxy/haproxy.cfg" &
  local balancer=$!
  pids+=("$balancer")
  stop_cluster() {
    trap - INT TERM EXIT
    echo "Stopping the EdgeBridge cluster..."
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    as_postgres "$bin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
    rm -f data/cluster.json data/haproxy.sock
  }
  trap stop_cluster INT TERM EXIT
  wait_ready http://127.0.0.1:5080/readyz "Replica 1"
  wait_ready http://127.0.0.1:5082/readyz "Replica 2"
  # Through the balancer: ready once it has an edge in rotation.
  wait_ready http://127.0.0.1:8080/readyz "The balancer"
  cat > data/cluster.json <<JSON
{
  "processes": [
    { "role": "engine", "name": "postgresql", "pid": $engine_pid, "url": "postgresql://127.0.0.1:$pg_port/edgebridge", "data": "$pgdata" },
    { "role": "backend", "name": "replica-1", "pid": ${replica_pids[0]}, "http": "http://127.0.0.1:5080", "grpc": "http://127.0.0.1:5081" },
    { "role": "backend", "name": "replica-2", "pid": ${replica_pids[1]}, "http": "http://127.0.0.1:5082", "grpc": "http://127.0.0.1:5083" },
    { "role": "edge", "name": "edge1", "pid": ${edge_pids[0]}, "http": "http://127.0.0.1:8180", "grpc": "http://127.0.0.1:8181", "proxyProtocol": true },
    { "role": "edge", "name": "edge2", "pid": ${edge_pids[1]}, "http": "http://127.0.0.1:8280", "grpc": "http://127.0.0.1:8281", "proxyProtocol": true },
    { "role": "balancer", "name": "haproxy", "pid": $balancer, "http": "http://127.0.0.1:8080", "grpc": "http://127.0.0.1:8081", "admin": "$root/data/haproxy.sock" }
  ]
}
JSON
  cat <<MSG

The EdgeBridge cluster is running (Ctrl+C stops all of it; data/cluster.json lists every process):
  Dashboard               http://127.0.0.1:8080/   (through HAProxy)
  REST, WebSocket         http://127.0.0.1:8080
  gRPC (h2c)              http://127.0.0.1:8081
  Edges                   pids ${edge_pids[0]} (8180/8181) and ${edge_pids[1]} (8280/8281), behind HAProxy (pid $balancer);
                          try kill -9 or kill -TERM on one: clients move to the other
  Backend replicas        pids ${replica_pids[0]} (5080/5081) and ${replica_pids[1]} (5082/5083); try kill -9 on one
  PostgreSQL              127.0.0.1:$pg_port, database edgebridge, data in data/postgres
  Demo users              alice / wonderland, bob / builder

MSG
  # An edge or replica killed on purpose leaves the rest running; the cluster stops when the balancer does (or on Ctrl+C).
  wait "$balancer"
}

# Sums one counter (passed, failed) over the trx files of a test run.
count() {
  cat "$2"/*.trx 2>/dev/null | grep -o '<Counters [^>]*' | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" | awk '{s+=$1} END {print s+0}'
}

run_tests() {
  need dotnet ".NET 10 SDK"
  install_browser
  install_postgres
  install_haproxy
  install_image_tools
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
  cluster) cluster ;;
  *) echo "usage: ./build.sh start | test | cluster" >&2; exit 2 ;;
esac
