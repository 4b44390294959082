"""What a patch reviewer's workflow adds before and after a command: sources from git or a pipe,
``--only changed``, ``--summary``, and the exit statuses ``--bisect`` maps."""
