#!/usr/bin/env python3
"""tutorial_sync.py - copies the tutorial's files into docs/tutorial.md.

Each code block of the tutorial that follows a line `<!-- file: PATH -->`
(PATH relative to docs/) shows that file whole. After editing a step, run
this to refresh the text; tests/interop/test_tutorial.py fails while the text
and the files differ."""
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent
BLOCK = re.compile(r"(<!-- file: (\S+) -->\n```\w*\n)(.*?)(```\n)", re.S)


def main():
    md = DOCS / "tutorial.md"
    text = md.read_text()
    new = BLOCK.sub(lambda m: m.group(1) + (DOCS / m.group(2)).read_text() + m.group(4), text)
    if new != text:
        md.write_text(new)
        print(f"updated {md}")


if __name__ == "__main__":
    main()
