"""Shippers: read logs (file tail, syslog, HTTP, stdin) and publish them, unparsed, as RawRecords.

A shipper does no parsing. It stamps each record with the tenant from its own configuration or the
client's credentials, the source, the parser to use later and the receive time, and dead-letters what
it cannot ship (bytes that are not UTF-8, oversized records) right away.
"""
