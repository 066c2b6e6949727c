"""Operator commands and their logic.

The commands in ``commands/`` only parse arguments and print. The logic of ``run_registry``
(``runner``, ``bootstrap``, ``supervisor``, ``banner``) and of ``check_config`` /
``config_example`` (``config_report``) lives in this package, so that ``manage.py`` and the
tests can call it directly.
"""
