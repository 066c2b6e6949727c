"""Operator commands (``run_registry``, ``check_config``, ``config_example``) and their logic.

The commands in ``commands/`` only parse arguments and print; the work is done by the
functions in this package so that ``manage.py`` and the tests can call them directly.
"""
