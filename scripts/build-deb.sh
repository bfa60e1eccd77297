#!/usr/bin/env bash
# Build the Debian packages of ipsecsvc (docs/packaging.md):
#   dist/ipsecsvc_<version>_<arch>.deb      the service: binary, Swift runtime, units, configuration, man page
#   dist/ipsecsvc-dev_<version>_all.deb     the plugin kit: C header, pkg-config module, Swift package, examples
#
#   scripts/build-deb.sh          release build, package, lintian
#   scripts/build-deb.sh --configuration debug --no-build --no-lintian --fast --output DIR
#                                 package what `swift build` built, quickly (the container tests do this)
#
# Options: --configuration release|debug (default release); --no-build (package the built binary as it
# is); --binary PATH (package this ipsecsvc binary; implies --no-build); --output DIR (default dist);
# --no-lintian; --fast (gzip -1 instead of xz -6). Environment: IPSECSVC_DEB_VERSION overrides the
# version (default: packaging/debian/changelog's, plus +git<commit time>.<commit>), IPSECSVC_DEB_MAINTAINER
# the Maintainer field.
#
# The Swift runtime is bundled in /usr/lib/ipsecsvc/swift and the binary's RUNPATH points there; it is
# not linked statically because `ipsecsvc plugin-host` loads Swift plugins, which need the one shared
# runtime (docs/packaging.md, "The Swift runtime").
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

configuration=release
build=yes
lintian=yes
output=dist
binary=
compression=(-Zxz -z6)
while [ $# -gt 0 ]; do
    case "$1" in
        --configuration) configuration=${2:?--configuration needs release or debug}; shift 2 ;;
        --no-build) build=no; shift ;;
        --binary) binary=${2:?--binary needs a path}; build=no; shift 2 ;;
        --no-lintian) lintian=no; shift ;;
        --fast) compression=(-Zgzip -z1); shift ;;
        --output) output=${2:?--output needs a directory}; shift 2 ;;
        -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "build-deb.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$configuration" in release | debug) ;; *) echo "build-deb.sh: --configuration is release or debug" >&2; exit 2 ;; esac

need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || {
            echo "build-deb.sh: $tool is missing; scripts/run-local.sh install-deps installs everything" >&2
            exit 1
        }
    done
}
need swift dpkg-deb dpkg-shlibdeps dpkg-gencontrol dpkg-parsechangelog patchelf strip gzip

started=$(date +%s)
if [ "$build" = yes ]; then
    echo "== swift build -c $configuration --product ipsecsvc"
    swift build -c "$configuration" --product ipsecsvc
fi
BIN=$(readlink -f "${binary:-$REPO/.build/$configuration/ipsecsvc}")
[ -x "$BIN" ] || { echo "build-deb.sh: $BIN is not built (swift build -c $configuration --product ipsecsvc)" >&2; exit 1; }
# <scratch>/<triple>/<configuration>/ipsecsvc: the scratch directory holds the resolved checkouts.
SCRATCH=$(dirname "$(dirname "$(dirname "$BIN")")")

# ---------------------------------------------------------------- version, names
base_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
if [ -n "${IPSECSVC_DEB_VERSION:-}" ]; then
    version=$IPSECSVC_DEB_VERSION
elif git rev-parse --git-dir >/dev/null 2>&1; then
    version="$base_version+git$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S).$(git rev-parse --short=8 HEAD)"
else
    version=$base_version
fi
maintainer=${IPSECSVC_DEB_MAINTAINER:-ipsecsvc developers <ipsecsvc-devel@example.org>}
arch=$(dpkg --print-architecture)
# Reproducible timestamps (dpkg-deb and gzip honour it).
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

WORK=$SCRATCH/deb-$(basename "$(dirname "$BIN")")
P=$WORK/debian/ipsecsvc
D=$WORK/debian/ipsecsvc-dev
rm -rf "$WORK"
mkdir -p "$WORK/debian" "$P/DEBIAN" "$D/DEBIAN"

# ---------------------------------------------------------------- ipsecsvc: program and Swift runtime
install -D -m 0755 "$BIN" "$P/usr/sbin/ipsecsvc"
toolchain_lib=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")/lib/swift/linux
runtime=$P/usr/lib/ipsecsvc/swift
install -d -m 0755 "$runtime"
# Every library the program loads from the toolchain (ldd gives the whole closure).
ldd "$BIN" | awk -v dir="$toolchain_lib/" 'index($3, dir) == 1 { print $3 }' | sort -u | while read -r lib; do
    install -m 0644 "$(readlink -f "$lib")" "$runtime/$(basename "$lib")"
