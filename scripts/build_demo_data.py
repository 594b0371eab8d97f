"""Write data/demo/ from the simulator's demo scenario (re-run after changing the simulator).

python scripts/build_demo_data.py          # write
python scripts/build_demo_data.py --check  # exit 1 if data/demo/ is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from btcwatch.demo_data import demo_files, demo_scenario

OUT = Path(__file__).resolve().parents[1] / "data" / "demo"


def main() -> int:
    files = demo_files(demo_scenario())
    if "--check" in sys.argv:
        stale = [
            n
            for n, text in files.items()
            if not (OUT / n).exists() or (OUT / n).read_text(encoding="utf-8") != text
        ]
        for name in stale:
            print(f"data/demo/{name} is out of date: run scripts/build_demo_data.py")
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote data/demo/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
