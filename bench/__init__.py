"""Benchmarks: this server against peer S3 servers and bare reference servers.

Run with ``python -m bench``; see bench/README.md.
"""
