"""Each event followed through its lifecycle (received, processing, retrying, then
delivered or failed), pure: events in, counts and findings out, time a parameter.

``tracker`` holds an operation's events in flight and turns status messages into counts
(one event is one call, however many status messages it sends); ``durations`` learns how
long the operation's events normally take; ``history`` remembers failures in a row and by
time of day; ``findings`` turns the state at a window boundary into statuses and reasons.
"""
