"""The object engine: the one seam between the planes and object storage."""
