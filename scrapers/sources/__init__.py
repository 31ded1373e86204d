"""One module per web source, each with `fetch(spec, fetcher, tick)` and `parse(spec, fetched)`."""
