"""The Performance page from the stored benchmark runs (``make perf-docs``), and a new stored run.

python benchmarks/perf_docs.py            # writes docs/performance.md's tables and the README's Performance
                                          # section from benchmarks/*.json
python benchmarks/perf_docs.py --check    # exit 1 if either is not what the stored runs give
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
README = HERE.parent / "README.md"  # its Performance section: the targets of every run, without the causes
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
    docs = benchdoc.load(runs())
    pages = {
        PAGE: lambda p: benchdoc.update(p, docs),
        README: lambda p: benchdoc.update(p, docs, benchdoc.summary(docs)),
    }
    stale = 0
    for path, write in pages.items():
        page = path.read_text()
        want = write(page)
        if "--check" in argv:
            if page != want:
                print(f"{path} is not what benchmarks/*.json give: run make perf-docs", file=sys.stderr)
                stale = 1
        elif page != want:
            path.write_text(want)
    return stale


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
