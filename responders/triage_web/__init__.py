"""The triage web page (`socpipe triage serve`): analysts' incidents in a browser, actions through Triage."""
