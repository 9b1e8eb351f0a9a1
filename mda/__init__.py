"""Maritime domain awareness: the pure domain layer (no Kafka, Faust or environment access)."""

__version__ = "0.1.0"
