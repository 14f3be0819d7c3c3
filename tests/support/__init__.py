"""Everything the tests share that is not a fixture: servers, app building, worker plugins, helpers.

Test modules import from here (``from tests.support.apps import run_worker``), never from
``conftest`` and never from another test module. Worker plugins are referenced by import path
in config strings (``"tests.support.plugins:EchoWorker"``), also by spawned worker processes.
"""
