"""stask: durable background tasks for Flask, on SQL and RQ."""

from .app import create_app
from .enums import Priority, Status
from .extension import STask
from .models import Task, Worker
from .scheduling.declared import Schedule
from .workers.base import BaseWorker

__all__ = ["STask", "BaseWorker", "Task", "Worker", "Status", "Priority", "Schedule", "create_app"]
__version__ = "0.1.0"
