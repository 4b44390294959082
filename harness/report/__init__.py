"""What a run found, told: discrepancy reports, the .py and .c reproducers, the C calls a reviewer
reads, the Markdown summary, JSON and JUnit export, and the ranked findings of a command."""