done
[ -e "$runtime/libswiftCore.so" ] || { echo "build-deb.sh: no Swift runtime found under $toolchain_lib" >&2; exit 1; }
patchelf --set-rpath '$ORIGIN/../lib/ipsecsvc/swift' "$P/usr/sbin/ipsecsvc"
for lib in "$runtime"/*.so; do patchelf --set-rpath '$ORIGIN' "$lib"; done
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$P/usr/sbin/ipsecsvc" "$runtime"/*.so
install -d -m 0755 "$P/usr/lib/ipsecsvc/plugins"

# ---------------------------------------------------------------- units, configuration, group
units=()
boot_units=()
start_type_units=()
for unit in packaging/systemd/*; do
    name=$(basename "$unit")
    install -D -m 0644 "$unit" "$P/lib/systemd/system/$name"
    units+=("$name")
    # Units without [Install] are static (pulled in by another unit). Computer-startup units (wanted by
    # sysinit.target or network-pre.target) are enabled for every start type; the others follow it.
    wanted_by=$(sed -n 's/^WantedBy=//p' "$unit")
    if [ -z "$wanted_by" ]; then
        continue
    elif printf '%s\n' "$wanted_by" | grep -qE '(^| )(sysinit|network-pre)\.target( |$)'; then
        boot_units+=("$name")
    else
        start_type_units+=("$name")
    fi
done
install -D -m 0644 packaging/sysusers.d/ipsecsvc.conf "$P/usr/lib/sysusers.d/ipsecsvc.conf"
install -D -m 0644 packaging/ipsecsvc.conf "$P/etc/ipsecsvc/ipsecsvc.conf"
install -d -m 0755 "$P/etc/ipsecsvc/plugins.d"

# ---------------------------------------------------------------- man page and bash completion
# generate-manual (swift-argument-parser's tool) turns the --help texts into mdoc; built once into
# <scratch>/pkg-tools from the checkout SwiftPM already resolved.
parser_checkout=$SCRATCH/checkouts/swift-argument-parser
[ -d "$parser_checkout" ] || { echo "build-deb.sh: $parser_checkout is missing (swift package resolve)" >&2; exit 1; }
manual_tool=$SCRATCH/pkg-tools/debug/generate-manual
if [ ! -x "$manual_tool" ] || [ "$parser_checkout/Package.swift" -nt "$manual_tool" ]; then
    echo "== building generate-manual (swift-argument-parser)"
    swift build --package-path "$parser_checkout" --scratch-path "$SCRATCH/pkg-tools" --product generate-manual \
        > "$WORK/generate-manual-build.log" 2>&1 || { cat "$WORK/generate-manual-build.log" >&2; exit 1; }
fi
mkdir -p "$WORK/man"
man_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
"$manual_tool" "$BIN" --section 8 --date "$man_date" --authors "ipsecsvc developers" --output-directory "$WORK/man"
# mdoc wants .Pp, not empty lines, between paragraphs of the help texts.
sed -i 's/^$/.Pp/' "$WORK/man/ipsecsvc.8"
if man_warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$WORK/man/ipsecsvc.8" 2>&1 >/dev/null) && [ -n "$man_warnings" ]; then
    echo "build-deb.sh: the generated man page has groff warnings:" >&2
    echo "$man_warnings" >&2
    exit 1
fi
install -D -m 0644 "$WORK/man/ipsecsvc.8" "$P/usr/share/man/man8/ipsecsvc.8"
gzip -9n "$P/usr/share/man/man8/ipsecsvc.8"
install -d -m 0755 "$P/usr/share/bash-completion/completions"
# bash-completion sources the file: no #! line.
"$BIN" --generate-completion-script bash | sed '1{/^#!/d}' > "$P/usr/share/bash-completion/completions/ipsecsvc"
chmod 0644 "$P/usr/share/bash-completion/completions/ipsecsvc"

# ---------------------------------------------------------------- documentation and policies
doc=$P/usr/share/doc/ipsecsvc
install -d -m 0755 "$doc"
install -m 0644 README.md docs/*.md "$doc/"
install -m 0644 packaging/debian/copyright "$doc/copyright"
install -D -m 0644 packaging/debian/ipsecsvc.lintian-overrides "$P/usr/share/lintian/overrides/ipsecsvc"
{
    printf 'ipsecsvc (%s) unstable; urgency=medium\n\n' "$version"
    printf '  * Built from commit %s.\n\n' "$(git rev-parse HEAD 2>/dev/null || echo unknown)"
    printf ' -- %s  %s\n\n' "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
    cat packaging/debian/changelog
} > "$WORK/debian/changelog"
install -m 0644 "$WORK/debian/changelog" "$doc/changelog"
gzip -9n "$doc/changelog"
install -d -m 0755 "$P/usr/share/ipsecsvc/policies-xml"
install -m 0644 policies-xml/*.xml policies-xml/*.xsd policies-xml/README.md "$P/usr/share/ipsecsvc/policies-xml/"

# ---------------------------------------------------------------- ipsecsvc-dev
install -D -m 0644 Sources/CIPsecPluginABI/include/ipsec_plugin.h "$D/usr/include/ipsecsvc/ipsec_plugin.h"
install -d -m 0755 "$D/usr/share/pkgconfig"
sed "s|@VERSION@|$version|" packaging/dev/ipsecsvc-plugin.pc > "$D/usr/share/pkgconfig/ipsecsvc-plugin.pc"
chmod 0644 "$D/usr/share/pkgconfig/ipsecsvc-plugin.pc"
kit=$D/usr/share/ipsecsvc/plugin-kit
install -D -m 0644 packaging/dev/plugin-kit/Package.swift "$kit/Package.swift"
install -D -m 0644 Sources/CIPsecPluginABI/include/ipsec_plugin.h "$kit/Sources/CIPsecPluginABI/include/ipsec_plugin.h"
install -D -m 0644 Sources/IPsecPluginKit/IPsecPluginKit.swift "$kit/Sources/IPsecPluginKit/IPsecPluginKit.swift"
# The Swift version whose runtime ipsecsvc ships: a Swift plugin must be built with it.
swiftc --version 2>/dev/null | sed -n 's/.*Swift version \([^ ]*\).*/\1/p' | head -1 > "$kit/SWIFT_VERSION"
chmod 0644 "$kit/SWIFT_VERSION"
devdoc=$D/usr/share/doc/ipsecsvc-dev
install -D -m 0644 Examples/c-xmldir/xmldir.c "$devdoc/examples/c-xmldir/xmldir.c"
install -D -m 0644 Examples/c-xmldir/README.md "$devdoc/examples/c-xmldir/README.md"
install -D -m 0644 packaging/dev/swift-inventory/Package.swift "$devdoc/examples/swift-inventory/Package.swift"
install -D -m 0644 Examples/swift-inventory/InventoryPlugin.swift \
    "$devdoc/examples/swift-inventory/Sources/InventoryPlugin/InventoryPlugin.swift"
