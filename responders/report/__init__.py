"""The monthly reports: a client's (its incidents against the service levels it bought) and the
provider's own (compliance per client, analyst workload). figures.py computes, gather.py reads
Elasticsearch, charts.py draws, html.py and pdf.py lay out."""
