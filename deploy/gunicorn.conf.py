"""gunicorn settings for `make serve` and the systemd unit: workers and threads from the CPU count."""

import glob
import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("REGISTRY_BIND") or "127.0.0.1:8000"
# Requests wait on the store more than on the CPU: a few processes, each with threads.
workers = int(os.environ.get("REGISTRY_WORKERS") or multiprocessing.cpu_count() + 1)
threads = int(os.environ.get("REGISTRY_THREADS") or 4)
worker_class = "gthread"
# A worker silent this long is killed and replaced (a request thread that hangs does not silence it).
timeout = 60
# On HUP (systemctl reload) or TERM, workers finish their requests for up to this long before they stop.
graceful_timeout = 30
# Longer than nginx's upstream keepalive_timeout (4 s), so nginx always closes an idle connection first.
keepalive = 5
# Restart each worker after a while so a slow leak cannot grow without bound; jitter spreads the restarts.
max_requests = 20000
max_requests_jitter = 2000
accesslog = "-"
# Client as nginx saw it, the request, status, bytes, latency in ms and the request id the app answered with
# (nginx's $request_id when proxied, so one id finds a request in both logs).
access_log_format = '%({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
# Keep the workers' scratch files in memory (/dev/shm) rather than on a disk that may be slow or full.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Prometheus in several processes: every worker writes its metrics to files in one folder that a scrape
# reads whole. The variable must be set before a worker imports prometheus_client, hence here.
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _own_metrics_dir = tempfile.mkdtemp(prefix="registry-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir


def on_starting(server):
    # Files left by an earlier run would add its dead workers' counts to ours.
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for path in glob.glob(os.path.join(folder, "*.db")):
        os.unlink(path)


def when_ready(server):
    address = os.environ.get("REGISTRY_METRICS_BIND", "").strip()
    if not address:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    host, _, port = address.rpartition(":")
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    # Served by the master, so a scrape still answers while every worker is busy.
    start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)
    server.log.info("Prometheus metrics at http://%s/metrics", address)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    # A dead worker's gauges (pool use) stop counting; its counters stay in the totals.
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir and os.environ.get("PROMETHEUS_MULTIPROC_DIR") == _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
