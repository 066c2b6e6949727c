"""Prometheus metrics of the background workers (multi-process safe, like oci.metrics: the
supervisor gives workers and web processes one PROMETHEUS_MULTIPROC_DIR)."""

from prometheus_client import Counter, Gauge

GC_RUNS = Counter("moorage_gc_runs_total", "Garbage-collection runs by outcome", ["outcome"])
GC_DELETED = Counter("moorage_gc_deleted_total", "Items deleted by garbage collection", ["kind"])
GC_EXAMINED = Counter("moorage_gc_examined_total", "Items examined by garbage collection", ["kind"])
GC_BYTES = Counter("moorage_gc_bytes_reclaimed_total", "Blob bytes deleted from storage by garbage collection")
GC_LAST_SUCCESS = Gauge(
    "moorage_gc_last_success_timestamp_seconds", "When the last garbage-collection run finished", multiprocess_mode="max"
)
