"""What a case is and what a run shows: cases and their regions, outcomes and how two differ,
one campaign's results, the assert sites of each side, and the compact C that regions write."""
