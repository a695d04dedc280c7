"""Print pip constraints that hold each of celeriac's runtime dependencies at the lowest
version its range allows (``redis[hiredis]>=5.0`` gives ``redis==5.0``), read from the
installed package's metadata. ``scripts/test --lowest`` installs with them, so the floors
users are promised are the versions tested. Extras (test tools, uvloop) are left out:
they resolve to their newest."""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, requires

# name, optional [extras], then the requirement's specifiers up to any marker
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)(;.*)?$")
LOWER = re.compile(r">=\s*([0-9][^,\s]*)")


def floors(requirements: list[str]) -> list[str]:
    """``name==lowest`` for each requirement without an ``extra`` marker; an error for a
    runtime dependency with no lower bound (its oldest release would be untestable)."""
    out = []
    for line in requirements:
        match = REQUIREMENT.match(line)
        if match is None:
            raise SystemExit(f"floors.py: cannot read the requirement {line!r}")
        name, specifiers, marker = match.groups()
        if marker and "extra" in marker:
            continue
        lower = LOWER.search(specifiers)
        if lower is None:
            raise SystemExit(f"floors.py: {line!r} has no lower bound (>=): give it one")
        out.append(f"{name}=={lower.group(1)}")
    return out


def main() -> None:
    try:
        found = requires("celeriac") or []
    except PackageNotFoundError:
        raise SystemExit("floors.py: celeriac is not installed here (pip install -e .)") from None
    print("\n".join(floors(found)))


if __name__ == "__main__":
    sys.exit(main())
