"""Commands, the HTTP API, authentication, background jobs and the command line."""
