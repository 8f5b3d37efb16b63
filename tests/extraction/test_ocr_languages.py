"""The OCR languages the extraction asks tesseract for are the packs scripts/services.sh installs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from extraction.result import ExtractionLimits

SERVICES = Path(__file__).resolve().parents[2] / "scripts" / "services.sh"


def _packs_installed_by_services() -> set[str]:
    text = SERVICES.read_text(encoding="utf-8")
    listed = re.search(r"^OCR_PACKAGES=\(([^)]*)\)", text, flags=re.MULTILINE)
    assert listed
    packages = listed.group(1).split()
    assert "tesseract-ocr" in packages
    return {
        package.removeprefix("tesseract-ocr-").replace("-", "_") for package in packages if package != "tesseract-ocr"
    }


def test_every_default_ocr_language_has_its_pack_in_services_sh() -> None:
    languages = set(ExtractionLimits().ocr_languages.split("+"))

    assert languages == _packs_installed_by_services()
    assert {"eng", "deu", "fra", "spa", "jpn", "chi_sim"} <= languages


def test_tesseract_here_has_every_default_language() -> None:
    listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=True).stdout

    assert set(ExtractionLimits().ocr_languages.split("+")) <= set(listed.split())
