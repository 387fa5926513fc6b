"""Make `import sltrain` work from a source checkout when the package is not installed."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("sltrain") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import os  # noqa: E402
import tempfile  # noqa: E402

from sltrain.pathchoice import PATH_CACHE_ENV  # noqa: E402

# Training runs cache their measured layer paths per machine; the tests' go to a temporary file,
# not the user's cache (subprocess runs inherit it).
os.environ.setdefault(PATH_CACHE_ENV, str(Path(tempfile.mkdtemp(prefix="sltrain-test-paths-")) / "layer_paths.json"))
