#!/usr/bin/env bash
# What access rules and the audit trail cost one `tools/call echo` over HTTP, in
# instructions (callgrind, deterministic; see benches/request-cost.sh), reuse and fresh:
#
#   open      no auth, no rules (the default)
#   token     a named static token, no rules
#   rules     the same token under 100 access rules (99 for other teams, its own last)
#   audit     the same, with the audit trail writing to a file
#
#   benches/access-cost.sh [BASELINE_BERTH]   with a baseline binary, "open" runs it too
#
# Builds the release binary first. Results: .build/access-cost/results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
cargo build --release -q -p berth --bin berth
BERTH="$CARGO_TARGET_DIR/release/berth"
OUT=.build/access-cost
rm -rf "$OUT" && mkdir -p "$OUT"
printf '[[auth.tokens]]\nname = "ci"\ntoken = "bench-token"\n' > "$OUT/token.toml"
cp "$OUT/token.toml" "$OUT/rules.toml"
for n in $(seq 0 98); do
  printf '[[access.rules]]\nidentities = ["team-%d"]\nplugins = ["plugin-%d"]\n' "$n" "$n" >> "$OUT/rules.toml"
done
printf '[[access.rules]]\nidentities = ["ci"]\ntools = ["ech*"]\n' >> "$OUT/rules.toml"
cp "$OUT/rules.toml" "$OUT/audit.toml"
printf '[audit]\nfile = "%s/audit.jsonl"\n' "$PWD/$OUT" >> "$OUT/audit.toml"

run() { # TAG CONFIG TOKEN BINARY...
  local tag=$1 config=$2 token=$3
  shift 3
  TAG=$tag EXTRA_CONFIG=$config TOKEN=$token benches/request-cost.sh "$@" | tee -a "$OUT/results.txt"
}
run open "" "" ${1:+"$1"} "$BERTH"
run token "$OUT/token.toml" bench-token "$BERTH"
run rules "$OUT/rules.toml" bench-token "$BERTH"
run audit "$OUT/audit.toml" bench-token "$BERTH"
echo "audit lines written: $(wc -l < "$OUT/audit.jsonl")"
