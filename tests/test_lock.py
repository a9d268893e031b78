"""requirements.lock: every direct pin of the requirements files is locked at its version, and every locked
package carries hashes, so `make install` (pip --require-hashes) installs exactly this set."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if match := PIN.match(line.strip()):
            found[canonical(match.group(1))] = match.group(2)
    return found


def locked() -> dict[str, list[str]]:
    """Each locked package with its hashes."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            current = canonical(match.group(1))
            entries[current] = []
        elif current and (hashed := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            entries[current].append(hashed.group(1))
    return entries


def test_every_direct_pin_is_locked_at_its_version():
    lock = pins(ROOT / "requirements.lock")
    direct = {**pins(ROOT / "requirements.txt"), **pins(ROOT / "requirements-dev.txt")}

    assert direct
    assert {name: version for name, version in direct.items() if lock.get(name) != version} == {}


def test_every_locked_package_has_hashes():
    entries = locked()

    assert len(entries) > len(pins(ROOT / "requirements-dev.txt"))  # transitive dependencies too
    assert [name for name, hashes in entries.items() if not hashes] == []


def test_make_install_takes_the_lock_with_hashes_required():
    makefile = (ROOT / "Makefile").read_text()

    assert re.search(r"^\$\(STAMP\): requirements\.lock$", makefile, re.MULTILINE)
    assert "--require-hashes -r requirements.lock" in makefile
    assert re.search(r"^lock:", makefile, re.MULTILINE)
