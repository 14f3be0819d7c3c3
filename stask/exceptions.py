"""Every error stask raises on purpose derives from :class:`StaskError`.

Each message says what went wrong and what to do about it; the CLI prints it and exits
non-zero, the API turns it into ``{"success": false, "error": {"code", "message"}}``.
"""

from __future__ import annotations


class StaskError(Exception):
    """Base class: catch this to handle anything stask refuses."""

    code = "stask_error"
    http_status = 400

    def headers(self) -> dict[str, str]:
        """HTTP headers the error's answer carries besides the error shape (none by default)."""
        return {}


class InvalidInput(StaskError):
    """A value given to stask has the wrong type or form."""

    code = "invalid_input"


class UnknownWorker(StaskError):
    """No registered worker has this identifier."""

    code = "unknown_worker"
    http_status = 404


class InactiveWorker(StaskError):
    """The worker exists but is not active; activate it first."""

    code = "inactive_worker"
    http_status = 409


class UnknownAction(StaskError):
    """The worker has no ``task_<action>`` method."""

    code = "unknown_action"
    http_status = 404


class TaskNotFound(StaskError):
    """No task has this id."""

    code = "task_not_found"
    http_status = 404


class InvalidState(StaskError):
    """The task is not in a state that allows this operation."""

    code = "invalid_state"
    http_status = 409


class WorkerUnavailable(StaskError, ImportError):
    """The worker is registered but its class no longer imports (uninstalled, renamed, broken).

    Also an ``ImportError``, so code that guards ``load_class`` with ``except ImportError`` keeps working.
    """

    code = "worker_unavailable"
    http_status = 409


class WorkerValidationError(StaskError):
    """A worker class breaks the plugin contract (see the message for which rule)."""

    code = "invalid_worker"


class UnsafePath(StaskError):
    """A file name would leave the task's folder."""

    code = "unsafe_path"


class TaskStopped(StaskError):
    """Raised inside a running action when someone asked the task to stop."""

    code = "task_stopped"
    http_status = 409


class UnsupportedMediaType(StaskError):
    """The request body or the file has a type this endpoint does not take."""

    code = "unsupported_media_type"
    http_status = 415


class FileTypeNotAllowed(UnsupportedMediaType):
    """The file's extension is not in the worker's ``upload_extensions``."""

    code = "file_type_not_allowed"


class TooLarge(StaskError):
    """The body or the file is larger than allowed."""

    code = "too_large"
    http_status = 413


class UploadNotFound(StaskError):
    """No unfinished chunked upload has this id (expired, finished, or another owner's)."""

    code = "upload_not_found"
    http_status = 404


class UploadOffsetMismatch(InvalidState):
    """A chunk does not start where its upload's stored bytes end; ``Upload-Offset`` says where."""

    def __init__(self, offset: int, first: int) -> None:
        super().__init__(f"this upload continues at byte {offset}, not {first}: send the chunk that starts there")
        self.offset = offset

    def headers(self) -> dict[str, str]:
        return {"Upload-Offset": str(self.offset)}


class UploadNotAccepted(StaskError):
    """The worker does not take uploaded files (``accepts_upload`` is false)."""

    code = "upload_not_accepted"


class InvalidSetting(StaskError, ValueError):
    """A configuration key has a value of the wrong type; fix the config or the environment."""

    code = "invalid_setting"


class InvalidField(InvalidInput):
    """One named input field is wrong (``field`` says which: ``cron``, ``timezone``, ``data.days``, ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ScheduleNotFound(StaskError):
    """No schedule has this id."""

    code = "schedule_not_found"
    http_status = 404


class PresetNotFound(StaskError):
    """No preset has this id."""

    code = "preset_not_found"
    http_status = 404


class GroupNotFound(StaskError):
    """No group of tasks has this id."""

    code = "group_not_found"
    http_status = 404


class DeliveryNotFound(StaskError):
    """No notification delivery has this id."""

    code = "delivery_not_found"
    http_status = 404


class TriggerNotFound(StaskError):
    """No trigger has this id (the management API; a hook URL with an unknown token is a bare 404)."""

    code = "trigger_not_found"
    http_status = 404


class NotificationNotFound(StaskError):
    """No notification rule has this id."""

    code = "notification_not_found"
    http_status = 404
