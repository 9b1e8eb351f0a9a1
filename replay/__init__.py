"""Readers for recorded AIS formats and producers that replay them onto ais.raw."""
