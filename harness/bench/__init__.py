"""Measurements, not tests: cases per second per engine, the port as a library against C, what
``diff`` costs beside ``run``, and how soon ``fuzz`` finds a planted difference."""
