"""The API reference's coverage check can fail: Doxygen, configured as
`make docs-check` runs it (docs/Doxyfile.in through docs/doxygen_filter.py),
reports a public function without a comment, and accepts the comment styles
the headers use (a comment above one declaration, above a run of them, and
after a struct member)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

import helpers

DOXYFILE = helpers.BIN_DIR.parent / "docs" / "Doxyfile"

pytestmark = pytest.mark.skipif(not DOXYFILE.exists() or not shutil.which("doxygen"),
                                reason="no Doxygen in this build (scripts/install-deps.sh)")


def doxygen_warnings(tmp_path, header_text: str) -> str:
    """Runs the project's Doxygen configuration over one header; returns what
    it warns about."""
    inc = tmp_path / "dareplane"
    inc.mkdir()
    (inc / "probe.h").write_text(header_text)
    config = DOXYFILE.read_text() + "\n".join([
        "", f"INPUT = {inc}", "USE_MDFILE_AS_MAINPAGE =", f"OUTPUT_DIRECTORY = {tmp_path}",
        "WARN_LOGFILE =", "GENERATE_HTML = NO", "GENERATE_XML = YES", "WARN_AS_ERROR = NO", ""])
    r = subprocess.run(["doxygen", "-"], input=config, text=True, capture_output=True,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stderr


HEADER = """/* probe.h - a header written in the project's style. */
#ifndef PROBE_H
#define PROBE_H
#include <stddef.h>

/* Options of something. */
typedef struct {
  int port;    /* a member documented after it */
  double wait; /* seconds */
} dp_probe_opts_t;

/* One comment for a run of declarations: both get it. */
DP_EXTERN int dp_probe_a(void);
DP_EXTERN int dp_probe_b(const dp_probe_opts_t *opts,
                         size_t n);

/* A documented macro. */
#define DP_PROBE_MAX 4
%s
#endif /* PROBE_H */
"""


def test_the_project_comment_styles_count_as_documentation(tmp_path):
    assert "warning" not in doxygen_warnings(tmp_path, HEADER % "")


def test_an_undocumented_function_is_reported(tmp_path):
    out = doxygen_warnings(tmp_path, HEADER % "\nDP_EXTERN int dp_probe_forgotten(void);\n")
    assert "dp_probe_forgotten" in out and "is not documented" in out


def test_an_undocumented_member_is_reported(tmp_path):
    text = HEADER.replace("  double wait; /* seconds */", "  double wait;")
    assert "Member wait" in doxygen_warnings(tmp_path, text % "")
