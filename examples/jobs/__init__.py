"""Jobs API: ``POST /jobs`` answers 202 with a status URL, a queue worker does the slow work, ``GET /jobs/{id}``
answers 202 until the job is done and then its result. See README.md."""
