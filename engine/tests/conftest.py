"""Make `import sltrain` work from a source checkout when the package is not installed."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("sltrain") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
