#!/usr/bin/env bash
# Builds OCI image tarballs of the edge and the backend with the .NET SDK's container support:
#   deploy/images/build.sh [output directory, default .artifacts/images]
# writes edge.tar and backend.tar, OCI image layouts (load them with `skopeo copy oci-archive:edge.tar ...`,
# `podman load` or `docker load`).
#
# The SDK takes its base image from a registry, and no public one is reachable from where this is built, so the base
# is made here from Debian packages (debootstrap, bookworm minbase plus what a self-contained .NET app needs: ICU,
# OpenSSL, CA certificates, time zones), with a non-root `app` user (uid 1654, as in Microsoft's images), and served
# for the build by Debian's registry on loopback. The apps are published self-contained, so the base has no .NET.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/.artifacts/images}" && cd "${1:-$root/.artifacts/images}" && pwd)
work="$root/data/images"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base_tag=bookworm-1
mkdir -p "$work"

for tool in debootstrap umoci skopeo docker-registry; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
    echo "Building images needs $tool (apt-get install debootstrap umoci skopeo docker-registry)." >&2; exit 1; }
done

# 1. The base image, as an OCI layout; built once and kept in data/images.
if [ ! -d "$work/base/blobs" ]; then
  echo "Building the base image from Debian packages ($mirror)..."
  rm -rf "$work/rootfs" "$work/base"
  debootstrap --variant=minbase --include=ca-certificates,libicu72,libssl3,tzdata bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log"
  chroot "$work/rootfs" useradd --uid 1654 --user-group --no-create-home --home-dir /app --shell /usr/sbin/nologin app
  rm -rf "$work/rootfs"/var/cache/apt/* "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/*
  umoci init --layout "$work/base"
  umoci new --image "$work/base:$base_tag"
  umoci insert --image "$work/base:$base_tag" "$work/rootfs" /
  umoci config --image "$work/base:$base_tag" --config.user 1654:1654 --config.workingdir /app
  rm -rf "$work/rootfs"
fi

# 2. A registry on loopback for the SDK to take it from (HTTP: the SDK treats local registries as insecure).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
storage=$(mktemp -d)
cat >"$storage/config.yml" <<YAML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $storage/data } }
http: { addr: 127.0.0.1:$port }
YAML
docker-registry serve "$storage/config.yml" >"$storage/registry.log" 2>&1 &
registry=$!
trap 'kill "$registry" 2>/dev/null || true; rm -rf "$storage"' EXIT
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break
  sleep 0.1
done
skopeo copy --quiet --dest-tls-verify=false "oci:$work/base:$base_tag" "docker://127.0.0.1:$port/edgebridge/base:$base_tag"

# 3. The images: self-contained publishes on that base, written as tarballs (no daemon, no push). Built under
#    data/images/build, so that a publish for linux-x64 never touches the obj/ and bin/ of a build in progress.
version=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo dev)
publish() {
  local project=$1 name=$2
  DOTNET_CONTAINER_INSECURE_REGISTRIES="127.0.0.1:$port" dotnet publish "$root/src/$project/$project.csproj" \
    -c Release -r linux-x64 --self-contained -nologo -v quiet -t:PublishContainer \
    --artifacts-path "$work/build" \
    -p:ContainerBaseImage="127.0.0.1:$port/edgebridge/base:$base_tag" \
    -p:ContainerRepository="edgebridge/$name" -p:ContainerImageTags="\"$version;latest\"" \
    -p:ContainerArchiveOutputPath="$out/$name.tar"
}
publish EdgeBridge.Host edge
publish Trading.Backend backend
echo "Images: $out/edge.tar, $out/backend.tar (edgebridge/edge and edgebridge/backend, tags $version and latest)"
