"""Shared CLI behaviour: one clear `error:` line and a non-zero exit for errors a user can fix."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from rec_core.errors import RecError
from rec_core.logging_utils import quiet_third_party

EXIT_USER_ERROR = 2
EXIT_FAILURE = 1


def run_cli(fn: Callable[..., int | None]) -> Callable[..., int]:
    """Wrap a CLI main: RecError and missing files print `error: ...` (traceback with LOG_LEVEL=DEBUG)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        quiet_third_party()
        try:
            code = fn(*args, **kwargs)
            return 0 if code is None else int(code)
        except (RecError, FileNotFoundError) as e:
            if os.environ.get("LOG_LEVEL", "").upper() == "DEBUG":
                traceback.print_exc()
            print(f"error: {e}", file=sys.stderr)
            return EXIT_USER_ERROR
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return 130

    return wrapper
