"""The jobs service's two functions: the HTTP front (``front``) and the word-stats worker (``word_stats``)."""
