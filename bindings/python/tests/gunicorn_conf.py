"""gunicorn settings of the --preload test: flush the worker's ring before it exits."""


def worker_exit(server, worker):
    import gunicorn_app

    gunicorn_app.EXPORTER.force_flush(60)
