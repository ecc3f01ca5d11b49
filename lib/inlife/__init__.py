"""inlife: in-life marketing and retention for telecom subscribers, as PySpark jobs over Delta tables."""
__version__ = "0.1.0"
