"""gunicorn settings for `make serve` and the systemd unit: workers and threads from the CPU count."""

import multiprocessing
import os

bind = os.environ.get("REGISTRY_BIND", "127.0.0.1:8000")
# Requests wait on the store more than on the CPU: a few processes, each with threads.
workers = int(os.environ.get("REGISTRY_WORKERS", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("REGISTRY_THREADS", 4))
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
keepalive = 5
# Restart each worker after a while so a slow leak cannot grow without bound; jitter spreads the restarts.
max_requests = 20000
max_requests_jitter = 2000
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}i)s'
