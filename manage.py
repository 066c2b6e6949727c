#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")
    # An invalid configuration is an expected error: list it by key path and exit 1, before
    # Django turns it into a traceback (and so that `check_config` still runs).
    from registry_site.management.config_report import exit_if_config_invalid

    exit_if_config_invalid(sys.argv)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
