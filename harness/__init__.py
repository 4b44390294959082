"""iovconf's differential harness: twin worlds, outcomes, strategies, campaigns."""
