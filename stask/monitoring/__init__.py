"""Monitoring: figures from the rows (metrics, hourly rollups), alert rules and their
delivery, health checks and the Prometheus exposition. It listens and reads; the engine
never calls it.
"""
