# Sourced by run.sh: the IPN envelope parser and signature check under cargo-fuzz for a minute
# (hostile, truncated and malformed envelopes must never panic and never verify). Needs the
# nightly toolchain and cargo-fuzz; skipped with a note where they are missing.
echo "== fuzz: IPN envelopes (cargo fuzz, 60 s)"
if cargo +nightly fuzz --version >/dev/null 2>&1; then
  log=$(mktemp)
  if cargo +nightly fuzz run --fuzz-dir tests/fuzz ipn_envelope -- -max_total_time=60 >"$log" 2>&1; then
    runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | grep -o '[0-9]*')
    echo "   BENCH fuzz ipn_envelope runs=${runs:-?} crashes=0"
  else
    echo "   fuzz ipn_envelope FOUND A CRASH:"; tail -30 "$log" | sed 's/^/   /'
  fi
  rm -f "$log"
else
  echo "   skipped: cargo +nightly fuzz is not installed (rustup toolchain install nightly; cargo install cargo-fuzz)"
fi
