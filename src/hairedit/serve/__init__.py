"""``hairedit serve``: an HTTP API for programs, with a durable job queue (docs/serve.md).

``settings`` (what the command line sets), ``jobs`` (the SQLite queue and the jobs' folders),
``intake`` (a submission read and checked before it is queued), ``storage`` (where a worker
writes a job's result), ``workers`` (the scheduler feeding batch workers), ``auth`` (API keys,
rate limits), ``metrics`` (Prometheus), ``app`` (the FastAPI routes), ``command``
(``hairedit serve``), ``process`` (a server in a process of its own), ``bench``
(``hairedit bench --serve``). ``hairedit.client`` calls it.

Nothing here imports FastAPI or torch at import time: the worker processes load this package
(for ``storage``) and ``hairedit serve --help`` stays light.
"""
