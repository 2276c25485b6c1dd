#!/usr/bin/env bash
# Renders every SVG in FILE (an .svg, or an HTML page with inline <svg> charts) with
# rsvg-convert and fails on any that does not render, or when fewer than MIN were found.
#
#   benches/check-svg.sh .build/compare/compare.svg 1
#   benches/check-svg.sh report.html 5
set -euo pipefail
FILE=${1:?usage: check-svg.sh FILE [MIN]}
MIN=${2:-1}
command -v rsvg-convert > /dev/null || { echo "rsvg-convert is missing: install librsvg2-bin (make test-services does)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$FILE" "$work" <<'PY'
import pathlib, re, sys
text = pathlib.Path(sys.argv[1]).read_text()
for n, svg in enumerate(re.findall(r"<svg\b.*?</svg>", text, re.S)):
    pathlib.Path(sys.argv[2], f"chart-{n}.svg").write_text(svg)
PY
count=0
for svg in "$work"/chart-*.svg; do
  [ -e "$svg" ] || continue
  if ! rsvg-convert "$svg" -o "${svg%.svg}.png" 2> "$work/error"; then
    echo "$FILE: chart $count does not render: $(cat "$work/error")" >&2
    exit 1
  fi
  [ -s "${svg%.svg}.png" ] || { echo "$FILE: chart $count rendered empty" >&2; exit 1; }
  count=$((count + 1))
done
if [ "$count" -lt "$MIN" ]; then
  echo "$FILE: $count charts rendered, expected at least $MIN" >&2
  exit 1
fi
echo "$FILE: $count charts render"
