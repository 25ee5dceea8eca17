"""The house rules that keep the code findable: import layers and module size (issue 14)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 500


def test_no_source_file_under_apps_is_over_500_lines():
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / "apps").rglob("*.py")
        if "migrations" not in path.parts and (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"split these into packages: {too_long}"


def test_import_layers_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        # Through this interpreter: a shared virtualenv's script may carry another checkout's shebang.
        [sys.executable, str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
