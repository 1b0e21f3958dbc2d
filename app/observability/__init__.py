"""Operations' view of a running instance: Prometheus metrics (``/metrics``).

``counters`` holds the metric objects and imports nothing of the app, so any layer may
count an event (a failed login, a rate-limit refusal, a background job's run);
``endpoint`` is the HTTP side: the request middleware and the ``/metrics`` handler.
"""
