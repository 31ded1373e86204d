"""The on-disk formats of policies/: the contract between the side that writes it (scrapers/,
`payerkb ingest-cms`, `payerkb review`) and the side that reads it (db/, the build).

The bottom of the house: these modules import nothing of payerkb's, and scrapers/, db/ and
payerkb/ all import them (docs/architecture.md; tests/test_architecture.py keeps it so).

- vocabulary.py: the words policies/ is written in (topics, requirements, statuses, payer types,
  settings ...) and the labels people read for them;
- fields.py: the value types of its fields (ISO dates, http(s) URLs, slugs, HCPCS codes);
- scraped.py: policies/scraped/fetch-log.jsonl and policies/scraped/records/<source>.yml;
- cms.py: policies/reference/cms/ (manifest.yml and one normalised CSV per CMS file);
- reference.py: lists read from policies/reference/ (the NOC codes payerkb tracks);
- files.py: writing a file of policies/ atomically;
- messages.py: validation errors in payerkb's words (files of policies/, claim lines).

The policy files themselves (payers, groups, reference, drug rules) are modelled in db/schema.py,
which builds on vocabulary.py and fields.py.
"""
