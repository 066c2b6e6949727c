"""Prometheus metrics of the registry protocol. Multi-process safe (PROMETHEUS_MULTIPROC_DIR)."""

from prometheus_client import Counter, Histogram

REQUESTS = Counter("moorage_http_requests_total", "HTTP requests by route, method and status", ["route", "method", "status"])
LATENCY = Histogram(
    "moorage_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
PUSHES = Counter("moorage_manifest_pushes_total", "Manifests pushed")
PULLS = Counter("moorage_manifest_pulls_total", "Manifests pulled (GET)")
BYTES_IN = Counter("moorage_blob_bytes_received_total", "Blob bytes received in uploads")
BYTES_OUT = Counter("moorage_blob_bytes_sent_total", "Blob bytes sent to clients")
STORAGE_READ_FAILOVER = Counter(
    "moorage_storage_read_failover_total",
    "Blob reads that failed in a storage location and fell over to the next one holding the blob, by failed location",
    ["location"],
)
