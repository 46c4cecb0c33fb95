"""gunicorn settings of the end-to-end benchmark: 2 sync workers, no --preload (the SDK, and with it
the ring hookup, initializes in each worker), as in the issue's measurement."""

workers = 2
worker_class = "sync"
keepalive = 30
accesslog = None
loglevel = "warning"
graceful_timeout = 60
