"""`make bench`: runs every benchmark script in bench/ one after another, each in its own process."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["ingest_payments.py", "telematics.py", "risk.py", "intelligence.py", "api.py"]


def main() -> int:
    scripts = [HERE / name for name in ORDER if (HERE / name).exists()]
    scripts += sorted(
        p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py" and p not in scripts
    )
    failed = []
    for script in scripts:
        print(f"\n######## {script.name}", flush=True)
        if subprocess.call([sys.executable, str(script), *sys.argv[1:]]) != 0:
            failed.append(script.name)
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
