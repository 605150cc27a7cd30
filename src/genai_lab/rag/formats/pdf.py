"""PDF: one document per page with text (``pypdf``); ``page`` is the 1-based page number.

Figures are not read (no OCR): a page records how many images it holds in ``metadata["images"]``.
pypdf raises many kinds of exceptions on hostile or broken files (its own errors, ``ValueError``,
``KeyError``, ``NotImplementedError`` for filters it lacks, ``LimitReachedError`` for compression
bombs, ...): every one of them becomes a :class:`DocumentLoadError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

from genai_lab.rag.formats.base import DocumentLoadError, Unit, describe, quiet

_REPAIR = "Re-export or repair it (for example `qpdf in.pdf out.pdf`)"


def load_pdf(path: Path, source: str, title: str, info: dict) -> list[Unit]:
    """The pages of a PDF that hold text, as ``(text, {"page": n, "images": k})``."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    try:
        with quiet("pypdf"):  # pypdf logs repair attempts; the error below says it all
            reader = PdfReader(path)
            if reader.is_encrypted and not reader.decrypt(""):
                raise DocumentLoadError(
                    source,
                    "the PDF is encrypted with a password. Decrypt it first (for example "
                    "`qpdf --decrypt --password=PASSWORD in.pdf out.pdf`) or remove it from the folder.",
                )
            units: list[Unit] = []
            n_pages = len(reader.pages)
            for number, pdf_page in enumerate(reader.pages, start=1):
                text = (pdf_page.extract_text() or "").strip()
                try:
                    images = len(pdf_page.images)
                except Exception:  # an image pypdf cannot decode does not spoil the page's text
                    images = 0
                if text:
                    units.append((text, {"page": number, "images": images}))
    except DocumentLoadError:
        raise
    except LimitReachedError as exc:
        raise DocumentLoadError(
            source,
            f"the PDF expands beyond pypdf's safety limit ({describe(exc)}); it may be a compression bomb. "
            "Check where it came from; if it is genuine, re-export it (for example `qpdf in.pdf out.pdf`).",
        ) from exc
    except NotImplementedError as exc:
        raise DocumentLoadError(
            source,
            f"the PDF uses a feature pypdf cannot read ({describe(exc)}). {_REPAIR}, or print it to a new PDF.",
        ) from exc
    except RecursionError as exc:
        raise DocumentLoadError(source, f"the PDF's object tree is nested too deeply to read. {_REPAIR}.") from exc
    except Exception as exc:  # pypdf on a corrupt file: PdfReadError, ValueError, KeyError, struct.error, ...
        raise DocumentLoadError(
            source, f"the PDF is corrupt or not a PDF ({describe(exc)}). {_REPAIR}."
        ) from exc
    if not units and n_pages:
        raise DocumentLoadError(
            source, "the PDF has no extractable text (a scan?). Run OCR on it first, e.g. `ocrmypdf`."
        )
    return units
