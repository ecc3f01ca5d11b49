"""Data Docs that work without the internet.

Great Expectations' pages load Bootstrap, jQuery, bootstrap-table, Vega and Font Awesome from public CDNs:
opened in a data centre with no internet, the index is unstyled and its list of validation results (drawn by
bootstrap-table) stays empty. Set-up fetches the same files, pinned, from the npm registry the machine's npm
is configured for (``make docs-assets``: ``python -m inlife.quality.docs_assets FOLDER``); after each render
they are copied into the docs folder (``static/vendor``) and every page is pointed at its copies.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# Each address the pages load -> (npm package@version, the file in the package). bootstrap-table's
# filter-control stylesheet is referenced at 1.19.0 and 1.19.1; 1.19.1's serves both.
ASSETS: dict[str, tuple[str, str]] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": ("bootstrap@4.3.1", "dist/css/bootstrap.min.css"),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": ("bootstrap@4.3.1", "dist/js/bootstrap.min.js"),
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery@3.7.1", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": ("popper.js@1.12.9", "dist/umd/popper.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": ("bootstrap-table@1.19.1", "dist/bootstrap-table.min.css"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": ("bootstrap-table@1.19.1", "dist/bootstrap-table.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        ("bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        ("bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.css"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        ("bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.css"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        ("bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        ("bootstrap-datepicker@1.9.0", "dist/css/bootstrap-datepicker.min.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        ("bootstrap-datepicker@1.9.0", "dist/js/bootstrap-datepicker.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        ("@fortawesome/fontawesome-free@6.6.0", "css/all.min.css"),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        ("@forevolve/bootstrap-dark@1.1.0", "dist/css/bootstrap-prefers-dark.css"),
    "https://cdn.jsdelivr.net/npm/vega@5": ("vega@5.33.1", "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": ("vega-lite@5.23.0", "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": ("vega-embed@6.29.0", "build/vega-embed.min.js"),
}
# Folders a stylesheet loads relative to itself (Font Awesome's fonts: css/../webfonts/)
FOLDERS: dict[str, tuple[str, ...]] = {"@fortawesome/fontawesome-free@6.6.0": ("webfonts/",)}
VENDOR = Path("static") / "vendor"
# Images the pages take from Great Expectations' web assets, of which the docs folder holds copies
IMAGES = re.compile(r'src="https://great-expectations-web-assets\.[^"/]+/([\w.-]+)(\?[^"]*)?"')


def local_path(package: str, path: str) -> Path:
    """Where a package's file lives under an assets folder: <package name without version>/<path>."""
    return Path(package.rsplit("@", 1)[0].lstrip("@").replace("/", "-")) / path


def wanted() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for package, path in ASSETS.values():
        out.setdefault(package, [])
        if path not in out[package]:
            out[package].append(path)
    for package, folders in FOLDERS.items():
        out[package] += list(folders)
    return out


def fetch(dest: Path, npm: str = "npm") -> None:
    """Every package's files into ``dest`` (``npm pack``: the package alone, without its dependencies)."""
    with tempfile.TemporaryDirectory() as tmp:
        packages = wanted()
        subprocess.run([npm, "pack", "--silent", "--pack-destination", tmp, *packages], check=True,
                       stdout=subprocess.DEVNULL)
        for package, paths in packages.items():
            name, version = package.rsplit("@", 1)
            archive = Path(tmp) / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    inner = member.name.split("/", 1)[1] if "/" in member.name else ""
                    if member.isfile() and any(inner == p or (p.endswith("/") and inner.startswith(p)) for p in paths):
                        target = dest / local_path(package, inner)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(tar.extractfile(member).read())
    missing = [str(local_path(p, f)) for p, f in ASSETS.values() if not (dest / local_path(p, f)).is_file()]
    if missing:
        raise FileNotFoundError(f"not in the npm packages: {', '.join(missing)}")


def complete(assets: Path) -> bool:
    return all((assets / local_path(p, f)).is_file() for p, f in ASSETS.values())


def localize(docs: Path, assets: Path) -> int:
    """Copy the assets into ``docs``/static/vendor and point every page at them; returns the pages changed.
    Pages already pointed at their copies are left as they are (each render rewrites only its own pages)."""
    vendor = docs / VENDOR
    if not vendor.is_dir():
        shutil.copytree(assets, vendor)
    changed = 0
    for page in docs.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if "https://" not in text:
            continue
        up = "../" * (len(page.relative_to(docs).parts) - 1)
        new = text
        for url, (package, path) in ASSETS.items():
            new = new.replace(f'"{url}"', f'"{up}{(VENDOR / local_path(package, path)).as_posix()}"')
        # Subresource integrity needs a CORS fetch, which a page opened from disk cannot make: the copies
        # are the pinned packages' own files, checked when set-up fetched them.
        new = re.sub(r'\s+(integrity="[^"]*"|crossorigin="[^"]*")', "", new)
        new = IMAGES.sub(lambda m: f'src="{up}static/images/{m[1]}"' if (docs / "static" / "images" / m[1]).is_file()
                         else m[0], new)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed


if __name__ == "__main__":
    fetch(Path(sys.argv[1]))
