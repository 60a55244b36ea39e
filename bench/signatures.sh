#!/usr/bin/env bash
# Benchmark: what signature verification adds to `hardrun run --rm IMG true`. Starts a
# throw-away registry on 127.0.0.1 (tests/support/registry.sh), pushes the test image,
# signs it as cosign lays signatures out (an ECDSA P-256 key made with openssl, the
# simple-signing payload, the `sha256-<hex>.sig` manifest), then times with hyperfine:
#   - run without signatures required (the baseline),
#   - run with a cold verdict cache (every run asks the registry),
#   - run with a warm verdict cache (no registry round trip),
#   - `image verify` alone, cold (the tag resolved through the registry as well).
# Needs the test image (tests/support/image.sh build), docker-registry, openssl, curl.
#   bench/signatures.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
image=${HARDRUN_BENCH_IMAGE:-hardrun-test/busybox-app:1}
cargo build --release -q
bin=$PWD/target/release/hardrun
docker image inspect "$image" >/dev/null 2>&1 || { echo "bench: build the test image first (tests/support/image.sh build)" >&2; exit 1; }

work=$(mktemp -d)
cleanup() {
  tests/support/registry.sh stop "$work/registry" || true
  [ -n "${ref:-}" ] && docker image rm -f "$ref" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
reg=$(tests/support/registry.sh start "$work/registry")
repo=hardrun-bench/signed
ref=$reg/$repo:1
docker tag "$image" "$ref"
docker push -q "$ref" >/dev/null
digest=$(docker image inspect --format '{{index .RepoDigests 0}}' "$ref" | cut -d@ -f2)

# The key pair and the signature, as `cosign sign --key` would make them.
openssl ecparam -name prime256v1 -genkey -noout -out "$work/cosign.key" 2>/dev/null
openssl ec -in "$work/cosign.key" -pubout -out "$work/cosign.pub" 2>/dev/null
printf '{"critical":{"identity":{"docker-reference":"%s"},"image":{"docker-manifest-digest":"%s"},"type":"cosign container image signature"},"optional":null}' \
  "$reg/$repo" "$digest" >"$work/payload.json"
signature=$(openssl dgst -sha256 -sign "$work/cosign.key" "$work/payload.json" | base64 -w0)
upload() { # FILE -> digest
  local d loc
  d="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
  loc=$(curl -fsS -X POST -D - -o /dev/null "http://$reg/v2/$repo/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  case "$loc" in http*) ;; *) loc="http://$reg$loc" ;; esac
  case "$loc" in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$1" "$loc" >/dev/null
  echo "$d"
}
echo '{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}' >"$work/config.json"
pd=$(upload "$work/payload.json")
cd_=$(upload "$work/config.json")
cat >"$work/sig.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":$(stat -c %s "$work/config.json"),"digest":"$cd_"},
 "layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":$(stat -c %s "$work/payload.json"),"digest":"$pd",
   "annotations":{"dev.cosignproject.cosign/signature":"$signature"}}]}
JSON
curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$work/sig.json" \
  "http://$reg/v2/$repo/manifests/sha256-${digest#sha256:}.sig" >/dev/null

printf 'image:\n  signatures:\n    required: true\n    keys: [%s]\n' "$work/cosign.pub" >"$work/signed.yaml"
export XDG_CACHE_HOME=$work/cache
"$bin" -q run --rm "$ref" true  # hardrun's network, outside the measurement
"$bin" -q --profile-file "$work/signed.yaml" run --rm "$ref" true  # proves the set-up verifies
cold="rm -rf $work/cache/hardrun/signatures"
pinned="$reg/$repo@$digest"
# One --prepare per command, in order: only the cold ones forget the verdicts. The
# `image verify` rows time the verification alone (no daemon work), by digest so the
# warm one asks no registry at all.
hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/times.json" \
  --prepare true --prepare "$cold" --prepare true --prepare "$cold" --prepare true --prepare "$cold" \
  -n "run, no signature required" "$bin -q run --rm $ref true" \
  -n "run, signature required, cold cache" "$bin -q --profile-file $work/signed.yaml run --rm $ref true" \
  -n "run, signature required, warm cache" "$bin -q --profile-file $work/signed.yaml run --rm $ref true" \
  -n "image verify IMG:TAG, cold cache (tag resolved)" "$bin -q --profile-file $work/signed.yaml image verify $ref" \
  -n "image verify IMG@DIGEST, warm cache" "$bin -q --profile-file $work/signed.yaml image verify $pinned" \
  -n "image verify IMG@DIGEST, cold cache" "$bin -q --profile-file $work/signed.yaml image verify $pinned" \
  >/dev/null
python3 - "$work/times.json" <<'PY'
import json, statistics, sys
print("| | median | mean ± sd | min |")
print("|---|---|---|---|")
for r in json.load(open(sys.argv[1]))["results"]:
    t = [x * 1000 for x in r["times"]]
    print(f"| {r['command']} | {statistics.median(t):.1f} ms | {statistics.mean(t):.1f} ± {statistics.stdev(t):.1f} ms | {min(t):.1f} ms |")
PY
