"""gunicorn settings for Moorage (``make run`` and the test servers use this file).

gthread workers: blob transfers block on I/O, threads keep other requests moving; FileResponse
bodies go out with sendfile.
"""

import os

worker_class = "gthread"
workers = int(os.environ.get("MOORAGE_SERVER_WORKERS", "2"))
threads = int(os.environ.get("MOORAGE_SERVER_THREADS", "16"))
timeout = int(os.environ.get("MOORAGE_SERVER_TIMEOUT", "600"))
graceful_timeout = 20
keepalive = 30
# Large headers (long Link or auth tokens) are fine; huge ones are refused by gunicorn.
limit_request_field_size = 16384
accesslog = os.environ.get("MOORAGE_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("MOORAGE_LOG_LEVEL", "info").lower()


def child_exit(server, worker):  # keep multiprocess metrics consistent when a worker dies
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
