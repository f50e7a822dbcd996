#!/bin/sh
# Prints the package version of the checkout, derived from `git describe` so that it sorts
# correctly in dpkg and rpm:
#   v1.2.3 (tagged commit)         -> 1.2.3
#   v1.2.3-4-gabc1234              -> 1.2.3+git.4.gabc1234   (after 1.2.3, before 1.2.4)
#   v1.2.3-rc.1-4-gabc1234         -> 1.2.3-rc.1+git.4.gabc1234
#   no v* tag, 12 commits          -> 0.0.0+git.12.gabc1234
#   uncommitted changes            -> ... + ".dirty" (or "+dirty")
# Raw `git describe` output would become the prerelease 1.2.3~4-g... and sort BEFORE 1.2.3.
#
# Usage: version.sh                         the checkout's version
#        version.sh DESCRIBE COUNT HASH     map the given describe output, commit count and
#                                           short hash (DESCRIBE may be empty: no tag)
set -eu

map() {
	describe=$1 count=$2 hash=$3
	dirty=
	case $describe in
	*-dirty) dirty=1 describe=${describe%-dirty} ;;
	esac
	if [ -z "$describe" ]; then
		v="0.0.0+git.$count.g$hash"
	else
		v=$(printf '%s\n' "$describe" | sed -E 's/^v//; s/-([0-9]+)-g([0-9a-f]+)$/+git.\1.g\2/')
	fi
	if [ -n "$dirty" ]; then
		case $v in
		*+*) v="$v.dirty" ;;
		*) v="$v+dirty" ;;
		esac
	fi
	printf '%s\n' "$v"
}

if [ $# -eq 3 ]; then
	map "$1" "$2" "$3"
	exit 0
fi
if [ $# -ne 0 ]; then
	echo "usage: $0 [DESCRIBE COUNT HASH]" >&2
	exit 2
fi
cd "$(dirname "$0")/.."
describe=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || true)
if [ -z "$describe" ] && [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	describe=-dirty # untagged and modified
fi
map "$describe" "$(git rev-list --count HEAD)" "$(git rev-parse --short=7 HEAD)"
