"""List the files of a knowledge-base folder for :func:`genai_lab.rag.loaders.load_documents`.

The walk never leaves the folder and never blocks:

- hidden files and folders (``.git``, ``.DS_Store``) and the excluded names are not listed;
- a symbolic link is followed only when its target is a regular file inside the folder. A link that
  points outside the folder, a dangling link, a link loop and a link to a folder are reported, not
  followed;
- anything that is not a regular file (a named pipe, a socket, a device) is reported, never opened:
  reading a pipe would wait forever;
- a sub-folder that cannot be listed is reported.

Each reported entry carries the reason, which the loader turns into a ``LoadError``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


@dataclass(frozen=True)
class Entry:
    """One file found in the folder: ``rel`` is its POSIX path relative to the folder; ``problem``
    says why it cannot be loaded (``None`` when it can)."""

    path: Path
    rel: str
    problem: str | None = None


def not_regular(mode: int) -> str | None:
    """Why a file of this ``st_mode`` cannot be read as a document, or ``None`` for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
    return f"{kind}, not a regular file; it is not read (reading it could block). Copy its content to a file."


def _link_problem(path: Path, root: Path) -> tuple[Path | None, str | None]:
    """The target of the symbolic link ``path`` if it may be loaded, else why not."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return None, f"a dangling symbolic link (to {os.readlink(path)!r}, which does not exist); fix or remove it."
    except (RuntimeError, OSError) as exc:  # a loop: RuntimeError before Python 3.13, OSError(ELOOP) after
        return None, f"a symbolic link that cannot be resolved ({exc}); a link loop? Fix or remove it."
    if not target.is_relative_to(root):
        return None, (
            f"a symbolic link to {target}, outside the folder; links are followed only inside it. "
            "Copy the file into the folder if it belongs to the knowledge base."
        )
    if target.is_dir():
        return None, "a symbolic link to a folder; it is not followed (the folder's files load from their own path)."
    return target, None


def walk_folder(folder: str | Path, exclude: tuple[str, ...] = ()) -> list[Entry]:
    """Every file under ``folder`` (recursively), sorted by relative path, with its problem if any."""
    root = Path(folder).resolve()
    entries: list[Entry] = []

    def unreadable(error: OSError) -> None:
        rel = Path(error.filename).relative_to(root).as_posix() if error.filename else "."
        entries.append(Entry(Path(error.filename or root), rel, f"the folder cannot be listed ({error.strerror})."))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
        here = Path(dirpath)
        links_to_dirs = [d for d in dirnames if (here / d).is_symlink()]  # listed, never descended into
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in links_to_dirs)
        for name in sorted([*filenames, *links_to_dirs]):
            if name.startswith(".") or name in exclude:
                continue
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                target, problem = _link_problem(path, root)
                entries.append(Entry(target or path, rel, problem))
                continue
            try:
                problem = not_regular(path.lstat().st_mode)
            except OSError as exc:
                problem = f"the file cannot be inspected ({exc.strerror}); check its permissions."
            entries.append(Entry(path, rel, problem))
    return sorted(entries, key=lambda e: e.rel)
