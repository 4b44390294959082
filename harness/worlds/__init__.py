"""Where a case runs: the port's and C's worlds, real sockets for the socket functions, the UB oracle
(the sanitize build that confirms the port's undefined-behaviour claims), and the in-flight record."""
