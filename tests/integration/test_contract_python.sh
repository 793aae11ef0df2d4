#!/usr/bin/env bash
# The wire contract from another language: contract_client.py (Debian's python3-zmq and
# python3-protobuf, with code protoc generates from proto/cdof.proto for this run) drives ingest,
# alerts and queries of a real hub over CURVE through the documented contract only.
#
#   test_contract_python.sh --hub P --keygen P [--refdir DIR]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init contract_python "$@"
it_require hub keygen
IT_INSECURE=0 # as deployed
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=/usr/bin/python3 # Debian's, where python3-zmq and python3-protobuf live
command -v protoc >/dev/null || it_fail "protoc not found (Debian package protobuf-compiler)"
"$py" -c 'import zmq, google.protobuf' 2>"$IT_DIR/py.err" ||
    it_fail "python3-zmq and python3-protobuf are needed: $(cat "$IT_DIR/py.err")"
mkdir -p "$IT_DIR/gen"
protoc -I "$here/../../proto" --python_out="$IT_DIR/gen" "$here/../../proto/cdof.proto" ||
    it_fail "protoc could not generate Python from cdof.proto"
it_hub_endpoints
# Periods complete once a few areas have reported (the test sends a handful): alerts judge them.
printf 'metric_id,threshold_percent,deadline_days\n*,3,0\n' >"$IT_DIR/periods.csv"
it_start hub "$IT_HUB" --data "$IT_DIR/hub" --ingest "$ingest" --alerts "$alerts" \
    --query "$query" --periods "$IT_DIR/periods.csv" $(it_sec hub hub)
it_wait_hub
it_sec national py-agent >/dev/null
it_sec jcdu py-reader >/dev/null
kd="$IT_DIR/keys"
timeout 120 "$py" "$here/contract_client.py" "$IT_DIR/gen" "$ingest" "$alerts" "$query" \
    "$kd/hub.pub" "$kd/national-py-agent.key" py-agent "$kd/jcdu-py-reader.key" py-reader ||
    it_fail "the Python client found the hub departing from the contract (above)"
it_stop hub
it_pass "a Python client drives ingest, alerts and queries through the documented contract"
