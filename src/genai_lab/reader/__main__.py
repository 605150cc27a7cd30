"""``python -m genai_lab.reader eval|train ...``: see :mod:`genai_lab.reader.cli`."""

from genai_lab.reader.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
