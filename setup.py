"""inlife: PySpark jobs for in-life marketing and retention of telecom subscribers over Delta tables."""
from setuptools import find_packages, setup

setup(
    name="inlife",
    version="0.1.0",
    description="In-life marketing and retention for telecom subscribers: PySpark jobs over Delta tables",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    # The library lives in lib/inlife; the jobs in jobs/ install as the package inlife_jobs.
    package_dir={"inlife": "lib/inlife", "inlife_jobs": "jobs"},
    packages=["inlife", *(f"inlife.{p}" for p in find_packages("lib/inlife")), "inlife_jobs"],
    package_data={"inlife": ["log4j2.properties", "unified/factors.yaml"]},
    install_requires=[
        "pyspark>=4.0.0,<4.1",
        "deltalake>=1.1,<2",
        # The one pin of Delta Lake's version: `make` fetches the jars of exactly this release (deps/pom.xml).
        "delta-spark==4.0.1",
        "mlflow>=3.1,<4",
        "great-expectations>=1.5,<2",
        "pyyaml>=6,<7",
        "pydantic>=2,<3",          # the schema layer of the conf/ files (lib/inlife/yamlschema.py)
        # pyspark 4.0 is tested against pandas 2 and pyarrow >= 11
        "pandas>=2.2,<3",
        "pyarrow>=15",
        "matplotlib>=3.8,<4",
    ],
    extras_require={
        "dev": ["pytest>=8", "pytest-timeout>=2.3", "pytest-xdist>=3.5", "duckdb>=1.1", "nbclient>=0.10", "ipykernel>=6",
                "nbformat>=5", "ruff>=0.8,<1",
                "psutil>=5.9"],   # benchmarks: peak memory of the generator's processes
    },
    entry_points={"console_scripts": ["inlife=inlife.cli:main"]},
)
