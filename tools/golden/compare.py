"""Set a regenerated golden file against the stored one: per array, the largest difference,
absolute and relative to the largest stored value. Exit status 1 when any exceeds ``--rtol``
(default 1e-9: the goldens are float64 maths, so a regenerated file agrees to rounding). A
``.json`` file must be equal, but for its floats (within ``--rtol`` of each other).

    python tools/golden/compare.py NEW.npz tests/golden/lpips.npz [--rtol 1e-9]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new")
    parser.add_argument("stored")
    parser.add_argument("--rtol", type=float, default=1e-9)
    args = parser.parse_args()
    if args.stored.endswith(".json"):
        return _compare_json(args.new, args.stored, args.rtol)
    with np.load(args.new) as new, np.load(args.stored) as stored:
        if set(new.files) != set(stored.files):
            print(f"arrays differ: new {sorted(new.files)}, stored {sorted(stored.files)}")
            return 1
        worst = 0.0
        for name in stored.files:
            if stored[name].dtype.kind in "US":  # texts: equal or not
                same = new[name].shape == stored[name].shape and bool(np.all(new[name] == stored[name]))
                worst = max(worst, 0.0 if same else np.inf)
                print(f"{name:28s} {'equal' if same else 'DIFFERENT'}")
                continue
            a, b = new[name].astype(np.float64), stored[name].astype(np.float64)
            if a.shape != b.shape:
                print(f"{name}: shape {a.shape}, stored {b.shape}")
                return 1
            scale = max(float(np.abs(b).max()), np.finfo(np.float64).tiny)
            difference = float(np.abs(a - b).max())
            worst = max(worst, difference / scale)
            print(f"{name:28s} max |new - stored| {difference:.3e}  relative to max |stored| {difference / scale:.3e}")
    print("MATCH" if worst <= args.rtol else f"DIFFER (worst {worst:.3e} > {args.rtol:.0e})")
    return 0 if worst <= args.rtol else 1


def _compare_json(new_path: str, stored_path: str, rtol: float) -> int:
    import json
    import math

    differences: list[str] = []

    def walk(new, stored, where: str) -> None:
        if isinstance(stored, dict) and isinstance(new, dict) and new.keys() == stored.keys():
            for key in stored:
                walk(new[key], stored[key], f"{where}.{key}")
        elif isinstance(stored, list) and isinstance(new, list) and len(new) == len(stored):
            for index, (a, b) in enumerate(zip(new, stored)):
                walk(a, b, f"{where}[{index}]")
        elif isinstance(stored, float) and isinstance(new, (int, float)):
            if not math.isclose(new, stored, rel_tol=rtol, abs_tol=rtol):
                differences.append(f"{where}: {new} != {stored}")
        elif new != stored:
            differences.append(f"{where}: differs")

    with open(new_path) as new, open(stored_path) as stored:
        walk(json.load(new), json.load(stored), "")
    print("\n".join(differences[:20]) if differences else "MATCH")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
