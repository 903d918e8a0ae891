"""Benchmarks of the eventweave handler runtime against AWS Lambda Powertools and plain pydantic (``make bench``).

Each module measures one thing and returns a :class:`bench._report.Section`; ``python -m bench`` runs them all and
writes the tables to ``bench/results/``. Figures are reports, never assertions: goals are shown as met or missed,
against baselines measured in the same run on the same machine.
"""
