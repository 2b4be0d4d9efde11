"""The Performance page from the stored benchmark runs (``make perf-docs``), and a new stored run.

python benchmarks/perf_docs.py            # writes docs/performance.md's tables from benchmarks/*.json
python benchmarks/perf_docs.py --check    # exit 1 if the page is not what the stored runs give
python benchmarks/perf_docs.py --record   # runs `mlpvm bench --quick --json` (with eForth's line) and
                                          # stores it as benchmarks/DATE-STATE.json (state: quiet, loaded)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's mlpvm, whatever is installed: the page is this checkout's

from mlpvm import benchdoc  # noqa: E402

PAGE = HERE.parent / "docs" / "performance.md"
EFORTH = HERE.parent / "programs" / "external" / "howerj-subleq-vhdl" / "eforth-8k.dec"


def runs() -> list[Path]:
    return sorted(HERE.glob("*.json"))


def record() -> Path:
    """One `mlpvm bench --quick` run with eForth's line, stored under the date and the machine's state."""
    command = [sys.executable, "-m", "mlpvm", "bench", "--quick", "--json", "--quiet", "--eforth", str(EFORTH),
               "--eforth-line", "2 2 + . cr"]  # fmt: skip
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    doc = json.loads(subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout)
    date = doc["machine"]["date"].replace(" UTC", "").replace(" ", "-").replace(":", "")
    path = HERE / f"{date}-{benchdoc.state(doc | {'file': ''})}.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def main(argv: list[str]) -> int:
    if "--record" in argv:
        print(record())
    page = PAGE.read_text()
    want = benchdoc.update(page, benchdoc.load(runs()))
    if "--check" in argv:
        if page != want:
            print(f"{PAGE} is not what benchmarks/*.json give: run make perf-docs", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(want)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
