#!/bin/sh
# Three hubs behind nginx, Redis as their control plane, all on this machine.
# Usage: examples/three-hubs.sh DIR CONFIG
#   DIR: where pids, logs, the secret and the nginx config go (readable by nginx's workers)
#   CONFIG: the servers file every hub runs (mcp-hub's JSON)
# Ports: REDIS_PORT (6380), NGINX_PORT (8080), HUB_PORTS ("37371 37372 37373") and
# HOP_PORTS ("37381 37382 37383", the hubs' internal forwarding listeners).
# Stop: kill $(cat DIR/*.pid)
set -eu
DIR=$1
CONFIG=$2
REDIS_PORT=${REDIS_PORT:-6380}
NGINX_PORT=${NGINX_PORT:-8080}
HUB_PORTS=${HUB_PORTS:-37371 37372 37373}
HOP_PORTS=${HOP_PORTS:-37381 37382 37383}
MCP_HUB=${MCP_HUB:-mcp-hub}
mkdir -p "$DIR"

# 1. Redis, the control plane: membership, events, config revisions, shared OAuth tokens.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$DIR" > "$DIR/redis.log" 2>&1 &
echo $! > "$DIR/redis.pid"

# 2. One secret for the whole cluster (32 bytes or more): it seals session ids, signs
#    forwarded requests and seals the shared tokens. Every hub reads the same file.
[ -f "$DIR/secret" ] || head -c 48 /dev/urandom | base64 > "$DIR/secret"

# 3. The hubs: one node id each, and an internal listener peers forward requests to.
n=0
nodes=
for port in $HUB_PORTS; do
    n=$((n + 1))
    hop=$(echo "$HOP_PORTS" | cut -d ' ' -f "$n")
    $MCP_HUB serve --port "$port" --config "$CONFIG" \
        --redis-url "redis://127.0.0.1:$REDIS_PORT/0" --node-id "h$n" \
        --cluster-secret-file "$DIR/secret" --internal-listen "127.0.0.1:$hop" \
        > "$DIR/h$n.log" 2>&1 &
    echo $! > "$DIR/h$n.pid"
    nodes="$nodes${nodes:+,}h$n=127.0.0.1:$port"
done

# 4. nginx in front: sessions to the hub that owns them, everything else round-robin.
$MCP_HUB lb-config --nginx --listen "127.0.0.1:$NGINX_PORT" --nodes "$nodes" > "$DIR/hubs.conf"
cat > "$DIR/nginx.conf" <<CONF
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/nginx-error.log;
events {}
http { access_log off; include $DIR/hubs.conf; }
CONF
nginx -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/nginx-error.log" > /dev/null 2>&1 &

echo "MCP clients: http://127.0.0.1:$NGINX_PORT/mcp   REST: http://127.0.0.1:$NGINX_PORT/api"
