"""The one judge step that turns two runs of a case into a verdict, the batched form of it, the
known differences it accepts (``known/TAG.toml``), and which functions a C source has to judge."""