install -D -m 0644 Examples/swift-inventory/inventory.json "$devdoc/examples/swift-inventory/inventory.json"
install -D -m 0644 Examples/swift-inventory/README.md "$devdoc/examples/swift-inventory/README.md"
install -m 0644 docs/plugins.md "$devdoc/plugins.md"
install -m 0644 packaging/debian/copyright "$devdoc/copyright"
install -m 0644 "$WORK/debian/changelog" "$devdoc/changelog"
gzip -9n "$devdoc/changelog"

# ---------------------------------------------------------------- control files
sed "s|@MAINTAINER@|$maintainer|" packaging/debian/control > "$WORK/debian/control"
recommends=""
# strongSwan does the keying (IKE) once the Keying module exists.
if [ -d Sources/Keying ]; then
    recommends="charon-systemd, strongswan-swanctl, libcharon-extra-plugins, libstrongswan-extra-plugins"
fi
(
    cd "$WORK"
    # Its warnings (unused libraries, lib_FoundationICU's version-less name) are about the Swift
    # runtime as the toolchain builds it; they go to a log.
    dpkg-shlibdeps -Tdebian/ipsecsvc.substvars -l"$runtime" -e"$P/usr/sbin/ipsecsvc" "$runtime"/*.so \
        > shlibdeps.log 2>&1 || { cat shlibdeps.log >&2; exit 1; }
    echo "ipsecsvc:Recommends=$recommends" >> debian/ipsecsvc.substvars
    dpkg-gencontrol -pipsecsvc -Pdebian/ipsecsvc -Tdebian/ipsecsvc.substvars -fdebian/files -v"$version"
    dpkg-gencontrol -pipsecsvc-dev -Pdebian/ipsecsvc-dev -fdebian/files -v"$version"
)

fill_units() {
    sed -e "s|@UNITS@|${units[*]}|" -e "s|@BOOT_UNITS@|${boot_units[*]:-}|" \
        -e "s|@START_TYPE_UNITS@|${start_type_units[*]:-}|" "$1" > "$2"
    chmod 0755 "$2"
}
for script in postinst prerm postrm; do
    fill_units "packaging/debian/ipsecsvc.$script" "$P/DEBIAN/$script"
done
(cd "$P" && find etc -type f | sed 's|^|/|' | sort) > "$P/DEBIAN/conffiles"
chmod 0644 "$P/DEBIAN/conffiles"
for package in "$P" "$D"; do
    (cd "$package" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) \
        > "$package/DEBIAN/md5sums"
    chmod 0644 "$package/DEBIAN/md5sums"
done

# ---------------------------------------------------------------- build the .deb files
mkdir -p "$output"
output=$(cd "$output" && pwd)
rm -f "$output"/ipsecsvc_*_"$arch".deb "$output"/ipsecsvc-dev_*_all.deb
dpkg-deb --root-owner-group "${compression[@]}" --build "$P" "$output/ipsecsvc_${version}_${arch}.deb" >/dev/null
dpkg-deb --root-owner-group "${compression[@]}" --build "$D" "$output/ipsecsvc-dev_${version}_all.deb" >/dev/null
echo "== built in $(($(date +%s) - started)) s:"
ls -l "$output/ipsecsvc_${version}_${arch}.deb" "$output/ipsecsvc-dev_${version}_all.deb"

if [ "$lintian" = yes ]; then
    need lintian
    echo "== lintian"
    lintian --fail-on error,warning \
        "$output/ipsecsvc_${version}_${arch}.deb" "$output/ipsecsvc-dev_${version}_all.deb"
fi
