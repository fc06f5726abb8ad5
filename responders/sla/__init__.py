"""Service levels: the clocks of every incident (clocks.py), on a calendar (calendar.py), watched for
breaches (check.py) and reported to each client (report/)."""
