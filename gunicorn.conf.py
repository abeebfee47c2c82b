"""gunicorn's settings for the console (gunicorn reads ./gunicorn.conf.py by default; the Procfile names it).

Every worker keeps its request counts in one folder (prometheus-client's multiprocess mode), so a scrape of
/metrics, answered by any one worker, counts the requests of all of them.
"""
import os
import shutil
import tempfile

_READY = "CSC_METRICS_FOLDER_READY"  # the master's pid: a reload (HUP) reads this file again


def _prepare_metrics_folder() -> None:
    """Point PROMETHEUS_MULTIPROC_DIR at an empty folder before anything imports prometheus_client.

    Done while gunicorn reads this file, not in on_starting: with --preload the app (and so
    prometheus_client, which picks its mode at import) is loaded before on_starting runs.
    """
    if os.environ.get(_READY) == str(os.getpid()):
        return  # a reload: the running workers' counts stay
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):  # a previous run's counts: they would be added to this one's
                os.remove(os.path.join(path, name))
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="csc-metrics-")
        os.environ["CSC_METRICS_FOLDER_OWNED"] = "1"
    os.environ[_READY] = str(os.getpid())


_prepare_metrics_folder()


def child_exit(server, worker):
    """A dead worker's live gauges leave the scrape (its counters stay counted)."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics folder when this gunicorn made it."""
    if os.environ.get("CSC_METRICS_FOLDER_OWNED"):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
