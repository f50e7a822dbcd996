#!/usr/bin/env bash
# Builds vipsentinel's deb and rpm packages from one nfpm.yaml:
#   dist/vipsentinel_<version>_amd64.deb
#   dist/vipsentinel-<version>.x86_64.rpm
# where <version> comes from `git describe` (packaging/version.sh explains the mapping).
#
# Usage: packaging/build.sh            (the Makefile's `make packages` runs this)
# Environment, all optional:
#   VERSION                 package version instead of packaging/version.sh's
#   DIST                    output directory (default: dist in the repository)
#   GOARCH                  amd64 (default) or arm64
#   VIPSENTINEL_MAINTAINER  "Name <email>" for the package metadata
#   VIPSENTINEL_BINARY      package this already built binary instead of building
#                           ./cmd/vipsentinel (the e2e tests repackage one build)
# Needs Go (/usr/local/go/bin is added to PATH) and git; installs nfpm v2.45.2 with
# `go install` into ~/.cache/vipsentinel on first use.
set -euo pipefail

NFPM_VERSION=v2.45.2

die() { echo "build.sh: $*" >&2; exit 1; }

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/usr/local/go/bin:$PATH
command -v go >/dev/null || die "Go not found (install Go 1.26 into /usr/local/go)"

: "${GOARCH:=amd64}"
case $GOARCH in
amd64) rpmarch=x86_64 ;;
arm64) rpmarch=aarch64 ;;
*) die "unsupported GOARCH=$GOARCH (amd64 or arm64)" ;;
esac
: "${VERSION:=$(packaging/version.sh)}"
: "${VIPSENTINEL_MAINTAINER:=the vipsentinel authors <maintainers@vipsentinel.example>}"
: "${DIST:=$root/dist}"
# Reproducible file times in the packages: the last commit's time.
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
export GOARCH VERSION VIPSENTINEL_MAINTAINER SOURCE_DATE_EPOCH

for f in packaging/vipsentinel.conf README.md LICENSE systemd/vipsentinel.service CHANGELOG.md \
	docs/man/vipsentinel.8 docs/man/vipsentinel.conf.5 systemd/vipsentinel.catalog; do
	[ -f "$f" ] || die "missing $f"
done

# nfpm, pinned: installed once into a versioned directory.
nfpm_dir="${XDG_CACHE_HOME:-$HOME/.cache}/vipsentinel/nfpm-$NFPM_VERSION"
nfpm="$nfpm_dir/nfpm"
if [ ! -x "$nfpm" ]; then
	echo "build.sh: installing nfpm $NFPM_VERSION"
	GOBIN="$nfpm_dir" GOFLAGS= GOARCH= go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
fi

# Stage a copy of what nfpm.yaml refers to, so concurrent builds never share files.
stage=$(mktemp -d "${TMPDIR:-/tmp}/vipsentinel-pkg.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/dist" "$stage/systemd" "$stage/packaging"
cp nfpm.yaml README.md LICENSE "$stage/"
cp systemd/vipsentinel.service systemd/vipsentinel.catalog "$stage/systemd/"
cp CHANGELOG.md "$stage/"
cp -r docs monitoring "$stage/"
# Man pages and the upstream changelog are shipped gzipped (-n: no name or time, reproducible).
mkdir -p "$stage/dist/man"
for page in vipsentinel.8 vipsentinel.conf.5; do
	gzip -9n <"docs/man/$page" >"$stage/dist/man/$page.gz"
done
gzip -9n <CHANGELOG.md >"$stage/dist/changelog.gz"
cp -r packaging/deb packaging/rpm packaging/vipsentinel.sysusers packaging/vipsentinel.conf \
	packaging/copyright packaging/lintian-overrides "$stage/packaging/"

if [ -n "${VIPSENTINEL_BINARY:-}" ]; then
	cp "$VIPSENTINEL_BINARY" "$stage/dist/vipsentinel"
else
	echo "build.sh: building vipsentinel $VERSION ($GOARCH)"
	CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.buildVersion=$VERSION" \
		-o "$stage/dist/vipsentinel" ./cmd/vipsentinel
fi

# One changelog entry for this build (lintian requires a changelog; rpm gets %changelog),
# named with the full package version as dpkg and rpm show it: nfpm turns the semver
# prerelease separator into "~" (1.2.3-rc.1 -> 1.2.3~rc.1) and appends release "-1".
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
pkgversion="$(printf '%s' "$VERSION" | sed 's/-/~/')-1"
cat >"$stage/dist/changelog.yml" <<CHANGELOG
- semver: "$pkgversion"
  date: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
  packager: "$VIPSENTINEL_MAINTAINER"
  deb:
    urgency: medium
    distributions: [unstable]
  changes:
    - commit: $commit
      note: "Package build of commit $commit."
CHANGELOG

mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
deb="$DIST/vipsentinel_${VERSION}_${GOARCH}.deb"
rpm="$DIST/vipsentinel-${VERSION}.${rpmarch}.rpm"
(cd "$stage" && "$nfpm" package --config nfpm.yaml --packager deb --target "$deb" >/dev/null)
(cd "$stage" && "$nfpm" package --config nfpm.yaml --packager rpm --target "$rpm" >/dev/null)
echo "$deb"
echo "$rpm"
