#!/usr/bin/env bash
# Brings up the services the test suite talks to, on a machine that may have none of them:
# Debian's RabbitMQ and PostgreSQL (installed when missing, started when their ports are closed,
# PostgreSQL opened to postgres@127.0.0.1 without a password with a `test` database), Debian's
# Chromium for the browser tests, the PDF report's fonts and checker (PDF_PACKAGES: DejaVu,
# WenQuanYi Zen Hei for CJK, Symbola for emoji and symbols, and poppler's pdftotext). Without the
# two fallback fonts the PDF report still works: it writes CJK and emoji out as [U+XXXX NAME]
# and says so on its cover. Also an S3-compatible server (versitygw, built with Go) for the S3
# file store's tests; `services.sh stop` stops it. Idempotent: quiet when everything is already up, one line per
# thing it did otherwise. Exit 0 when all is up, 1 when a service did not come up, 2 when
# something must be installed and this is not root (the command to run is printed).
#
# Services elsewhere: set ARCHIVIST_TEST_AMQP_URL / ARCHIVIST_TEST_POSTGRES_URL (and
# ARCHIVIST_TEST_S3_URL, _ACCESS_KEY, _SECRET_KEY) and export
# ARCHIVIST_SERVICES=none to skip all of this (the tests then use those URLs).
set -uo pipefail

say() { echo "services: $*"; }
fail() { echo "services: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # name port seconds
  local _
  for _ in $(seq "$3"); do port_open "$2" && return 0; sleep 1; done
  fail "$1 did not answer on 127.0.0.1:$2 within $3 s"
  return 1
}

as_root() { [ "$(id -u)" -eq 0 ]; }

PDF_PACKAGES=(fonts-dejavu-core fonts-wqy-zenhei fonts-symbola poppler-utils icc-profiles-free)

# OCR of attachment images (extraction/ocr.py): Debian's tesseract with the language packs of
# ExtractionLimits.ocr_languages: English, German, French, Spanish, Italian, Portuguese,
# Japanese and Simplified Chinese. Installed by main() below, root or not (apt_install says what
# to run when this is not root).
OCR_PACKAGES=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa
  tesseract-ocr-ita tesseract-ocr-por tesseract-ocr-jpn tesseract-ocr-chi-sim)

installed() {  # package...
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || return 1
  done
}

# Installs Debian packages that are missing: one `apt-get update` only if the plain install fails.
apt_install() {  # package...
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if ! as_root; then
    fail "missing Debian packages: ${missing[*]}; run as root:"
    fail "  apt-get update && apt-get install -y ${missing[*]}"
    exit 2
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; } \
    || { fail "could not install ${missing[*]}"; exit 1; }
  # Debian's postinst starts services through invoke-rc.d, which does nothing without systemd;
  # the functions below start what is still down.
}

newest_pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

start_rabbitmq() {
  port_open 5672 && return 0
  say "starting RabbitMQ"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for RabbitMQ 5672 120
}

start_postgresql() {
  local version hba
  version="$(newest_pg_version)"
  [ -n "$version" ] || { fail "no PostgreSQL cluster under /etc/postgresql"; return 1; }
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  # The tests connect as postgres over TCP without a password: loopback is trusted, first line
  # wins in pg_hba.conf. Written before the start so a fresh cluster needs no reload.
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    say "trusting postgres over loopback in $hba"
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    port_open 5432 && pg_ctlcluster --skip-systemctl-redirect "$version" main reload >/dev/null
  fi
  if ! port_open 5432; then
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  wait_for PostgreSQL 5432 60 || return 1
  if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" \
      | grep -q 1; then
    say "creating database test"
    createdb -h 127.0.0.1 -U postgres test
  fi
}

# The OpenSearch test node (issue 21): tests/opensearch-node/, a Maven project that starts an
# embedded OpenSearch 2.19 node. This builds it (Debian's Java 17 JDK and Maven, installed when
# missing; the first build downloads its jars from Maven Central into ~/.m2, later ones run
# offline) so the test session does not have to; the tests start their own nodes on free ports
# (tests/opensearch/node.py). Quiet when the build is newer than its sources.
OPENSEARCH_NODE_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/opensearch-node"

build_opensearch_node() {
  local stamp="$OPENSEARCH_NODE_DIR/target/.built" log
  if [ -f "$stamp" ] && [ -f "$OPENSEARCH_NODE_DIR/target/classpath.txt" ] \
      && [ -z "$(find "$OPENSEARCH_NODE_DIR/pom.xml" "$OPENSEARCH_NODE_DIR/src" -newer "$stamp" -print -quit)" ]; then
    return 0
  fi
  command -v javac >/dev/null 2>&1 || apt_install openjdk-17-jdk-headless
  command -v mvn >/dev/null 2>&1 || apt_install maven
  [ -n "${HOME:-}" ] || export HOME=/root
  say "building the OpenSearch test node (tests/opensearch-node)"
  mkdir -p "$OPENSEARCH_NODE_DIR/target"
  log="$OPENSEARCH_NODE_DIR/target/build.log"
  if (cd "$OPENSEARCH_NODE_DIR" && { mvn -q -B -o -Dstyle.color=never package >"$log" 2>&1 \
      || mvn -q -B -Dstyle.color=never package >"$log" 2>&1; }); then
    touch "$stamp"
    return 0
  fi
  fail "could not build the OpenSearch test node: $(tail -n 5 "$log")"
  return 1
}

