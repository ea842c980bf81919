# Sourced by scripts/test.sh (as root on Debian): the system packages the tests use, and a local
# PostgreSQL server. Exports DCPOC_TEST_PG_URL for tests/test_postgres.py.
#   postgresql        workers on several machines share one database (tests/test_postgres.py)
#   chromium          the browser test (Playwright drives Debian's chromium; no browser download)
#   fonts-ipaexfont-gothic, poppler-utils   the Japanese PDF report and the tools that read it back
#   g++, ninja-build  build DCFormer's fused CPU decode kernel (kernels/decode.py; torch ops without)
#   slurm-wlm, munge  a single-node SLURM on localhost for tests/test_slurm.py (scripts/slurm-local.sh);
#                     exports DCPOC_TEST_SLURM_CONF
missing=()
compgen -G "/etc/postgresql/*/main" >/dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || missing+=(fonts-ipaexfont-gothic)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
command -v g++ >/dev/null || missing+=(g++)
command -v ninja >/dev/null || missing+=(ninja-build)
command -v slurmctld >/dev/null || missing+=(slurm-wlm)
command -v munged >/dev/null || missing+=(munge)
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

as_postgres() { (cd / && runuser -u postgres -- "$@"); }
PG_VERSION="$(ls /etc/postgresql | sort -V | tail -n 1)"
pg_ctlcluster "$PG_VERSION" main status >/dev/null || pg_ctlcluster "$PG_VERSION" main start
as_postgres psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname = 'dcpoc'" | grep -q 1 \
    || as_postgres psql -qc "CREATE ROLE dcpoc LOGIN PASSWORD 'dcpoc'"
as_postgres psql -qtAc "SELECT 1 FROM pg_database WHERE datname = 'dcpoc_test'" | grep -q 1 \
    || as_postgres createdb -O dcpoc dcpoc_test
export DCPOC_TEST_PG_URL="postgresql+psycopg2://dcpoc:dcpoc@127.0.0.1/dcpoc_test"
# A single-node SLURM (CPU only) under a scratch folder; tests/test_slurm.py submits to it.
if bash scripts/slurm-local.sh start >/dev/null; then
    export DCPOC_TEST_SLURM_CONF="${DCPOC_SLURM_DIR:-/tmp/dcpoc-slurm}/slurm.conf"
elif [ "${CI:-}" = "true" ]; then
    echo "error: the local SLURM did not start (see ${DCPOC_SLURM_DIR:-/tmp/dcpoc-slurm}); CI needs it" >&2
    exit 1
else
    echo "note: the local SLURM did not start; tests/test_slurm.py's cluster tests are skipped" >&2
fi
