"""What every benchmark report carries: the machine it ran on, printed and optionally saved as JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any


def machine(**extra: Any) -> dict[str, Any]:
    """CPU, core count and Python version, plus ``extra`` facts (threads, bf16 support...)."""
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        **extra,
    }


def emit(report: dict[str, Any], out: Path | None) -> None:
    """Print the report as JSON on stdout and write it to ``out`` when given."""
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n")
