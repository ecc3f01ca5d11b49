#!/usr/bin/env bash
# Spark's SQL shell on inlife's tables by name, with the catalog and Delta Lake jars that jobs use locally.
#
#   ./spark-sql.sh [--env E] [--set section.key=value ...] [spark-sql options]
#   ./spark-sql.sh -e "select value_tier, count(*) from unified.customer_view where month = '2024-03' group by 1"
#
# The embedded metastore (lake.metastore_dir) admits one process at a time: close other sessions first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYSPARK_PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || { echo "spark-sql.sh: $PY not found (run 'make demo' or 'make test' once to create .venv)" >&2; exit 2; }
SPARK_HOME="${SPARK_HOME:-$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"
ENV_NAME=local; SETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --env) ENV_NAME="$2"; shift 2 ;;
    --set) SETS+=("$2"); shift 2 ;;
    *) break ;;
  esac
done
mapfile -t OPTS < <(PYTHONPATH="$ROOT/lib" "$PY" -c "
import sys
from inlife.config import load_config
from inlife.session import sql_shell_arguments
conf = load_config('$ENV_NAME', overrides=sys.argv[1:], conf_dir='$ROOT/conf')
if conf.get('lake.engine') == 'delta-rs' or not conf.get('lake.catalog'):
    sys.exit('spark-sql.sh: tables by name need the delta-spark engine and lake.catalog on')
args = sql_shell_arguments(conf)
if not args:
    sys.exit('spark-sql.sh: no Delta Lake jars in lake.jars_dir (run: make jars)')
print(chr(10).join(args))" ${SETS[@]+"${SETS[@]}"})
[ ${#OPTS[@]} -gt 0 ] || exit 2
export SPARK_HOME
exec "$SPARK_HOME/bin/spark-sql" --master "local[2]" "${OPTS[@]}" "$@"
