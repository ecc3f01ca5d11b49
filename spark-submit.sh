#!/usr/bin/env bash
# Submit an inlife job with spark-submit, locally or to a cluster, with the same arguments as `inlife`.
#
#   ./spark-submit.sh [--env E] [--master URL] [spark-submit options] JOB [job args]
#
#   ./spark-submit.sh smoke                                   # local[*], conf/base.yaml
#   ./spark-submit.sh --env cluster --master spark://host:7077 --executor-memory 4g \
#       --set lake.root=hdfs:///lake ingest --source all --batch-date 2024-03-01
#
# lib/inlife and jobs/ are zipped into build/inlife-pyfiles.zip and shipped with --py-files; the driver
# reads conf/ from this folder (client deploy mode). --set/--verbose go to the job, like with `inlife`.
# Environment: SPARK_HOME (default: the pyspark package's), PYSPARK_PYTHON (default: .venv/bin/python).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ -z "${PYSPARK_PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYSPARK_PYTHON="$ROOT/.venv/bin/python"; else PYSPARK_PYTHON=python3; fi
fi
export PYSPARK_PYTHON PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$PYSPARK_PYTHON}"
if [ -z "${SPARK_HOME:-}" ]; then
  SPARK_HOME="$("$PYSPARK_PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null)" || {
    echo "spark-submit.sh: no SPARK_HOME and pyspark is not importable by $PYSPARK_PYTHON (run 'make test' or 'make demo' once to create .venv)" >&2; exit 2; }
fi
export SPARK_HOME

ENV_NAME=local; MASTER=""; SUBMIT=(); JOB_OPTS=(); SETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --env) ENV_NAME="$2"; shift 2 ;;
    --master) MASTER="$2"; shift 2 ;;
    --set) JOB_OPTS+=(--set "$2"); SETS+=("$2"); shift 2 ;;
    --verbose) JOB_OPTS+=(--verbose); SUBMIT+=(--verbose); shift ;;
    --supervise) SUBMIT+=("$1"); shift ;;
    --*) [ $# -ge 2 ] || { echo "spark-submit.sh: $1 needs a value" >&2; exit 2; }
         SUBMIT+=("$1" "$2"); shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
JOB="$1"; shift
[ -f "$ROOT/jobs/${JOB//-/_}.py" ] || { echo "spark-submit.sh: no job '$JOB' in $ROOT/jobs" >&2; exit 2; }

# Package the library and the jobs for the executors.
BUILD="$ROOT/build"; mkdir -p "$BUILD"
ZIP="$BUILD/inlife-pyfiles.zip"
"$PYSPARK_PYTHON" - "$ROOT" "$ZIP" <<'PY'
import os, sys, zipfile
root, out = sys.argv[1], sys.argv[2]
tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
    for src, dst in (("lib/inlife", "inlife"), ("jobs", "inlife_jobs")):
        for d, dirs, files in os.walk(os.path.join(root, src)):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for f in sorted(files):
                if f.endswith((".py", ".properties", ".yaml")):
                    full = os.path.join(d, f)
                    z.write(full, os.path.join(dst, os.path.relpath(full, os.path.join(root, src))))
os.replace(tmp, out)
PY
MAIN="$BUILD/inlife_main.py"
printf 'import sys\nfrom inlife.cli import main\nsys.exit(main())\n' > "$MAIN"

if [ -z "$MASTER" ]; then
  MASTER="local[*]"
fi
LOCAL_OPTS=()
if [[ "$MASTER" == local* ]]; then
  # Local mode: the resources come from config, as when inlife builds the session itself.
  DRIVER_MEM="$(PYTHONPATH="$ROOT/lib" "$PYSPARK_PYTHON" -c "from inlife.config import load_config; print(load_config('$ENV_NAME', conf_dir='$ROOT/conf').get('spark.driver_memory'))")"
  LOCAL_OPTS+=(--driver-memory "$DRIVER_MEM")
fi
# Delta Lake for the driver and the executors: the jars `make` fetched into jars/ (--jars ships them), or
# --packages when lake.maven_repository is set; nothing when the job brings its own --jars or --packages
# (a cluster whose classpath has Delta Lake) or the configuration says lake.engine: delta-rs.
DELTA_OPTS=()
if [[ " ${SUBMIT[*]-} " != *" --jars "* && " ${SUBMIT[*]-} " != *" --packages "* ]]; then
  mapfile -t DELTA_OPTS < <(PYTHONPATH="$ROOT/lib" "$PYSPARK_PYTHON" -c "
import sys
from inlife.config import load_config
from inlife.session import submit_arguments
conf = load_config('$ENV_NAME', overrides=sys.argv[1:], conf_dir='$ROOT/conf')
print(chr(10).join(submit_arguments(conf)))" ${SETS[@]+"${SETS[@]}"} | sed '/^$/d')
fi

exec "$SPARK_HOME/bin/spark-submit" --master "$MASTER" --name "inlife-$JOB" \
  --conf "spark.driver.extraJavaOptions=-Dlog4j.configurationFile=file:$ROOT/lib/inlife/log4j2.properties -XX:-DontCompileHugeMethods" \
  --conf "spark.executor.extraJavaOptions=-XX:-DontCompileHugeMethods" \
  --conf "spark.executorEnv.PYSPARK_PYTHON=$PYSPARK_PYTHON" \
  --conf "spark.python.sql.dataFrameDebugging.enabled=false" \
  ${LOCAL_OPTS[@]+"${LOCAL_OPTS[@]}"} ${DELTA_OPTS[@]+"${DELTA_OPTS[@]}"} ${SUBMIT[@]+"${SUBMIT[@]}"} \
  --py-files "$ZIP" "$MAIN" "$JOB" --env "$ENV_NAME" --conf-dir "$ROOT/conf" ${JOB_OPTS[@]+"${JOB_OPTS[@]}"} "$@"
