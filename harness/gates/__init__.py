"""The gates: coverage (every uncovered branch listed with its reason), mutation (every mutant
caught or listed), and the narrowing mutants of ``ci/narrowing.py``."""
