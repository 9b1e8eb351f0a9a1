"""Faust/Kafka wiring: settings, the embedded broker, topics, agents, metrics and the CLI."""
