#!/usr/bin/env python3
"""doxygen_filter.py - lets Doxygen read the headers as they are written.

The public headers use plain C comments, so that they read well as text and
other tools leave them alone. Doxygen only reads its own markers, so this
INPUT_FILTER rewrites each header on the fly (the files are never changed):

- the comment that opens the file becomes the file's page (@file);
- a comment directly above a declaration (no blank line between) documents
  it; when several declarations follow it without a blank line or another
  comment, that comment documents each of them (a Doxygen member group with
  DISTRIBUTE_GROUP_DOC);
- a comment after code on the same line documents that member (/**<).

Every other comment (section rulers, notes followed by a blank line) stays
a plain comment. Line numbers are kept, so warnings point at the real lines.
Usage: doxygen_filter.py <header>  (writes the filtered text to stdout)
"""
import re
import sys

DECL = re.compile(r"^\s*(DP_EXTERN\b|typedef\b|enum\b|struct\b|#\s*define\b|[A-Za-z_][\w\s\*]*\w\s*[;,])")


def decl_end(lines, i):
    """Index of the last line of the declaration starting at lines[i]."""
    if lines[i].lstrip().startswith("#"):
        while lines[i].rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
        return i
    depth = 0
    while True:
        code = re.sub(r"/\*.*?\*/", "", lines[i]).rstrip()
        depth += code.count("{") - code.count("}") + code.count("(") - code.count(")")
        if depth <= 0 and code.endswith((";", ",", "}")):
            return i
        if i + 1 >= len(lines):
            return i
        i += 1


def main(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = list(lines)
    closing = set()  # last lines of a run of declarations -> ends a member group
    i = 0
    first = True
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)/\*(?!\*)", line)
        if not m:
            # trailing comment after code: document that member
            out[i] = re.sub(r"^(\s*\S.*?)/\*(?![*<])", r"\1/**<", line, count=1) \
                if re.match(r"^\s*[^/\s*#]", line) else line
            i += 1
            continue
        end = i
        while "*/" not in lines[end] and end + 1 < len(lines):
            end += 1
        if first and i == 0:
            # "/* name.h - what it is": the " - " would start a Markdown list
            out[i] = re.sub(r"^/\*\s*(\S+\.h)\s+-\s+", r"/** @file \1 ", line)
            first = False
            i = end + 1
            continue
        first = False
        nxt = end + 1
        if nxt < len(lines) and lines[nxt].lstrip().startswith("#if"):
            # a macro defined differently per platform: document the definition
            out[i] = m.group(1) + "/**" + line[m.end():]
            i = nxt
            continue
        if nxt < len(lines) and DECL.match(lines[nxt]):
            # the run of declarations this comment documents
            last = decl_end(lines, nxt)
            count = 1
            j = last + 1
            while j < len(lines) and lines[j].strip() and DECL.match(lines[j]) \
                    and not lines[j].lstrip().startswith(("#if", "#endif", "#else", "#elif")):
                last = decl_end(lines, j)
                count += 1
                j = last + 1
            out[i] = m.group(1) + ("/**@{*/ /**" if count > 1 else "/**") + line[m.end():]
            if count > 1:
                closing.add(last)
            i = end + 1  # go on inside the declarations (struct members)
            continue
        i = end + 1
    for k in sorted(closing):
        if not lines[k].lstrip().startswith("#"):
            out[k] += " /**@}*/"
        elif k + 1 < len(lines) and not lines[k + 1].strip():
            out[k + 1] = "/**@}*/"  # a comment would become part of the macro
        else:
            out[k + 1] = "/**@}*/ " + out[k + 1]
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
