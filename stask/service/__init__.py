"""The service: the typed facade every adapter (code, API, panel, CLI) calls, and the only
code that reads or writes the database outside the engine's claim and finish statements.
"""