# --- S3-compatible server for the S3 file store's tests (archive/s3_file_store.py) -----------
# versitygw (Versity S3 Gateway, Apache-2.0), built from the Go module proxy with the machine's
# Go (`go install`, about 2 minutes on a fresh machine), posix backend with versioning, so
# buckets can have Object Lock in compliance mode. Listens on 127.0.0.1:$S3_PORT only, with the
# test credentials below (ARCHIVIST_TEST_S3_* in tests/services.py). `services.sh stop` stops it.
S3_VERSION=v1.8.0
S3_PORT="${ARCHIVIST_TEST_S3_PORT:-7070}"
S3_HOME=/var/lib/archivist-test-s3
S3_BIN="/usr/local/lib/archivist/versitygw-$S3_VERSION"
S3_ACCESS_KEY=archivist-test
S3_SECRET_KEY=archivist-test-secret

start_s3() {
  port_open "$S3_PORT" && return 0
  if [ ! -x "$S3_BIN" ]; then
    command -v go >/dev/null 2>&1 || { fail "Go is needed to build the test S3 server (versitygw)"; return 1; }
    say "building versitygw $S3_VERSION (go install)"
    mkdir -p "$(dirname "$S3_BIN")"
    local build
    build="$(mktemp -d)"
    # go needs a module cache; a root shell without HOME (some CI runners) has none by default.
    [ -n "${HOME:-}" ] || export HOME=/root
    if ! GOBIN="$build" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$S3_VERSION" \
        >"$build/log" 2>&1; then
      fail "could not build versitygw $S3_VERSION: $(tail -n 3 "$build/log")"
      return 1
    fi
    mv "$build/versitygw" "$S3_BIN" && rm -rf "$build"
  fi
  mkdir -p "$S3_HOME/buckets" "$S3_HOME/versions"
  say "starting versitygw on 127.0.0.1:$S3_PORT"
  ROOT_ACCESS_KEY="$S3_ACCESS_KEY" ROOT_SECRET_KEY="$S3_SECRET_KEY" setsid "$S3_BIN" \
    --port "127.0.0.1:$S3_PORT" --quiet posix --versioning-dir "$S3_HOME/versions" "$S3_HOME/buckets" \
    >"$S3_HOME/versitygw.log" 2>&1 </dev/null &
  echo $! >"$S3_HOME/versitygw.pid"
  wait_for versitygw "$S3_PORT" 30
}

stop_s3() {
  local pid
  pid="$(cat "$S3_HOME/versitygw.pid" 2>/dev/null)" || return 0
  kill "$pid" 2>/dev/null && say "stopped versitygw ($pid)"
  rm -f "$S3_HOME/versitygw.pid"
}
# --- end of the S3 server ----------------------------------------------------------------------

# --- veraPDF, the PDF/A validator the PDF export's tests run (tests/exports/test_pdf_production.py)
# The greenfield command line of veraPDF (GPLv3+/MPLv2+), org.verapdf.apps:greenfield-apps from
# Maven Central: one jar with its dependencies, run as
#   java -cp "$VERAPDF_JAR" org.verapdf.apps.GreenfieldCliWrapper --flavour 2b FILE.pdf
# Needs Java and Maven (Debian's default-jre-headless and maven, installed when missing). The
# sRGB ICC profile the PDFs embed as their PDF/A output intent is Debian's icc-profiles-free.
VERAPDF_VERSION=1.28.2
VERAPDF_JAR="/usr/local/lib/archivist/verapdf-greenfield-$VERAPDF_VERSION.jar"

install_verapdf() {
  [ -f "$VERAPDF_JAR" ] && return 0
  command -v java >/dev/null 2>&1 || apt_install default-jre-headless
  command -v mvn >/dev/null 2>&1 || apt_install maven
  say "fetching veraPDF $VERAPDF_VERSION (org.verapdf.apps:greenfield-apps, Maven Central)"
  local build
  build="$(mktemp -d)"
  [ -n "${HOME:-}" ] || export HOME=/root
  if ! mvn -B -q dependency:copy "-Dartifact=org.verapdf.apps:greenfield-apps:$VERAPDF_VERSION" \
      "-DoutputDirectory=$build" >"$build/log" 2>&1; then
    fail "could not fetch veraPDF $VERAPDF_VERSION: $(tail -n 3 "$build/log")"
    rm -rf "$build"
    return 1
  fi
  mkdir -p "$(dirname "$VERAPDF_JAR")"
  mv "$build/greenfield-apps-$VERAPDF_VERSION.jar" "$VERAPDF_JAR" && rm -rf "$build"
}
# --- end of veraPDF --------------------------------------------------------------------------------

main() {
  if [ "${ARCHIVIST_SERVICES:-local}" = "none" ]; then
    return 0
  fi
  if [ "${1:-}" = "stop" ]; then
    stop_s3
    return 0
  fi
  apt_install "${OCR_PACKAGES[@]}"  # OCR for extraction/ (before the early return below)
  if ! as_root; then
    # A normal user cannot install or start the system's services; if all is up, fine.
    if port_open 5672 && port_open 5432 && port_open "$S3_PORT" && command -v chromium >/dev/null 2>&1 \
        && installed "${PDF_PACKAGES[@]}" && [ -f "$VERAPDF_JAR" ]; then
      return 0
    fi
    fail "RabbitMQ, PostgreSQL, the test S3 server, chromium, the PDF fonts or veraPDF are missing or down, and only root can fix that; run as root:"
    fail "  $(cd "$(dirname "$0")" && pwd)/services.sh"
    exit 2
  fi
  apt_install rabbitmq-server postgresql chromium "${PDF_PACKAGES[@]}"
  local status=0
  start_postgresql || status=1
  start_rabbitmq || status=1
  build_opensearch_node || status=1
  start_s3 || status=1
  install_verapdf || status=1
  return "$status"
}

main "$@"
