"""`sidestage`: the command-line client for CI pipelines. An HTTP client only: it never
imports Django, so it runs anywhere Python and httpx do."""
