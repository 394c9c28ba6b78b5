"""The repository stands on its own: no file points a reader at documents or data outside
it (the product contract is docs/contract.md, the source data is in data/)."""

import re
import subprocess
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# What a pointer outside the repository looks like: the parent directory's shared folder,
# or the workplace documents the project's own docs replace.
OUTSIDE = re.compile(r"\.\./shared|/shared/(?:data|SPEC|STYLE|PITFALLS)|\b(?:PITFALLS|STYLE)\.md\b")
TEXT = {".py", ".md", ".html", ".js", ".css", ".sh", ".conf", ".service", ".toml", ".cfg",
        ".ini", ".txt", ".json", ".yml", ".yaml", ""}


def tracked_files():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in out.splitlines()]


def test_no_file_points_outside_the_repository():
    here = Path(__file__).resolve()
    offenders = []
    for path in tracked_files():
        if path.resolve() == here or path.suffix not in TEXT or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert offenders == []


def test_the_contract_and_the_source_data_are_in_the_repository():
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    for section in ("## The REST API", "## Live updates", "### State machines", "## Service levels"):
        assert section in contract
    sources = (ROOT / "data" / "SOURCES.md").read_text(encoding="utf-8")
    for name in ("astana_streets.json", "astana_intersections.json", "malls.geojson",
                 "sf_fire_calls_for_service.csv"):
        assert (ROOT / "data" / f"{name}.gz").is_file() and name in sources
