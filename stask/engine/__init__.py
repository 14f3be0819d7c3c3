"""The engine: run one attempt of a task (claim, execute, record), the RQ transport, live
progress and heartbeats, retry backoff, and the worker-process classes that serve the queues.

It sees the rest of stask only through the narrow :class:`~stask.engine.runner.EngineContext`.
"""
