"""The harness in other tools: the pytest plugin (a pytest11 entry point), and libFuzzer through
atheris (``harness fuzz`` and the process each fuzzed function runs in)."""
