#!/usr/bin/env bash
# Links third_party/googleapis to the google/api and google/rpc protos that the Google.Api.CommonProtos NuGet
# package ships, so that buf resolves the same imports protoc does at build time. Needs a prior restore.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n "s/.*<GoogleApiCommonProtosVersion>\([^<]*\)<.*/\1/p" "$root/Directory.Packages.props")
packages=${NUGET_PACKAGES:-$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')}
source="${packages%/}/google.api.commonprotos/$version/content/protos"
if [ ! -d "$source" ]; then
  echo "Google.Api.CommonProtos $version is not restored at $source; run 'dotnet restore' first." >&2
  exit 1
fi
mkdir -p "$root/third_party"
ln -sfn "$source" "$root/third_party/googleapis"
