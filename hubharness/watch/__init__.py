"""`invoke watch`: a synthetic user's journey through the hub on a schedule, exported as
Prometheus metrics, with the last journeys kept as JSON and a page under reports/watch/.

journey runs one journey with the project's hub API and kernel clients; metrics and
history record it; schedule runs journeys one at a time until told to stop.
"""
