"""Fetch the public benchmarks into the layout the course reads, and check every file's sha256.

``make benchmarks`` (``python -m genai_lab.benchmarks fetch --dest DIR``) downloads each benchmark from
its public source, lays it out as the course expects (``scifact/``, ``sst2/``, ``squad2/`` under
``DIR``, see :func:`genai_lab.paths.benchmark`) and compares every file with the sha256 recorded in
``data/benchmarks.json`` (copied from the benchmark's ``PROVENANCE.md``). A mismatch is an error that
names the file and the fix; nothing is left in place unverified. ``verify`` checks a folder you already
have. The course itself never needs the network: without the folder, notebooks skip what needs it.

The manifest describes, per benchmark, ``downloads`` (``name``, ``url``) and ``files`` to produce, each
``from`` one download and, optionally, taken as a ``member`` of a zip archive, with its first line
replaced by ``header``, or cut down to the SQuAD articles named in ``squad_titles``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

Manifest = dict[str, Any]
CHUNK = 1 << 20


class BenchmarkError(RuntimeError):
    """A benchmark could not be fetched, laid out or verified; the message names the fix."""


class ChecksumMismatch(BenchmarkError):
    """A file's sha256 differs from the one recorded in ``data/benchmarks.json``."""


def manifest_path() -> Path:
    from genai_lab.paths import data_dir

    return data_dir() / "benchmarks.json"


def load_manifest(path: str | Path | None = None) -> Manifest:
    """The benchmarks manifest (default ``data/benchmarks.json``), without its ``_about`` note."""
    manifest = json.loads(Path(path or manifest_path()).read_text(encoding="utf-8"))
    return {name: spec for name, spec in manifest.items() if not name.startswith("_")}


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str) -> None:
    """Raise :class:`ChecksumMismatch` naming the file and the fix when ``path`` is not ``expected``."""
    got = sha256_file(path)
    if got != expected:
        raise ChecksumMismatch(
            f"{path}: sha256 {got} differs from the expected {expected} (data/benchmarks.json, from the "
            "benchmark's PROVENANCE.md). The download is damaged or the source has changed: delete the "
            "file and run `make benchmarks` again; if it still differs, copy a verified benchmarks folder "
            "from another machine and point to it with BENCHMARKS=/path/to/benchmarks."
        )


def _selected(manifest: Manifest, names: list[str] | None) -> list[str]:
    names = list(names or manifest)
    unknown = [n for n in names if n not in manifest]
    if unknown:
        raise BenchmarkError(f"Unknown benchmark(s) {unknown}; choose from {sorted(manifest)}.")
    return names


