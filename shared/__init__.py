"""Defender Contact Monitor: checks every subscription's Defender for Cloud security contacts."""
