"""Cluster mode: N hubs behind a load balancer, Redis as the control plane.

Embedded mode (no Redis URL) imports nothing from here but the pure modules it shares
with cluster mode (sealed session ids); ``redis`` is imported only by :mod:`.control`
and the modules built on it, which the hub loads only when a Redis URL is configured.
The design, with its measurements, is ``shared/design/scale-out.md``.

Modules, each one concern:

* :mod:`.options`: the cluster flags and environment variables, validated, frozen;
* :mod:`.secret`: the cluster secret(s) and the keys derived from them (HKDF);
* :mod:`.session_ids`: AES-GCM sealed, principal-bound ``Mcp-Session-Id`` values
  with a cleartext node prefix the load balancer routes on (embedded mode too);
* :mod:`.hop`: the HMAC-signed request and reply headers of internal forwarding;
* :mod:`.lb_config`: the nginx configuration ``mcp-hub lb-config --nginx`` prints;
* :mod:`.errors`: the domain errors of cluster mode;
* :mod:`.keyspace`: every Redis key name, all under one ``{cluster}`` hash tag;
* :mod:`.control`: the Redis client on Tornado's loop, with per-operation timeouts and
  the circuit breaker (:mod:`.breaker`);
* :mod:`.membership`, :mod:`.leader`, :mod:`.streams`, :mod:`.config_store`,
  :mod:`.adoption`, :mod:`.tokens`: heartbeats and members, the leader lease,
  ``/api/events`` over Redis Streams, config revisions, adoption claims, and shared
  upstream OAuth tokens with a single-flight refresh lock;
* :mod:`.node`: all of the above for one hub node, started, drained and stopped as one.
"""