def download(url: str, target: Path, timeout: float = 60.0) -> Path:
    """Download ``url`` (``https://`` or ``file://``) to ``target``, atomically (``.part`` then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            shutil.copyfileobj(response, out, CHUNK)
    except (urllib.error.URLError, OSError) as error:
        part.unlink(missing_ok=True)
        raise BenchmarkError(
            f"Could not download {url}: {error}. `make benchmarks` needs the internet; offline, copy a "
            "benchmarks folder from a machine that has one and point to it with BENCHMARKS=/path/to/benchmarks "
            "(the course runs without it, skipping only the sections that need it)."
        ) from error
    os.replace(part, target)
    return target


def _zip_member(archive: Path, member: str, target: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            try:
                source = zf.open(member)
            except KeyError:
                names = [n for n in zf.namelist() if not n.endswith("/")]
                raise BenchmarkError(
                    f"{archive.name} has no member {member!r} (it holds {names[:10]}); the archive's layout "
                    "changed: update `member` in data/benchmarks.json."
                ) from None
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
    except zipfile.BadZipFile as error:
        raise BenchmarkError(
            f"{archive} is not a valid zip archive ({error}): delete it and run `make benchmarks` again."
        ) from error


def _replace_header(source: Path, header: str, target: Path) -> None:
    with open(source, "rb") as fh, open(target, "wb") as out:
        first = fh.readline()
        newline = b"\r\n" if first.endswith(b"\r\n") else b"\n"
        out.write(header.encode("utf-8") + newline)
        shutil.copyfileobj(fh, out, CHUNK)


def _squad_subset(source: Path, titles: list[str], target: Path) -> None:
    """The articles named in ``titles``, in that order, in SQuAD's layout, as compact UTF-8 JSON."""
    squad = json.loads(source.read_text(encoding="utf-8"))
    by_title = {article["title"]: article for article in squad.get("data", [])}
    missing = [t for t in titles if t not in by_title]
    if missing:
        raise BenchmarkError(
            f"{source.name} has no article(s) {missing}: it is not the SQuAD 2.0 dev set the manifest names."
        )
    subset = {"version": squad.get("version"), "data": [by_title[t] for t in titles]}
    target.write_text(json.dumps(subset, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def build_file(spec: dict[str, Any], downloads: Path, target: Path) -> Path:
    """Produce one laid-out file from its download as ``spec`` says, then check its sha256.

    Written to a temporary sibling and renamed into place only once verified."""
    source = downloads / spec["from"]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")[1])
    try:
        if "member" in spec:
            _zip_member(source, spec["member"], tmp)
        elif "header" in spec:
            _replace_header(source, spec["header"], tmp)
        elif "squad_titles" in spec:
            _squad_subset(source, spec["squad_titles"], tmp)
        else:
            shutil.copyfile(source, tmp)
        try:
            check_sha256(tmp, spec["sha256"])
        except ChecksumMismatch as error:
            raise ChecksumMismatch(str(error).replace(str(tmp), f"{target} (built from {spec['from']})")) from None
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def verify(dest: str | Path, names: list[str] | None = None, manifest: Manifest | None = None) -> list[Path]:
    """Check every file of the chosen benchmarks under ``dest``; returns the verified paths.

    Raises :class:`BenchmarkError` listing the missing files, or :class:`ChecksumMismatch`."""
    manifest = manifest if manifest is not None else load_manifest()
    dest = Path(dest)
    checked, missing = [], []
    for name in _selected(manifest, names):
        for spec in manifest[name]["files"]:
            path = dest / name / spec["path"]
            if not path.is_file():
                missing.append(str(path))
                continue
            check_sha256(path, spec["sha256"])
            checked.append(path)
    if missing:
        raise BenchmarkError(
            f"Missing benchmark file(s): {missing}. Fetch them with `make benchmarks BENCHMARKS={dest}`."
        )
    return checked


def fetch(
    dest: str | Path,
    names: list[str] | None = None,
    manifest: Manifest | None = None,
    keep_downloads: bool = False,
    log: Any = print,
) -> list[Path]:
    """Download and lay out the chosen benchmarks under ``dest``; files already there and verified are
    kept as they are. Returns the paths of every file, all verified."""
    manifest = manifest if manifest is not None else load_manifest()
    dest = Path(dest)
    done: list[Path] = []
    for name in _selected(manifest, names):
        spec = manifest[name]
        todo = []
        for file in spec["files"]:
            path = dest / name / file["path"]
            if path.is_file() and sha256_file(path) == file["sha256"]:
                done.append(path)
            else:
                todo.append(file)
        if not todo:
            log(f"{name}: already in place and verified ({dest / name})")
            continue
        downloads = dest / ".downloads" / name
        needed = {file["from"] for file in todo}
        for item in spec["downloads"]:
            if item["name"] in needed:
                log(f"{name}: downloading {item['url']}")
                download(item["url"], downloads / item["name"])
        for file in todo:
            done.append(build_file(file, downloads, dest / name / file["path"]))
        log(f"{name}: {len(todo)} file(s) written and verified in {dest / name}")
        if not keep_downloads:
            shutil.rmtree(downloads, ignore_errors=True)
    if not keep_downloads and (dest / ".downloads").is_dir() and not any((dest / ".downloads").iterdir()):
        (dest / ".downloads").rmdir()
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genai_lab.benchmarks", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("fetch", "verify"):
        p = sub.add_parser(command)
        p.add_argument("--dest", required=True, help="the benchmarks folder (BENCHMARKS=...)")
        p.add_argument("names", nargs="*", help="benchmarks to handle (default: all)")
    sub.choices["fetch"].add_argument("--keep-downloads", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            paths = fetch(args.dest, args.names or None, keep_downloads=args.keep_downloads)
        else:
            paths = verify(args.dest, args.names or None)
    except BenchmarkError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1
    print(f"{args.command}: {len(paths)} file(s) verified under {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
