"""Data Docs where operators read them: opened from disk in headless Chromium with every network address
unreachable, the index lists each validation by table, batch and run, and links to its page."""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from inlife.quality import Validator, docs_assets

ROOT = Path(__file__).resolve().parents[1]
SUITE = {"name": "raw.cases", "expectations": [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n", "min_value": 0, "max_value": 9}},
]}


def offline_dom(page: Path, tmp_path: Path) -> str:
    """The page's DOM after its scripts ran, in headless Chromium that can resolve no host name."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed (make test installs it: make browser)"
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND",
         f"--user-data-dir={tmp_path / 'chromium'}", "--allow-file-access-from-files",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True)
    return out.stdout


def text(page: Path) -> str:
    """A page's words, without markup, scripts and styles."""
    raw = re.sub(r"<(script|style).*?</\1>", "", page.read_text(encoding="utf-8"), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", raw)))


def test_the_index_lists_and_links_every_validation_offline(spark, conf, tmp_path):
    docs = Path(conf.path("quality.data_docs_dir"))
    validator = Validator(conf)
    df = spark.createDataFrame([(1, 3), (2, 12)], "id int, n int")
    assert validator.validate("raw.cases", df.limit(1), suite=SUITE, batch="2024-01-01..2024-01-31").success
    assert not validator.validate("raw.cases", df, suite=SUITE, batch="2024-02").success
    index = Path(validator.build_docs())

    pages = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.html"))
    assert not [p for p in pages if re.search(r'(src|href)="https?://[^"]*\.(js|css)|src="https?://',
                                              (docs / p).read_text(encoding="utf-8"))]
    results = [p for p in pages if p.startswith("validations/raw/cases/")]       # the suite's name, dot by dot
    assert [(p.split("/")[3], p.split("/")[-1]) for p in results] == [
        ("raw.cases 2024-01-01..2024-01-31", "2024-01-01..2024-01-31.html"), ("raw.cases 2024-02", "2024-02.html")]

    dom = offline_dom(index, tmp_path)
    linked = sorted(set(re.findall(r'href="(validations/[^"]+\.html)"', dom)))
    assert [re.sub("%20", " ", h) for h in linked] == results
    assert all((docs / re.sub("%20", " ", h)).is_file() for h in linked)
    assert [re.search(r"Data asset: (\S+) .*Run Name (.+?) Run Time", text(docs / p)).groups() for p in results] == [
        ("raw.cases", "raw.cases 2024-01-01..2024-01-31"), ("raw.cases", "raw.cases 2024-02")]
    for page in (docs / results[1], index):       # the styles came from the docs folder: Bootstrap's classes apply
        assert (docs / docs_assets.VENDOR / "bootstrap/dist/css/bootstrap.min.css").is_file()
        assert "static/vendor/bootstrap/dist/css/bootstrap.min.css" in page.read_text(encoding="utf-8")


def test_set_up_fetched_every_asset_the_pages_load():
    assets = ROOT / "build" / "docs_assets"
    missing = [str(docs_assets.local_path(p, f)) for p, f in docs_assets.ASSETS.values()
               if not (assets / docs_assets.local_path(p, f)).is_file()]
    assert missing == []
    assert sorted(p.name for p in (assets / "fortawesome-fontawesome-free" / "webfonts").glob("*.woff2")) == [
        "fa-brands-400.woff2", "fa-regular-400.woff2", "fa-solid-900.woff2", "fa-v4compatibility.woff2"]


@pytest.mark.parametrize("depth", [0, 3])
def test_pages_point_at_the_copies_from_any_depth(tmp_path, depth):
    assets = tmp_path / "assets"
    for package, path in docs_assets.ASSETS.values():
        (assets / docs_assets.local_path(package, path)).parent.mkdir(parents=True, exist_ok=True)
        (assets / docs_assets.local_path(package, path)).write_text("x", encoding="utf-8")
    docs = tmp_path / "docs"
    page = docs.joinpath(*["d"] * depth, "p.html")
    page.parent.mkdir(parents=True)
    page.write_text('<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" '
                    'integrity="sha384-x" crossorigin="anonymous"></script>'
                    '<img src="https://great-expectations-web-assets.s3.amazonaws.com/logo.png?d=1"/>'
                    '<a href="https://greatexpectations.io/">GX</a>', encoding="utf-8")
    (docs / "static" / "images").mkdir(parents=True)
    (docs / "static" / "images" / "logo.png").write_bytes(b"png")
    assert docs_assets.localize(docs, assets) == 1
    assert page.read_text(encoding="utf-8") == (
        f'<script src="{"../" * depth}static/vendor/popper.js/dist/umd/popper.min.js"></script>'
        f'<img src="{"../" * depth}static/images/logo.png"/>'
        '<a href="https://greatexpectations.io/">GX</a>')
    assert (docs / "static/vendor/popper.js/dist/umd/popper.min.js").read_text(encoding="utf-8") == "x"
