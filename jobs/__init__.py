"""inlife jobs: one module per job, each exposing run(spark, conf, **args). Installed as ``inlife_jobs``."""
