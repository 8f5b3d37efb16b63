"""Search: the query language, the SearchBackend protocol and its Tantivy and Elasticsearch backends."""
