"""reports: a sales report built by fan-out/fan-in (``FanOutFanIn``): split into chunks, summed per region by
workers, aggregated exactly once into the ``reports`` table, with progress queryable while it runs."""
