"""Thin adapters that feed a `LiveSession`: WebRTC, local devices, a media file."""
