#!/usr/bin/env bash
# Every Documentation/*.rst must parse as reStructuredText without a
# warning: a malformed table or a short title underline renders as an
# error box (or not at all) in the kernel's Sphinx build, and docutils,
# which Sphinx is built on, reports both. Debian's python3-docutils
# (setup-host.sh) is all it needs.
. "$(dirname "$0")/lib.sh"

py=
for p in /usr/bin/python3 python3; do
	"$p" -c 'import docutils' 2>/dev/null && { py=$p; break; }
done
[ -n "$py" ] || die "checking the documentation needs python3-docutils (scripts/setup-host.sh installs it)"

cd "$WGRS_TOP"
shopt -s nullglob
docs=(Documentation/*.rst)
[ ${#docs[@]} -gt 0 ] || die "no Documentation/*.rst under $WGRS_TOP"

"$py" - "${docs[@]}" <<'PY'
import io
import sys

import docutils.core
import docutils.utils

bad = 0
for name in sys.argv[1:]:
    with open(name, encoding="utf-8") as f:
        text = f.read()
    messages = io.StringIO()
    docutils.core.publish_doctree(
        text,
        source_path=name,
        settings_overrides={
            # Report warnings and worse, stop at nothing, and keep the
            # reports out of the document so they can be counted.
            "report_level": docutils.utils.Reporter.WARNING_LEVEL,
            "halt_level": docutils.utils.Reporter.SEVERE_LEVEL + 1,
            "warning_stream": messages,
        },
    )
    report = messages.getvalue().strip()
    if report:
        bad += 1
        print(report)
    else:
        print(f"{name}: ok")
sys.exit(1 if bad else 0)
PY
